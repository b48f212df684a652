"""The tokens of the team pages: reading the team and application sessions from cookies,
issuing the team session cookie, and the short signed state of a login in progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from starlette.requests import Request

from ramparts.access.forms import Flow, PageError, request_cookies
from ramparts.access.gate import revoked, team_issuer
from ramparts.access.http import (
    ACCESS_PREFIX,
    SESSION_COOKIE,
    PublicUrls,
    cookie_values,
    set_cookie,
)
from ramparts.config.access import host_matches
from ramparts.config.snapshot import Snapshot
from ramparts.identity.errors import TokenError
from ramparts.identity.tokens import Identity, TokenType, VerifiedToken, issue, verify

FLOW_LIFETIME = dt.timedelta(minutes=15)  # a login page may stay open this long
LOGIN_AUD = "ramparts:login"


class SessionTokens:
    def __init__(self, urls: PublicUrls, clock: Callable[[], dt.datetime]) -> None:
        self.urls = urls
        self.clock = clock

    def issuer(self, snap: Snapshot) -> str:
        return team_issuer(self.urls, snap.team_domain)

    def callback_url(self, snap: Snapshot) -> str:
        return f"{self.urls.origin(snap.team_domain)}{ACCESS_PREFIX}callback"

    def team_session(self, request: Request, snap: Snapshot) -> Identity | None:
        for token in cookie_values(request_cookies(request), SESSION_COOKIE):
            try:
                verified = verify(
                    token,
                    snap.access.keys,
                    type=TokenType.TEAM,
                    issuer=self.issuer(snap),
                    audience=snap.team_domain,
                    now=self.clock(),
                )
            except TokenError:
                continue
            if verified.identity is not None and not revoked(snap.access, verified):
                return verified.identity
        return None

    def app_session(self, request: Request, snap: Snapshot, host: str) -> VerifiedToken | None:
        for token in cookie_values(request_cookies(request), SESSION_COOKIE):
            try:
                unverified = jwt.decode(token, options={"verify_signature": False}).get("aud")
            except jwt.PyJWTError:
                continue
            aud = unverified[0] if isinstance(unverified, list) and unverified else None
            app = snap.access.app_by_aud(aud) if isinstance(aud, str) else None
            if app is None or not host_matches(app.domain, host):
                continue
            try:
                return verify(
                    token,
                    snap.access.keys,
                    type=TokenType.APP,
                    issuer=self.issuer(snap),
                    audience=app.aud,
                    now=self.clock(),
                )
            except TokenError:
                continue
        return None

    def team_cookie(self, snap: Snapshot, identity: Identity) -> str:
        lifetime = snap.access.team_session
        token = issue(
            snap.access.keys,
            type=TokenType.TEAM,
            issuer=self.issuer(snap),
            audience=snap.team_domain,
            now=self.clock(),
            lifetime=lifetime,
            identity=identity,
        )
        return set_cookie(
            SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()), secure=self.urls.secure
        )

    def sign(self, snap: Snapshot, aud: str, lifetime: dt.timedelta, extra: dict[str, Any]) -> str:
        try:
            return issue(
                snap.access.keys,
                type=TokenType.STATE,
                issuer=self.issuer(snap),
                audience=aud,
                now=self.clock(),
                lifetime=lifetime,
                extra=extra,
            )
        except TokenError as exc:
            raise PageError(503, "Access is not set up", str(exc)) from None

    def verified_state(self, snap: Snapshot, tokens: list[str], aud: str) -> VerifiedToken | None:
        for token in tokens:
            try:
                return verify(
                    token,
                    snap.access.keys,
                    type=TokenType.STATE,
                    issuer=self.issuer(snap),
                    audience=aud,
                    now=self.clock(),
                )
            except TokenError:
                continue
        return None

    def flow_token(self, snap: Snapshot, flow: Flow) -> str:
        return self.sign(snap, LOGIN_AUD, FLOW_LIFETIME, {"flow": flow.claims()})

    def read_flow(self, snap: Snapshot, form: Mapping[str, str]) -> Flow:
        state = self.verified_state(snap, [form.get("flow", "")], LOGIN_AUD)
        if state is None:
            raise PageError(400, "Login expired", "This login page is too old. Start again.")
        return Flow.from_claims(state.extra.get("flow"))
