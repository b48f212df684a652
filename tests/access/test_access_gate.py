"""The gate on its own (no sockets): decisions, headers, cookies; fuzzed request input;
the ASGI bridge the listener will use to reach the team pages."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts import secrets
from ramparts.access.bridge import BridgeError, call_asgi
from ramparts.access.gate import (
    ASSERTION_HEADER,
    FORGEABLE,
    SERVE_TEAM_APP,
    UNPROTECTED,
    AccessGate,
    Forward,
    Respond,
)
from ramparts.access.http import PublicUrls, cookie_values, is_browser, safe_return_path
from ramparts.access.team_app import TeamApp
from ramparts.config.access import AccessApp, AccessConfig, CompiledPolicy
from ramparts.config.access_rules import Action, parse_rule
from ramparts.config.snapshot import Snapshot
from ramparts.identity.keys import KeyRecord, build_ring, generate_key
from ramparts.identity.service_tokens import ServiceTokenEntry
from ramparts.identity.tokens import Identity, TokenType, issue

NOW = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
TEAM = "acme.localhost"
URLS = PublicUrls("https", 7843)
ISSUER = "https://acme.localhost:7843"
_KEY = generate_key()
RING = build_ring([KeyRecord(_KEY.kid, _KEY.private_pem, _KEY.public_jwk, NOW)], NOW)


def policy(name: str, action: str, *include: str) -> CompiledPolicy:
    return CompiledPolicy(name, name, Action(action), 1, tuple(parse_rule(t) for t in include))


WIKI = AccessApp(
    "app-1", "wiki", "wiki.acme.localhost", "", "a" * 64, dt.timedelta(hours=8),
    (policy("eng", "allow", "group=eng"), policy("ci", "service_auth", "service_token=tok-1")),
)  # fmt: skip
ADMIN = AccessApp(
    "app-2", "admin", "site.acme.localhost", "/admin", "b" * 64, dt.timedelta(hours=1),
    (policy("all", "allow", "everyone"),),
)  # fmt: skip
TOKEN = ServiceTokenEntry("tok-1", "ci", "cid.access", secrets.digest("s3cret"), None)
ACCESS = AccessConfig(
    apps=(WIKI, ADMIN),
    service_tokens=MappingProxyType({"cid.access": TOKEN}),
    group_members=MappingProxyType({"bob@example.com": frozenset({"eng"})}),
    keys=RING,
)
SNAP = Snapshot(version=1, team_name="acme", team_domain=TEAM, ca_fingerprint="", access=ACCESS)
GATE = AccessGate(URLS, clock=lambda: NOW)
HTML = [(b"accept", b"text/html")]


def session(identity: Identity, aud: str = WIKI.aud, **kw: object) -> str:
    args: dict[str, object] = dict(
        type=TokenType.APP, issuer=ISSUER, audience=aud, now=NOW, lifetime=dt.timedelta(hours=1)
    )
    args.update(kw)
    return issue(RING, identity=identity, **args)  # type: ignore[arg-type]


def check(host: str, path: str = "/", headers=(), method: str = "GET"):
    return GATE.check(host, path, method, list(headers), "198.51.100.7", SNAP)


def test_routing_decisions() -> None:
    assert check(TEAM) is SERVE_TEAM_APP
    assert check(TEAM, "/cdn-cgi/access/certs") is SERVE_TEAM_APP
    assert check("wiki.acme.localhost", "/cdn-cgi/access/authorized?token=x") is SERVE_TEAM_APP
    # a path-prefixed app still gets its hand-over path served
    assert check("site.acme.localhost", "/cdn-cgi/access/authorized") is SERVE_TEAM_APP
    assert check("site.acme.localhost", "/public") is UNPROTECTED
    assert check("other.example", "/cdn-cgi/access/logout") is UNPROTECTED
    assert UNPROTECTED.remove_headers == FORGEABLE


def test_login_redirect_for_browsers_and_401_for_others() -> None:
    r = check("wiki.acme.localhost", "/page?x=1", HTML)
    assert isinstance(r, Respond) and r.status == 302
    headers = dict(r.headers)
    location = headers[b"location"].decode()
    assert location.startswith(
        "https://acme.localhost:7843/cdn-cgi/access/login/wiki.acme.localhost?kid="
    )
    assert "redirect_url=%2Fpage%3Fx%3D1" in location
    cookie = headers[b"set-cookie"].decode()
    assert cookie.startswith("__Host-ramparts_nonce=")
    for attribute in ("Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=600"):
        assert attribute in cookie
    nonce = cookie.split("=", 1)[1].split(";")[0]
    assert f"nonce={nonce}" in location
    for headers_in in (
        [],
        [(b"accept", b"application/json")],
        [*HTML, (b"X-Requested-With", b"x")],
    ):
        r = check("wiki.acme.localhost", "/", headers_in)
        assert isinstance(r, Respond) and r.status == 401
    r = check("wiki.acme.localhost", "/", HTML, method="POST")
    assert isinstance(r, Respond) and r.status == 401
    r = check("site.acme.localhost", "/ADMIN/x", HTML)  # case and path tricks still covered
    assert isinstance(r, Respond) and r.status == 302


def test_allowed_session_and_groups_from_the_store() -> None:
    bob = Identity("u-2", "bob@example.com", "idp", "otp")  # eng only through the store group
    token = session(bob)
    r = check("wiki.acme.localhost", "/", [(b"Cookie", f"a=b; CF_Authorization={token}".encode())])
    assert isinstance(r, Forward) and r.identity == bob
    assert (ASSERTION_HEADER, token.encode()) in r.add_headers
    carol = Identity("u-3", "carol@example.com", "idp", "otp")
    r = check(
        "wiki.acme.localhost", "/", [(b"cookie", f"CF_Authorization={session(carol)}".encode())]
    )
    assert isinstance(r, Respond) and r.status == 403


def test_tossed_cookies_do_not_hide_the_real_one() -> None:
    bob = Identity("u-2", "bob@example.com", "idp", "otp")
    cookies = f"CF_Authorization=garbage; CF_Authorization={session(bob, aud=ADMIN.aud)}; "
    cookies += f"CF_Authorization={session(bob)}"
    r = check("wiki.acme.localhost", "/", [(b"cookie", cookies.encode())])
    assert isinstance(r, Forward) and r.identity == bob


def test_revocation_cuts_tokens_issued_before_it() -> None:
    bob = Identity("u-2", "bob@example.com", "idp", "otp")
    revoked = AccessConfig(
        apps=ACCESS.apps,
        group_members=ACCESS.group_members,
        keys=RING,
        revoked=MappingProxyType({"u-2": NOW}),
    )
    snap = Snapshot(1, "acme", TEAM, "", access=revoked)
    before = session(bob)
    later = session(bob, now=NOW + dt.timedelta(seconds=5))
    gate = AccessGate(URLS, clock=lambda: NOW + dt.timedelta(seconds=10))
    assert isinstance(
        gate.check(
            "wiki.acme.localhost",
            "/",
            "GET",
            [(b"cookie", f"CF_Authorization={before}".encode())],
            "",
            snap,
        ),
        Respond,
    )
    assert isinstance(
        gate.check(
            "wiki.acme.localhost",
            "/",
            "GET",
            [(b"cookie", f"CF_Authorization={later}".encode())],
            "",
            snap,
        ),
        Forward,
    )


def test_service_tokens() -> None:
    good = [(b"CF-Access-Client-Id", b"cid.access"), (b"CF-Access-Client-Secret", b"s3cret")]
    r = check("wiki.acme.localhost", "/", good)
    assert isinstance(r, Forward) and r.verdict == "service_auth"
    assert b"cf-access-client-secret" in r.remove_headers
    again = check("wiki.acme.localhost", "/", good)
    assert isinstance(again, Forward) and again.add_headers == r.add_headers  # cached JWT
    bad = [(b"cf-access-client-id", b"cid.access"), (b"cf-access-client-secret", b"nope")]
    assert isinstance(r := check("wiki.acme.localhost", "/", bad), Respond) and r.status == 401
    r = check("site.acme.localhost", "/admin", good)
    assert isinstance(r, Respond) and r.status == 403


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/a/b?c=d#e", "/a/b?c=d#e"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("evil.example", "/"),
        ("/ok\nx", "/"),
        ("", "/"),
        (None, "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_safe_return_path(value: str | None, expected: str) -> None:
    assert safe_return_path(value) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_safe_return_path_never_leaves_the_host(value: str) -> None:
    result = safe_return_path(value)
    assert result.startswith("/") and not result.startswith(("//", "/\\"))
    assert "\n" not in result and "\r" not in result


HEADER_NAMES = st.sampled_from(
    [b"cookie", b"Cookie", b"accept", b"x-requested-with", b"cf-access-client-id",
     b"cf-access-client-secret", b"cf-access-token", b"cf-access-jwt-assertion", b"x-other"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([TEAM, "wiki.acme.localhost", "site.acme.localhost", "x.example", ""]),
    st.text(max_size=40),
    st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "weird"]),
    st.lists(st.tuples(HEADER_NAMES, st.binary(max_size=60)), max_size=6),
    st.text(max_size=20),
)
def test_fuzz_gate_always_decides(host, path, method, headers, client_ip) -> None:
    decision = GATE.check(host, path, method, headers, client_ip, SNAP)
    if isinstance(decision, Forward) and decision.verdict is not None:
        # only service tokens or sessions we issued can get in: the fuzzer has neither
        assert decision.verdict == "bypass"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=4))
def test_fuzz_cookie_values(raw: list[bytes]) -> None:
    values = cookie_values(raw, "CF_Authorization")
    assert all(isinstance(v, str) for v in values) and len(values) <= 8


def test_is_browser() -> None:
    assert is_browser("GET", [(b"Accept", b"text/html,*/*")])
    assert not is_browser("GET", [(b"accept", b"*/*")])
    assert not is_browser("DELETE", [(b"accept", b"text/html")])


class _NullStore:
    async def record_login(self, **kw: object) -> str:
        raise AssertionError

    async def otp_start(self, **kw: object):  # type: ignore[no-untyped-def]
        raise AssertionError

    async def otp_verify(self, **kw: object):  # type: ignore[no-untyped-def]
        raise AssertionError


async def test_bridge_runs_the_team_app_on_one_buffered_request() -> None:
    app = TeamApp(snapshot=lambda: SNAP, store=_NullStore(), urls=URLS, clock=lambda: NOW)
    try:
        r = await call_asgi(
            app,
            method="GET",
            target=b"/cdn-cgi/access/certs",
            headers=[(b"Host", TEAM.encode())],
            body=b"",
            client_ip="198.51.100.7",
        )
        assert r.status == 200 and r.body.startswith(b'{"keys":[{"kid":"')
        r = await call_asgi(
            app,
            method="GET",
            target=b"/cdn-cgi/access/login",
            headers=[(b"host", TEAM.encode())],
            body=b"",
            client_ip="198.51.100.7",
        )
        assert r.status == 200 and b"Sign in to acme" in r.body
        assert any(
            k == b"set-cookie" and v.startswith(b"__Host-ramparts_csrf=") for k, v in r.headers
        )
        r = await call_asgi(
            app,
            method="POST",
            target=b"/cdn-cgi/access/logout",
            headers=[
                (b"host", TEAM.encode()),
                (b"content-type", b"application/x-www-form-urlencoded"),
            ],
            body=b"csrf=forged",
            client_ip="198.51.100.7",
        )
        assert r.status == 403
        with pytest.raises(BridgeError):
            await call_asgi(
                app,
                method="POST",
                target=b"/",
                headers=[(b"host", TEAM.encode())],
                body=b"x" * 100_000,
                client_ip="",
            )
    finally:
        await app.aclose()
