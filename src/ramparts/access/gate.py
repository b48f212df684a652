"""The Access gate: the one question the edge's HTTPS listener asks for every request.

``AccessGate.check(...)`` returns what to do with a request before it may enter a tunnel:

- :class:`Forward`: send it on (to the tunnel), after removing ``remove_headers`` and adding
  ``add_headers`` (``Cf-Access-Jwt-Assertion`` for allowed users and service tokens). Hosts
  without an Access application also get a Forward, which strips forged Access headers.
- :class:`Respond`: answer from the edge: a login redirect for browsers, 401/403 otherwise.
- :data:`SERVE_TEAM_APP`: hand the request to the team ASGI app (``team_app.TeamApp``): the
  team domain, and ``/cdn-cgi/access/*`` on application hosts.

Pure apart from reading ``now``: the snapshot carries applications, keys and tokens.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from ramparts.access.evaluate import Subject, Verdict, evaluate, parse_client_ip
from ramparts.access.http import (
    ACCESS_PREFIX,
    NONCE_COOKIE,
    SESSION_COOKIE,
    Headers,
    PublicUrls,
    cookie_values,
    is_browser,
    set_cookie,
)
from ramparts.config.access import AccessApp, AccessConfig
from ramparts.config.snapshot import Snapshot
from ramparts.identity import service_tokens
from ramparts.identity.errors import TokenError
from ramparts.identity.tokens import Identity, TokenType, VerifiedToken, VerifiedTokens, issue

ASSERTION_HEADER = b"cf-access-jwt-assertion"
TOKEN_HEADER = b"cf-access-token"  # an app token presented by CLI tools instead of a cookie
USER_EMAIL_HEADER = b"cf-access-authenticated-user-email"
CLIENT_ID_HEADER = service_tokens.CLIENT_ID_HEADER.encode()
CLIENT_SECRET_HEADER = service_tokens.CLIENT_SECRET_HEADER.encode()
# Never trusted from clients: an origin must only ever see values the edge put there.
FORGEABLE = frozenset({ASSERTION_HEADER, USER_EMAIL_HEADER})
SERVICE_TOKEN_LIFETIME = dt.timedelta(hours=1)  # assertion issued per service-token request
NONCE_LIFETIME = 600  # seconds a login hand-over may take (browser at the IdP, typing a PIN)
SERVICE_JWT_CACHE = 4096  # (token, app) assertions kept; re-signed when half their life is gone


@dataclass(frozen=True, slots=True)
class Forward:
    add_headers: tuple[tuple[bytes, bytes], ...] = ()
    remove_headers: frozenset[bytes] = FORGEABLE
    app: AccessApp | None = None
    identity: Identity | None = None
    verdict: Verdict | None = None  # None: no application protects this request


@dataclass(frozen=True, slots=True)
class Respond:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


class ServeTeamApp:
    """Marker: the team ASGI app answers this request."""

    def __repr__(self) -> str:
        return "SERVE_TEAM_APP"


SERVE_TEAM_APP = ServeTeamApp()
UNPROTECTED = Forward()

AccessDecision = Forward | Respond | ServeTeamApp


def team_issuer(urls: PublicUrls, team_domain: str) -> str:
    return urls.origin(team_domain)


class AccessGate:
    def __init__(
        self,
        urls: PublicUrls | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.urls = urls or PublicUrls()
        self._clock = clock
        self._service_jwts: dict[tuple[str, str, str], tuple[str, dt.datetime]] = {}
        self._verified = VerifiedTokens()

    def check(
        self,
        host: str,
        path: str,
        method: str,
        headers: Headers,
        client_ip: str,
        snapshot: Snapshot,
    ) -> AccessDecision:
        """``host`` without port, lower-case; ``path`` the request target (path and query)."""
        if host == snapshot.team_domain:
            return SERVE_TEAM_APP
        access = snapshot.access
        if path.startswith(ACCESS_PREFIX) and access.serves_host(host):
            return SERVE_TEAM_APP
        app = access.app_for(host, path)
        if app is None:
            return UNPROTECTED
        now = self._clock()
        issuer = team_issuer(self.urls, snapshot.team_domain)
        client = parse_client_ip(client_ip)
        client_id = client_secret = None
        cookies: list[bytes] = []
        presented: str | None = None
        for key, value in headers:
            name = key.lower()
            if name == b"cookie":
                cookies.append(value)
            elif name == CLIENT_ID_HEADER:
                client_id = value.decode("latin-1")
            elif name == CLIENT_SECRET_HEADER:
                client_secret = value.decode("latin-1")
            elif name == TOKEN_HEADER:
                presented = value.decode("latin-1")
        if client_id is not None or client_secret is not None:
            entry = service_tokens.authenticate(
                access.service_tokens, client_id or "", client_secret or "", now
            )
            if entry is None:
                return _refuse(401, "invalid service token", method, headers)
            result = evaluate(app, Subject(client_ip=client, service_token_id=entry.id))
            if result.verdict is Verdict.BYPASS:
                return Forward(app=app, verdict=result.verdict)
            if result.verdict is not Verdict.SERVICE_AUTH:
                return _refuse(403, "this service token is not allowed here", method, headers)
            jwt = self._service_jwt(access, app, entry.id, entry.client_id, issuer, now)
            return Forward(
                add_headers=((ASSERTION_HEADER, jwt.encode()),),
                remove_headers=FORGEABLE | {CLIENT_SECRET_HEADER},
                app=app,
                verdict=result.verdict,
            )
        candidates = cookie_values(cookies, SESSION_COOKIE)
        if presented:
            candidates.insert(0, presented)
        session = self._first_valid(candidates, access, app, issuer, now)
        identity = session[1].identity if session is not None else None
        groups: frozenset[str] = frozenset()
        if identity is not None:
            groups = frozenset(identity.groups) | access.group_members.get(
                identity.email.lower(), frozenset()
            )
        result = evaluate(app, Subject(client_ip=client, identity=identity, groups=groups))
        if result.verdict is Verdict.BYPASS:
            return Forward(app=app, verdict=result.verdict)
        if result.verdict is Verdict.ALLOW and session is not None:
            token = session[0]
            add = [(ASSERTION_HEADER, token.encode())]
            if identity is not None:
                add.append((USER_EMAIL_HEADER, identity.email.encode()))
            return Forward(tuple(add), FORGEABLE, app, identity, result.verdict)
        if result.verdict is Verdict.LOGIN:
            if is_browser(method, headers):
                return self._login_redirect(snapshot, app, host, path)
            return _refuse(401, "authentication required", method, headers)
        return _refuse(403, "access denied by policy", method, headers)

    def login_url(self, team_domain: str, app: AccessApp, host: str, path: str, nonce: str) -> str:
        query = urlencode({"kid": app.aud, "redirect_url": path, "nonce": nonce})
        return f"{self.urls.origin(team_domain)}{ACCESS_PREFIX}login/{quote(host)}?{query}"

    def _login_redirect(self, snapshot: Snapshot, app: AccessApp, host: str, path: str) -> Respond:
        nonce = secrets.token_urlsafe(24)
        location = self.login_url(snapshot.team_domain, app, host, path, nonce)
        cookie = set_cookie(NONCE_COOKIE, nonce, max_age=NONCE_LIFETIME, secure=self.urls.secure)
        body = (
            f"<!doctype html><title>Login required</title>"
            f"<p>Login required: <a href='{html.escape(location)}'>continue</a></p>"
        ).encode()
        return Respond(
            302,
            (
                (b"location", location.encode()),
                (b"set-cookie", cookie.encode()),
                (b"cache-control", b"no-store"),
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ),
            body,
        )

    def _first_valid(
        self,
        candidates: list[str],
        access: AccessConfig,
        app: AccessApp,
        issuer: str,
        now: dt.datetime,
    ) -> tuple[str, VerifiedToken] | None:
        for token in candidates:
            try:
                verified = self._verified.verify(
                    token, access.keys, type=TokenType.APP, issuer=issuer, audience=app.aud, now=now
                )
            except TokenError:
                continue
            if verified.identity is None or revoked(access, verified):
                continue
            return token, verified
        return None

    def _service_jwt(
        self,
        access: AccessConfig,
        app: AccessApp,
        token_id: str,
        client_id: str,
        issuer: str,
        now: dt.datetime,
    ) -> str:
        signing = access.keys.signing
        key = (token_id, app.aud, signing.kid if signing else "")
        cached = self._service_jwts.get(key)
        if cached is not None and now < cached[1]:
            return cached[0]
        token = issue(
            access.keys,
            type=TokenType.APP,
            issuer=issuer,
            audience=app.aud,
            now=now,
            lifetime=SERVICE_TOKEN_LIFETIME,
            common_name=client_id,
        )
        if len(self._service_jwts) >= SERVICE_JWT_CACHE:
            self._service_jwts.clear()
        self._service_jwts[key] = (token, now + SERVICE_TOKEN_LIFETIME / 2)
        return token


def revoked(access: AccessConfig, token: VerifiedToken) -> bool:
    if token.identity is None:
        return False
    cutoff = access.revoked.get(token.identity.sub)
    return cutoff is not None and token.issued_at <= cutoff


def _refuse(status: int, reason: str, method: str, headers: Headers) -> Respond:
    """401/403 without a redirect; HTML for browsers, JSON for everything else."""
    if is_browser(method, headers):
        title = "Login required" if status == 401 else "Access denied"
        body = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{status} {title}</title></head><body><h1>{title}</h1>"
            f"<p>{html.escape(reason)}</p></body></html>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"error": {"status": status, "message": reason}}).encode()
        content_type = b"application/json"
    headers_out: list[tuple[bytes, bytes]] = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if status == 401:
        headers_out.append((b"www-authenticate", b'Cookie realm="ramparts-access"'))
    return Respond(status, tuple(headers_out), body)
