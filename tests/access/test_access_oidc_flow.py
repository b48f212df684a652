"""Browser login through a real OIDC provider, over HTTPS, asserted at the origin."""

from __future__ import annotations

import re

import httpx
import jwt
from access_stack import TEAM, Stack

APP = "wiki.acme.localhost"


async def _setup(stack: Stack) -> str:
    aud = stack.add_app("wiki", APP)
    stack.add_idp(
        "mock",
        "oidc",
        {"issuer": stack.oidc_issuer, "client_id": "ramparts", "groups_claim": "groups"},
        "client-secret",
    )
    stack.add_policy("wiki", "engineers", "allow", ["group=eng"])
    await stack.set_oidc_user(
        "alice", {"email": "alice@example.com", "groups": ["eng"], "name": "Alice"}
    )
    await stack.set_oidc_user("bob", {"email": "bob@example.com", "groups": ["sales"]})
    return aud


async def login(
    browser: httpx.AsyncClient, stack: Stack, start_url: str, sub: str
) -> httpx.Response:
    """Open ``start_url`` like a browser, click the IdP button, log in at the provider."""
    r = await browser.get(start_url, follow_redirects=True)
    assert r.status_code == 200 and "Sign in with mock" in r.text, r.text
    form = re.search(r"action='(/cdn-cgi/access/start/[^']+)'", r.text)
    fields = dict(re.findall(r"name='(flow|csrf)' value='([^']*)'", r.text))
    assert form is not None and set(fields) == {"flow", "csrf"}
    r = await browser.post(str(r.url.copy_with(path=form[1], query=None)), data=fields)
    assert r.status_code == 303
    provider = r.headers["location"]
    assert provider.startswith(stack.oidc_issuer) and "code_challenge=" in provider
    r = await browser.post(provider, data={"sub": sub})  # the provider's login form
    assert r.status_code == 302, r.text
    return await browser.get(r.headers["location"], follow_redirects=True)


async def test_browser_login_reaches_the_origin_with_a_verifiable_jwt(stack: Stack) -> None:
    aud = await _setup(stack)
    async with stack.browser() as browser:
        r = await browser.get(stack.url(APP, "/docs?page=2"))
        assert r.status_code == 302
        assert r.headers["location"].startswith(stack.url(TEAM, f"/cdn-cgi/access/login/{APP}"))
        assert stack.origin.requests == []
        final = await login(browser, stack, stack.url(APP, "/docs?page=2"), "alice")
        assert final.status_code == 200 and final.json() == {"origin": "ok", "path": "/docs"}
        assert str(final.url) == stack.url(APP, "/docs?page=2")
        seen = stack.origin.requests[-1]["headers"]
        assertion = seen["cf-access-jwt-assertion"]
        assert "CF_Authorization=" in seen["cookie"]
        # verify the JWT as an origin would: with the JWKS published on the team domain
        jwks = (await browser.get(stack.url(TEAM, "/cdn-cgi/access/certs"))).json()
        header = jwt.get_unverified_header(assertion)
        key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
        claims = jwt.decode(
            assertion,
            jwt.PyJWK(key).key,
            algorithms=["RS256"],
            audience=aud,
            issuer=stack.url(TEAM, "").rstrip("/"),
        )
        assert claims["email"] == "alice@example.com" and claims["groups"] == ["eng"]
        assert claims["sub"] and claims["type"] == "app"
        assert seen["cf-access-authenticated-user-email"] == "alice@example.com"
        # the session now works without any redirect
        r = await browser.get(stack.url(APP, "/again"))
        assert r.status_code == 200 and stack.origin.requests[-1]["path"] == "/again"
        # launcher lists the app
        r = await browser.get(stack.url(TEAM, "/"))
        assert r.status_code == 200 and "wiki" in r.text and "alice@example.com" in r.text


async def test_user_outside_the_policy_is_refused_and_never_reaches_the_origin(
    stack: Stack,
) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        final = await login(browser, stack, stack.url(APP, "/"), "bob")
        assert final.status_code == 403 and "may not open wiki" in final.text
        r = await browser.get(stack.url(APP, "/"))  # still no app session: login again
        assert r.status_code == 302
    assert stack.origin.requests == []


async def test_expired_app_session_is_renewed_from_the_team_session(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        await login(browser, stack, stack.url(APP, "/"), "alice")
        before = len(stack.origin.requests)
        with stack.db.transaction() as s:
            from ramparts.store.repositories import access_apps, versions

            access_apps.update_app(s, "wiki", session_seconds=60)
            versions.bump(s)
        stack.refresh()
        # the team session (24 h) outlives the app session: no login page this time
        stack.clock.offset = __import__("datetime").timedelta(hours=25)
        r = await browser.get(stack.url(APP, "/late"))
        assert r.status_code == 302  # the app cookie (24 h) has expired
        stack.clock.offset = __import__("datetime").timedelta(hours=23)
        # (app cookie still valid at 23 h; force renewal by dropping it)
        browser.cookies.delete("CF_Authorization", domain=APP)
        r = await browser.get(stack.url(APP, "/late"), follow_redirects=True)
        assert r.status_code == 200 and r.json()["path"] == "/late"
        assert len(stack.origin.requests) == before + 1
        # policies are checked again at renewal: remove alice's access, renew again -> 403
        with stack.db.transaction() as s:
            from ramparts.store.repositories import access_apps, versions

            app = access_apps.get_app(s, "wiki")
            access_apps.delete_policy(s, app, "engineers")
            access_apps.create_policy(
                s,
                app,
                name="only-bob",
                action="allow",
                include=["email=bob@example.com"],
                require=[],
                exclude=[],
            )
            versions.bump(s)
        stack.refresh()
        r = await browser.get(stack.url(APP, "/late2"))
        assert r.status_code == 403  # the app session is re-evaluated on every request
        browser.cookies.delete("CF_Authorization", domain=APP)
        r = await browser.get(stack.url(APP, "/late2"), follow_redirects=True)
        assert r.status_code == 403 and "may not open" in r.text
        assert len(stack.origin.requests) == before + 1


async def test_logout_clears_both_sessions(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        await login(browser, stack, stack.url(APP, "/"), "alice")
        page = await browser.get(stack.url(APP, "/cdn-cgi/access/logout"))
        csrf = re.search(r"name='csrf' value='([^']+)'", page.text)
        assert page.status_code == 200 and csrf is not None
        r = await browser.post(
            stack.url(APP, "/cdn-cgi/access/logout"), data={"csrf": csrf[1]}, follow_redirects=True
        )
        assert r.status_code == 200 and "Sign in to acme" in r.text
        r = await browser.get(stack.url(APP, "/"))
        assert r.status_code == 302  # back to login
        r = await browser.get(stack.url(TEAM, "/"))
        assert r.status_code == 303 and r.headers["location"] == "/cdn-cgi/access/login"
