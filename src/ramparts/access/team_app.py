"""The team domain's pages, as one ASGI app: login (IdP choice), OIDC start and callback,
one-time PIN forms, logout, the JWKS at ``/cdn-cgi/access/certs`` and the app launcher; and
on application hosts the ``/cdn-cgi/access/*`` paths (hand-over, logout, identity).

A login ends on the team domain with a team session; the browser then goes back to the
application with a one-minute, single-browser hand-over token (bound to the nonce cookie the
gate set on the application host), which becomes the application's own session cookie. An
expired application session with a live team session goes through the same hand-over, and
its policies are checked again, without a new login.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

import httpx
import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ramparts.access import pages
from ramparts.access.evaluate import Subject, Verdict, evaluate, parse_client_ip
from ramparts.access.forms import (
    Flow,
    PageError,
    csrf_token,
    html_page,
    read_form,
    redirect,
    request_cookies,
)
from ramparts.access.gate import revoked
from ramparts.access.http import (
    ACCESS_PREFIX,
    NONCE_COOKIE,
    OIDC_COOKIE,
    SESSION_COOKIE,
    PublicUrls,
    clear_cookie,
    cookie_values,
    safe_return_path,
    set_cookie,
)
from ramparts.access.login_store import LoginStore
from ramparts.access.sessions import SessionTokens
from ramparts.config.access import AccessApp, AccessConfig, IdpEntry, host_matches
from ramparts.config.snapshot import Snapshot
from ramparts.identity import oidc
from ramparts.identity.errors import IdpError, TokenError
from ramparts.identity.mailer import Mail, MailQueue
from ramparts.identity.otp import OtpOutcome
from ramparts.identity.tokens import Identity, TokenType, issue, verify

OIDC_LIFETIME = dt.timedelta(minutes=10)  # time at the identity provider
TRANSFER_LIFETIME = dt.timedelta(seconds=60)  # team domain -> application hand-over
LOGOUT_LIFETIME = dt.timedelta(seconds=60)
SNAPSHOT_SCOPE_KEY = "ramparts.snapshot"  # ASGI scope entry: the request's snapshot
OIDC_AUD = "ramparts:oidc"
LOGOUT_AUD = "ramparts:logout"
EMAIL_MAX = 254
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

Clock = Callable[[], dt.datetime]


class TeamApp:
    """ASGI app; ``snapshot`` returns the edge's current snapshot."""

    def __init__(
        self,
        *,
        snapshot: Callable[[], Snapshot],
        store: LoginStore,
        urls: PublicUrls | None = None,
        http: httpx.AsyncClient | None = None,
        mailer: MailQueue | None = None,
        clock: Clock = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._snapshot = snapshot
        self._store = store
        self._urls = urls or PublicUrls()
        self._own_http = http is None
        self._http = http or httpx.AsyncClient()
        self._oidc = oidc.OidcClient(self._http)
        self.mailer = mailer or MailQueue()
        self._clock = clock
        self.tokens = SessionTokens(self.urls, clock)

    @property
    def urls(self) -> PublicUrls:
        return self._urls

    @urls.setter
    def urls(self, value: PublicUrls) -> None:
        self._urls = value
        self.tokens.urls = value

    async def aclose(self) -> None:
        await self.mailer.stop()
        if self._own_http:
            await self._http.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        # The listener passes the snapshot its request started with; else the current one.
        given = scope.get(SNAPSHOT_SCOPE_KEY)
        snap = given if isinstance(given, Snapshot) else self._snapshot()
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]").lower()
        try:
            response = await self._route(request, snap, host)
        except PageError as exc:
            response = html_page(exc.status, pages.message(exc.title, exc.text))
        await response(scope, receive, send)

    async def _route(self, request: Request, snap: Snapshot, host: str) -> Response:
        path, method = request.url.path, request.method
        if host == snap.team_domain:
            if path == "/" and method in ("GET", "HEAD"):
                return self._launcher(request, snap)
            if path == f"{ACCESS_PREFIX}certs" and method in ("GET", "HEAD"):
                return Response(
                    snap.access.keys.jwks_json(),
                    media_type="application/json",
                    headers={"Cache-Control": "public, max-age=300"},
                )
            if path.startswith(f"{ACCESS_PREFIX}login") and method in ("GET", "HEAD"):
                return await self._login(request, snap, path.removeprefix(f"{ACCESS_PREFIX}login"))
            if path.startswith(f"{ACCESS_PREFIX}start/") and method == "POST":
                return await self._oidc_start(request, snap, path.rsplit("/", 1)[1])
            if path == f"{ACCESS_PREFIX}callback" and method == "GET":
                return await self._oidc_callback(request, snap)
            if path.startswith(f"{ACCESS_PREFIX}otp/") and method == "POST":
                rest = path.removeprefix(f"{ACCESS_PREFIX}otp/")
                if rest.endswith("/verify"):
                    return await self._otp_verify(request, snap, rest.removesuffix("/verify"))
                return await self._otp_start(request, snap, rest)
            if path == f"{ACCESS_PREFIX}logout":
                return await self._team_logout(request, snap, host)
        elif snap.access.serves_host(host):
            if path == f"{ACCESS_PREFIX}authorized" and method == "GET":
                return self._authorized(request, snap, host)
            if path == f"{ACCESS_PREFIX}logout":
                return await self._app_logout(request, snap, host)
            if path == f"{ACCESS_PREFIX}get-identity" and method == "GET":
                return self._get_identity(request, snap, host)
        raise PageError(404, "Not found", "There is nothing here.")

    # -- login ---------------------------------------------------------------------------

    async def _login(self, request: Request, snap: Snapshot, rest: str) -> Response:
        access = snap.access
        flow, app = Flow(), None
        if rest.startswith("/") and len(rest) > 1:
            host = rest[1:].lower()
            params = request.query_params
            app = access.app_by_aud(params.get("kid", ""))
            nonce = params.get("nonce", "")
            if app is None or not host_matches(app.domain, host) or not _NONCE.match(nonce):
                raise PageError(400, "Unknown application", "This login link is not valid.")
            flow = Flow(app.aud, host, safe_return_path(params.get("redirect_url")), nonce)
        elif rest:
            raise PageError(404, "Not found", "There is nothing here.")
        identity = self.tokens.team_session(request, snap)
        if identity is not None:
            return self._finish(request, snap, identity, flow)
        return self._login_page(request, snap, flow, app)

    def _login_page(
        self, request: Request, snap: Snapshot, flow: Flow, app: AccessApp | None, error: str = ""
    ) -> Response:
        csrf, new_cookie = csrf_token(request, secure=self.urls.secure)
        buttons = [pages.IdpButton(i.id, i.name, i.type) for i in snap.access.idps_for(app)]
        body = pages.login(
            snap.team_name,
            app.name if app else None,
            buttons,
            self.tokens.flow_token(snap, flow),
            csrf,
            error,
        )
        return html_page(
            200 if not error else 400, body, cookies=[new_cookie] if new_cookie else []
        )

    async def _oidc_start(self, request: Request, snap: Snapshot, idp_id: str) -> Response:
        form = await read_form(request, origin=self.urls.origin(snap.team_domain))
        flow = self.tokens.read_flow(snap, form)
        idp = self._idp_for(snap, flow, idp_id, "oidc")
        assert idp.oidc is not None
        now = self._clock()
        try:
            meta = await self._oidc.metadata(idp.oidc, now)
        except IdpError as exc:
            raise PageError(502, "Sign-in unavailable", f"{idp.name}: {exc}") from None
        verifier, challenge = oidc.pkce_pair()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        cookie = self.tokens.sign(
            snap,
            OIDC_AUD,
            OIDC_LIFETIME,
            {
                "oidc": {"state": state, "nonce": nonce, "verifier": verifier, "idp": idp.id},
                "flow": flow.claims(),
            },
        )
        url = oidc.authorization_url(
            meta,
            idp.oidc,
            redirect_uri=self.tokens.callback_url(snap),
            state=state,
            nonce=nonce,
            code_challenge=challenge,
        )
        max_age = int(OIDC_LIFETIME.total_seconds())
        return redirect(
            url, [set_cookie(OIDC_COOKIE, cookie, max_age=max_age, secure=self.urls.secure)]
        )

    async def _oidc_callback(self, request: Request, snap: Snapshot) -> Response:
        params = request.query_params
        stored = self.tokens.verified_state(
            snap, cookie_values(request_cookies(request), OIDC_COOKIE), OIDC_AUD
        )
        if stored is None:
            raise PageError(
                400, "Login expired", "This sign-in took too long or was not started here."
            )
        data = stored.extra.get("oidc")
        if not isinstance(data, Mapping) or not all(
            isinstance(data.get(k), str) for k in ("state", "nonce", "verifier", "idp")
        ):
            raise PageError(400, "Login expired", "Start again.")
        if not hmac.compare_digest(params.get("state", "").encode(), data["state"].encode()):
            raise PageError(
                400,
                "Login failed",
                "The identity provider's answer does not belong to this sign-in.",
            )
        if "error" in params:
            raise PageError(
                401, "Login failed", f"The identity provider said: {params['error'][:200]}"
            )
        flow = Flow.from_claims(stored.extra.get("flow"))
        idp = self._idp_for(snap, flow, data["idp"], "oidc")
        assert idp.oidc is not None
        try:
            login = await self._oidc.login(
                idp.oidc,
                code=params.get("code", ""),
                redirect_uri=self.tokens.callback_url(snap),
                verifier=data["verifier"],
                nonce=data["nonce"],
                now=self._clock(),
            )
        except IdpError as exc:
            raise PageError(401, "Login failed", str(exc)) from None
        identity = await self._identity(snap, login.email, login.name, idp, login.groups)
        return self._finish(
            request,
            snap,
            identity,
            flow,
            cookies=[
                self.tokens.team_cookie(snap, identity),
                clear_cookie(OIDC_COOKIE, secure=self.urls.secure),
            ],
        )

    async def _otp_start(self, request: Request, snap: Snapshot, idp_id: str) -> Response:
        form = await read_form(request, origin=self.urls.origin(snap.team_domain))
        flow = self.tokens.read_flow(snap, form)
        idp = self._idp_for(snap, flow, idp_id, "otp")
        email = form.get("email", "").strip().lower()
        if "@" not in email or len(email) > EMAIL_MAX or any(c.isspace() for c in email):
            app = snap.access.app_by_aud(flow.aud) if flow.aud else None
            return self._login_page(request, snap, flow, app, "Enter a valid email address.")
        now = self._clock()
        allowed = self._may_log_in(snap, flow, email, idp, request)
        started = await self._store.otp_start(idp_id=idp.id, email=email, allowed=allowed, now=now)
        if started.code is not None and idp.smtp is not None:
            self.mailer.submit(
                Mail(
                    idp.smtp,
                    email,
                    f"Your {snap.team_name} sign-in code",
                    f"Your sign-in code is {started.code}. It is valid for 10 minutes.\n"
                    "If you did not ask for it, ignore this message.\n",
                )
            )
        csrf = form["csrf"]
        return html_page(
            200,
            pages.otp_code(
                idp.id, email, started.challenge_id, self.tokens.flow_token(snap, flow), csrf
            ),
        )

    async def _otp_verify(self, request: Request, snap: Snapshot, idp_id: str) -> Response:
        form = await read_form(request, origin=self.urls.origin(snap.team_domain))
        flow = self.tokens.read_flow(snap, form)
        idp = self._idp_for(snap, flow, idp_id, "otp")
        challenge = form.get("challenge", "")[:128]
        outcome, email = await self._store.otp_verify(
            challenge_id=challenge, idp_id=idp.id, code=form.get("code", ""), now=self._clock()
        )
        if outcome is OtpOutcome.WRONG:
            return html_page(
                401,
                pages.otp_code(
                    idp.id,
                    email,
                    challenge,
                    self.tokens.flow_token(snap, flow),
                    form["csrf"],
                    "That code is not right.",
                ),
            )
        if outcome is not OtpOutcome.OK:
            text = {
                OtpOutcome.LOCKED: "Too many wrong codes for this address. Try again later.",
                OtpOutcome.EXHAUSTED: "Too many wrong codes. Ask for a new one.",
                OtpOutcome.EXPIRED: "This code has expired. Ask for a new one.",
            }.get(outcome, "This sign-in is not valid. Start again.")
            status = 429 if outcome is OtpOutcome.LOCKED else 401
            raise PageError(status, "Sign-in failed", text)
        identity = await self._identity(snap, email, "", idp, ())
        return self._finish(
            request, snap, identity, flow, cookies=[self.tokens.team_cookie(snap, identity)]
        )

    def _finish(
        self,
        request: Request,
        snap: Snapshot,
        identity: Identity,
        flow: Flow,
        cookies: list[str] | None = None,
    ) -> Response:
        """Logged in on the team domain: go to the launcher, or hand over to the application
        if its policies let this user in now."""
        cookies = cookies or []
        if not flow.aud:
            return redirect("/", cookies)
        access = snap.access
        app = access.app_by_aud(flow.aud)
        if app is None or not host_matches(app.domain, flow.host):
            raise PageError(404, "Unknown application", "This application no longer exists.")
        verdict = evaluate(app, self._subject(access, identity, request)).verdict
        if verdict not in (Verdict.ALLOW, Verdict.BYPASS):
            return html_page(
                403,
                pages.message(
                    "Access denied",
                    f"{identity.email} may not open {app.name}.",
                    ("/", "Your applications"),
                ),
                cookies=cookies,
            )
        token = issue(
            access.keys,
            type=TokenType.TRANSFER,
            issuer=self.tokens.issuer(snap),
            audience=app.aud,
            now=self._clock(),
            lifetime=TRANSFER_LIFETIME,
            identity=identity,
            extra={"host": flow.host, "path": flow.path, "nonce": flow.nonce},
        )
        url = (
            f"{self.urls.origin(flow.host)}{ACCESS_PREFIX}authorized?{urlencode({'token': token})}"
        )
        return redirect(url, cookies)

    # -- application hosts -------------------------------------------------------------------

    def _authorized(self, request: Request, snap: Snapshot, host: str) -> Response:
        access = snap.access
        token = request.query_params.get("token", "")
        try:
            aud = jwt.decode(token, options={"verify_signature": False}).get("aud")
        except jwt.PyJWTError:
            aud = None
        app = (
            access.app_by_aud(aud[0])
            if isinstance(aud, list) and aud and isinstance(aud[0], str)
            else None
        )
        if app is None or not host_matches(app.domain, host):
            raise PageError(403, "Access denied", "This sign-in link is not valid here.")
        now = self._clock()
        try:
            handed = verify(
                token,
                access.keys,
                type=TokenType.TRANSFER,
                issuer=self.tokens.issuer(snap),
                audience=app.aud,
                now=now,
            )
        except TokenError:
            raise PageError(
                403, "Access denied", "This sign-in link is not valid or has expired."
            ) from None
        path = safe_return_path(str(handed.extra.get("path", "/")))
        nonce = handed.extra.get("nonce")
        nonces = cookie_values(request_cookies(request), NONCE_COOKIE)
        if (
            handed.identity is None
            or revoked(access, handed)
            or handed.extra.get("host") != host
            or not isinstance(nonce, str)
            or not any(hmac.compare_digest(nonce.encode(), n.encode()) for n in nonces)
        ):
            raise PageError(
                403,
                "Access denied",
                "This sign-in was not started in this browser.",
            )
        session = issue(
            access.keys,
            type=TokenType.APP,
            issuer=self.tokens.issuer(snap),
            audience=app.aud,
            now=now,
            lifetime=app.session_duration,
            identity=handed.identity,
        )
        cookie = set_cookie(
            SESSION_COOKIE,
            session,
            max_age=int(app.session_duration.total_seconds()),
            secure=self.urls.secure,
            same_site=app.same_site,
        )
        return redirect(path, [cookie, clear_cookie(NONCE_COOKIE, secure=self.urls.secure)])

    async def _app_logout(self, request: Request, snap: Snapshot, host: str) -> Response:
        if request.method != "POST":
            csrf, new_cookie = csrf_token(request, secure=self.urls.secure)
            return html_page(200, pages.logout(csrf), cookies=[new_cookie] if new_cookie else [])
        await read_form(request, origin=self.urls.origin(host))
        session = self.tokens.app_session(request, snap, host)
        target = f"{self.urls.origin(snap.team_domain)}{ACCESS_PREFIX}logout"
        if session is not None and session.identity is not None:
            token = self.tokens.sign(
                snap, LOGOUT_AUD, LOGOUT_LIFETIME, {"who": session.identity.sub}
            )
            target += "?" + urlencode({"token": token})
        return redirect(target, [clear_cookie(SESSION_COOKIE, secure=self.urls.secure)])

    def _get_identity(self, request: Request, snap: Snapshot, host: str) -> Response:
        session = self.tokens.app_session(request, snap, host)
        if session is None or session.identity is None:
            return JSONResponse({"error": "not signed in"}, status_code=401)
        who = session.identity
        return JSONResponse(
            {
                "email": who.email,
                "sub": who.sub,
                "name": who.name,
                "groups": list(who.groups),
                "idp": {"id": who.idp_id, "type": who.idp_type},
            },
            headers={"Cache-Control": "no-store"},
        )

    # -- team domain: launcher and logout ------------------------------------------------------

    def _launcher(self, request: Request, snap: Snapshot) -> Response:
        identity = self.tokens.team_session(request, snap)
        if identity is None:
            return redirect(f"{ACCESS_PREFIX}login", [])
        access = snap.access
        subject = self._subject(access, identity, request)
        entries = [
            pages.LauncherEntry(app.name, self.urls.origin(app.domain) + (app.path or "/"))
            for app in access.apps
            if app.launcher_visible
            and not app.domain.startswith("*.")
            and evaluate(app, subject).verdict in (Verdict.ALLOW, Verdict.BYPASS)
        ]
        csrf, new_cookie = csrf_token(request, secure=self.urls.secure)
        return html_page(
            200,
            pages.launcher(snap.team_name, identity.email, entries, csrf),
            cookies=[new_cookie] if new_cookie else [],
        )

    async def _team_logout(self, request: Request, snap: Snapshot, host: str) -> Response:
        clear = clear_cookie(SESSION_COOKIE, secure=self.urls.secure)
        login = f"{ACCESS_PREFIX}login"
        if request.method == "POST":
            await read_form(request, origin=self.urls.origin(host))
            return redirect(login, [clear])
        handed = self.tokens.verified_state(
            snap, [request.query_params.get("token", "")], LOGOUT_AUD
        )
        current = self.tokens.team_session(request, snap)
        if handed is not None and (current is None or handed.extra.get("who") == current.sub):
            return redirect(login, [clear])
        if current is None:
            return redirect(login, [])
        csrf, new_cookie = csrf_token(request, secure=self.urls.secure)
        return html_page(200, pages.logout(csrf), cookies=[new_cookie] if new_cookie else [])

    # -- sessions, tokens, forms -------------------------------------------------------------

    def _idp_for(self, snap: Snapshot, flow: Flow, idp_id: str, kind: str) -> IdpEntry:
        app = snap.access.app_by_aud(flow.aud) if flow.aud else None
        idp = next((i for i in snap.access.idps_for(app) if i.id == idp_id), None)
        if idp is None or idp.type != kind:
            raise PageError(400, "Unknown login method", "This login method is not available.")
        return idp

    def _subject(self, access: AccessConfig, identity: Identity, request: Request) -> Subject:
        groups = frozenset(identity.groups) | access.group_members.get(identity.email, frozenset())
        client = parse_client_ip(request.client.host) if request.client else None
        return Subject(client_ip=client, identity=identity, groups=groups)

    def _may_log_in(
        self, snap: Snapshot, flow: Flow, email: str, idp: IdpEntry, request: Request
    ) -> bool:
        """Would a PIN login as ``email`` get anywhere (the flow's app, or any app)?"""
        access = snap.access
        subject = self._subject(access, Identity("pending", email, idp.id, idp.type), request)
        app = access.app_by_aud(flow.aud) if flow.aud else None
        candidates = [app] if app is not None else list(access.apps)
        return any(evaluate(a, subject).verdict is Verdict.ALLOW for a in candidates)

    async def _identity(
        self, snap: Snapshot, email: str, name: str, idp: IdpEntry, idp_groups: tuple[str, ...]
    ) -> Identity:
        user_id = await self._store.record_login(
            email=email, name=name, idp_id=idp.id, now=self._clock()
        )
        groups = tuple(
            dict.fromkeys([*idp_groups, *sorted(snap.access.group_members.get(email, ()))])
        )
        return Identity(user_id, email, idp.id, idp.type, name, groups)
