"""The issue's security tests against the running listener: every forgery fails closed, and
none reaches the origin (asserted at the origin, not only at the edge)."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from access_stack import TEAM, Stack
from cryptography.hazmat.primitives import serialization
from test_access_oidc_flow import login

from ramparts.identity.tokens import Identity, TokenType, issue
from ramparts.store.repositories import identity_users, versions

APP_A = "a.acme.localhost"
APP_B = "b.acme.localhost"
JSON = {"Accept": "application/json"}


async def _setup(stack: Stack) -> tuple[str, str]:
    aud_a = stack.add_app("app-a", APP_A)
    aud_b = stack.add_app("app-b", APP_B)
    stack.add_idp("mock", "oidc", {"issuer": stack.oidc_issuer, "client_id": "ramparts"}, "s")
    for app in ("app-a", "app-b"):
        stack.add_policy(app, "everyone-logged-in", "allow", ["everyone"])
    await stack.set_oidc_user("alice", {"email": "alice@example.com"})
    return aud_a, aud_b


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_tokens(stack: Stack, aud_a: str, aud_b: str) -> dict[str, str]:
    """Every kind of bad token the issue lists, for application A."""
    keys = stack.current().access.keys
    assert keys.signing is not None
    issuer = stack.url(TEAM, "").rstrip("/")
    now = dt.datetime.now(dt.UTC)
    who = Identity("u-1", "alice@example.com", "idp", "oidc")

    def signed(**kw: object) -> str:
        args: dict[str, object] = dict(
            type=TokenType.APP,
            issuer=issuer,
            audience=aud_a,
            now=now,
            lifetime=dt.timedelta(hours=1),
            identity=who,
        )
        args.update(kw)
        return issue(keys, **args)  # type: ignore[arg-type]

    good = signed()
    head, body, sig = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    public_pem = keys.public_keys[keys.signing.kid].public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_head = b64(json.dumps({"alg": "HS256", "kid": keys.signing.kid}).encode())
    mac = hmac.new(public_pem, f"{hs_head}.{body}".encode(), "sha256").digest()
    none_head = b64(json.dumps({"alg": "none", "kid": keys.signing.kid}).encode())
    tampered = b64(json.dumps({**claims, "email": "root@example.com"}).encode())
    unknown_kid = b64(json.dumps({"alg": "RS256", "kid": "not-a-key"}).encode())
    return {
        "alg-none": f"{none_head}.{body}.",
        "hs256-with-public-key": f"{hs_head}.{body}.{b64(mac)}",
        "wrong-aud": signed(audience=aud_b),
        "wrong-iss": signed(issuer="https://evil.localhost"),
        "expired": signed(now=now - dt.timedelta(hours=3)),
        "not-yet-valid": signed(now=now + dt.timedelta(hours=1)),
        "unknown-kid": f"{unknown_kid}.{body}.{sig}",
        "tampered-payload": f"{head}.{tampered}.{sig}",
        "team-session-on-app-host": signed(type=TokenType.TEAM, audience=TEAM),
        "hand-over-token-as-session": signed(type=TokenType.TRANSFER),
    }


async def test_forged_tokens_never_reach_the_origin(stack: Stack) -> None:
    aud_a, aud_b = await _setup(stack)
    tokens = forged_tokens(stack, aud_a, aud_b)
    async with stack.browser() as client:
        for name, token in tokens.items():
            for how in ("cookie", "header", "token-header"):
                headers = dict(JSON)
                if how == "cookie":
                    headers["Cookie"] = f"CF_Authorization={token}"
                elif how == "header":
                    headers["Cf-Access-Jwt-Assertion"] = token  # clients cannot assert
                else:
                    headers["Cf-Access-Token"] = token
                r = await client.get(stack.url(APP_A, "/secret"), headers=headers)
                assert r.status_code == 401, (name, how, r.status_code)
            r = await client.get(
                stack.url(APP_A, "/secret"),
                headers={"Cookie": f"CF_Authorization={token}", "Accept": "text/html"},
            )
            assert r.status_code == 302, name
    assert stack.origin.requests == []


async def test_app_a_session_replayed_on_app_b(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        r = await login(browser, stack, stack.url(APP_A, "/"), "alice")
        assert r.status_code == 200
        token = next(c.value for c in browser.cookies.jar if c.domain == APP_A)
    reached = len(stack.origin.requests)
    async with stack.browser() as thief:
        r = await thief.get(
            stack.url(APP_B, "/"), headers={**JSON, "Cookie": f"CF_Authorization={token}"}
        )
        assert r.status_code == 401
        r = await thief.get(
            stack.url(APP_A, "/"), headers={**JSON, "Cookie": f"CF_Authorization={token}"}
        )
        assert r.status_code == 200  # the same cookie is good on its own app
    assert len(stack.origin.requests) == reached + 1
    assert all(q["headers"]["host"].startswith(APP_A) for q in stack.origin.requests)


async def test_revoked_user_sessions_are_refused(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        await login(browser, stack, stack.url(APP_A, "/"), "alice")
        reached = len(stack.origin.requests)
        with stack.db.transaction() as s:
            identity_users.revoke_sessions(s, "alice@example.com")
            versions.bump(s)
        stack.refresh()
        r = await browser.get(stack.url(APP_A, "/"), headers=JSON)
        assert r.status_code == 401
        assert len(stack.origin.requests) == reached


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "http:evil.example",
        "/ok\r\nLocation: https://evil.example",
        "javascript:alert(1)",
    ],
)
async def test_login_return_url_cannot_leave_the_app(stack: Stack, target: str) -> None:
    aud_a, _ = await _setup(stack)
    async with stack.browser() as browser:
        url = stack.url(TEAM, f"/cdn-cgi/access/login/{APP_A}")
        params = {"kid": aud_a, "redirect_url": target, "nonce": "n" * 32}
        r = await browser.get(url, params=params)
        assert r.status_code == 200  # the login page; log in from it
        await login(browser, stack, str(r.url), "alice")
        # follow the same link with a team session: one hop to the app's hand-over
        r = await browser.get(url, params=params)
        assert r.status_code == 303
        hand_over = urlsplit(r.headers["location"])
        assert hand_over.netloc == f"{APP_A}:{stack.port}"
        token = parse_qs(hand_over.query)["token"][0]
        assert jwt.decode(token, options={"verify_signature": False})["path"] == "/"


async def test_login_link_for_a_host_the_app_does_not_own(stack: Stack) -> None:
    aud_a, _ = await _setup(stack)
    async with stack.browser() as browser:
        for host in (APP_B, "evil.example", f"{APP_A}.evil.example"):
            r = await browser.get(
                stack.url(TEAM, f"/cdn-cgi/access/login/{host}"),
                params={"kid": aud_a, "redirect_url": "/", "nonce": "n" * 32},
            )
            assert r.status_code == 400, host


async def test_hand_over_needs_the_browser_that_started_it(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as victim:
        r = await victim.get(stack.url(APP_A, "/"), follow_redirects=True)
        await login(victim, stack, stack.url(APP_A, "/"), "alice")
        # the victim starts again with a live team session: capture the hand-over URL
        victim.cookies.delete("CF_Authorization", domain=APP_A)
        r = await victim.get(stack.url(APP_A, "/private"))
        r = await victim.get(r.headers["location"])
        hand_over = r.headers["location"]
        assert "/cdn-cgi/access/authorized?token=" in hand_over
    reached = len(stack.origin.requests)
    async with stack.browser() as attacker:
        r = await attacker.get(hand_over)
        assert r.status_code == 403 and "not started in this browser" in r.text
        # presented on another app's host
        r = await attacker.get(hand_over.replace(APP_A, APP_B))
        assert r.status_code == 403
        r = await attacker.get(stack.url(APP_A, "/private"), headers=JSON)
        assert r.status_code == 401
    assert len(stack.origin.requests) == reached


async def test_logout_needs_a_post_with_the_csrf_token(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        await login(browser, stack, stack.url(TEAM, "/"), "alice")
        assert (await browser.get(stack.url(TEAM, "/"))).status_code == 200
        # cross-site attempts: GET, POST without token, POST from another origin
        await browser.get(stack.url(TEAM, "/cdn-cgi/access/logout"))
        r = await browser.post(stack.url(TEAM, "/cdn-cgi/access/logout"), data={"a": "b"})
        assert r.status_code == 403
        r = await browser.post(stack.url(TEAM, "/cdn-cgi/access/logout"))
        assert r.status_code == 415
        page = await browser.get(stack.url(TEAM, "/"))
        csrf = re.search(r"name='csrf' value='([^']+)'", page.text)
        assert csrf is not None
        r = await browser.post(
            stack.url(TEAM, "/cdn-cgi/access/logout"),
            data={"csrf": csrf[1]},
            headers={"Origin": "https://evil.example"},
        )
        assert r.status_code == 403
        assert (await browser.get(stack.url(TEAM, "/"))).status_code == 200  # still signed in
        r = await browser.post(stack.url(TEAM, "/cdn-cgi/access/logout"), data={"csrf": csrf[1]})
        assert r.status_code == 303
        assert (await browser.get(stack.url(TEAM, "/"))).status_code == 303


async def test_login_start_needs_the_csrf_token(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        r = await browser.get(stack.url(APP_A, "/"), follow_redirects=True)
        flow = re.search(r"name='flow' value='([^']+)'", r.text)
        action = re.search(r"action='(/cdn-cgi/access/start/[^']+)'", r.text)
        assert flow is not None and action is not None
        r = await browser.post(stack.url(TEAM, action[1]), data={"flow": flow[1]})
        assert r.status_code == 403
        r = await browser.post(
            stack.url(TEAM, action[1]), data={"flow": flow[1], "csrf": "x"}, headers=JSON
        )
        assert r.status_code == 403


async def test_oidc_callback_with_a_foreign_state_fails(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        r = await browser.get(stack.url(TEAM, "/cdn-cgi/access/callback?code=x&state=y"))
        assert r.status_code == 400
    assert stack.origin.requests == []


async def test_service_tokens_valid_invalid_and_not_allowed(stack: Stack) -> None:
    aud_a, _ = await _setup(stack)
    cid, secret = stack.add_service_token("ci")
    other_cid, other_secret = stack.add_service_token("other")
    stack.add_policy("app-a", "ci-only", "service_auth", ["service_token=ci"])
    async with stack.browser() as client:
        ok = await client.get(
            stack.url(APP_A, "/api"),
            headers={**JSON, "CF-Access-Client-Id": cid, "CF-Access-Client-Secret": secret},
        )
        assert ok.status_code == 200
        seen = stack.origin.requests[-1]["headers"]
        assert "cf-access-client-secret" not in seen
        claims = jwt.decode(seen["cf-access-jwt-assertion"], options={"verify_signature": False})
        assert claims["common_name"] == cid and claims["aud"] == [aud_a]
        reached = len(stack.origin.requests)
        for headers, status in (
            ({"CF-Access-Client-Id": cid, "CF-Access-Client-Secret": "wrong"}, 401),
            ({"CF-Access-Client-Id": "nope.access", "CF-Access-Client-Secret": secret}, 401),
            ({"CF-Access-Client-Id": cid}, 401),
            ({"CF-Access-Client-Id": other_cid, "CF-Access-Client-Secret": other_secret}, 403),
        ):
            r = await client.get(stack.url(APP_A, "/api"), headers={**JSON, **headers})
            assert r.status_code == status, headers
        r = await client.get(
            stack.url(APP_B, "/api"),
            headers={**JSON, "CF-Access-Client-Id": cid, "CF-Access-Client-Secret": secret},
        )
        assert r.status_code == 403  # app B has no service-auth policy
    assert len(stack.origin.requests) == reached


async def test_xhr_and_non_browsers_get_401_not_a_redirect(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as client:
        r = await client.get(
            stack.url(APP_A, "/"), headers={"Accept": "text/html", "X-Requested-With": "fetch"}
        )
        assert r.status_code == 401 and "location" not in r.headers
        r = await client.get(stack.url(APP_A, "/"), headers={"Accept": "*/*"})
        assert r.status_code == 401 and r.json()["error"]["status"] == 401
        r = await client.post(stack.url(APP_A, "/"), headers={"Accept": "text/html"})
        assert r.status_code == 401
    assert stack.origin.requests == []


async def test_app_without_policies_lets_nobody_in_and_bypass_strips_forged_headers(
    stack: Stack,
) -> None:
    await _setup(stack)
    stack.add_app("locked", "locked.acme.localhost")
    stack.add_app("public", "public.acme.localhost")
    stack.add_policy("public", "open", "bypass", ["everyone"])
    async with stack.browser() as client:
        r = await client.get(stack.url("locked.acme.localhost", "/"))
        assert r.status_code == 403
        r = await client.get(
            stack.url("public.acme.localhost", "/"),
            headers={
                "Cf-Access-Jwt-Assertion": "forged",
                "Cf-Access-Authenticated-User-Email": "x",
            },
        )
        assert r.status_code == 200
    (seen,) = stack.origin.requests
    assert "cf-access-jwt-assertion" not in seen["headers"]
    assert "cf-access-authenticated-user-email" not in seen["headers"]
