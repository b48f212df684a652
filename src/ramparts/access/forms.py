"""Forms, cookies and small responses of the team pages: CSRF double-submit checks, the
login flow carried through a login, error pages."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ramparts.access import pages
from ramparts.access.http import CSRF_COOKIE, cookie_values, safe_return_path, set_cookie

FORM_MAX_BYTES = 16 * 1024  # our forms carry a few hundred bytes
FORM_MAX_FIELDS = 16
CSRF_LIFETIME = 86400


class PageError(Exception):
    """Ends a request with an error page."""

    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(text)
        self.status, self.title, self.text = status, title, text


@dataclass(frozen=True, slots=True)
class Flow:
    """Where a login goes when it is done: an application (AUD, host, path, nonce), or the
    launcher (empty AUD)."""

    aud: str = ""
    host: str = ""
    path: str = "/"
    nonce: str = ""

    def claims(self) -> dict[str, str]:
        return {"aud": self.aud, "host": self.host, "path": self.path, "nonce": self.nonce}

    @classmethod
    def from_claims(cls, value: Any) -> Flow:
        if not isinstance(value, Mapping) or not all(
            isinstance(value.get(k), str) for k in ("aud", "host", "path", "nonce")
        ):
            raise PageError(400, "Login expired", "This login page is too old. Start again.")
        return cls(value["aud"], value["host"], safe_return_path(value["path"]), value["nonce"])


def csrf_token(request: Request, *, secure: bool) -> tuple[str, str | None]:
    """The browser's CSRF token, and a Set-Cookie value when it needs a new one."""
    existing = cookie_values(request_cookies(request), CSRF_COOKIE)
    if existing and len(existing[0]) >= 32:
        return existing[0], None
    token = secrets.token_urlsafe(32)
    return token, set_cookie(
        CSRF_COOKIE, token, max_age=CSRF_LIFETIME, secure=secure, same_site="strict"
    )


async def read_form(request: Request, *, origin: str) -> dict[str, str]:
    """A urlencoded form that passes the CSRF checks: the ``csrf`` field equals the CSRF
    cookie, and an ``Origin`` header, when sent, is this host's own origin."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise PageError(415, "Bad request", "Forms are sent urlencoded.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_MAX_BYTES:
            raise PageError(413, "Bad request", "This form is too large.")
    try:
        parsed = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=FORM_MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "Bad request", "This form cannot be read.") from None
    form = {k: v[0] for k, v in parsed.items()}
    sent_origin = request.headers.get("origin")
    if sent_origin is not None and sent_origin != origin:
        raise PageError(403, "Forbidden", "This form was sent from another site.")
    presented = form.get("csrf", "")
    cookies = cookie_values(request_cookies(request), CSRF_COOKIE)
    if not presented or not any(
        hmac.compare_digest(presented.encode(), c.encode()) for c in cookies
    ):
        raise PageError(403, "Forbidden", "This form has expired. Reload the page.")
    return form


def request_cookies(request: Request) -> list[bytes]:
    return [v for k, v in request.scope["headers"] if k == b"cookie"]


def html_page(status: int, body: str, cookies: list[str] | None = None) -> Response:
    response = HTMLResponse(body, status_code=status, headers=pages.PAGE_HEADERS)
    for cookie in cookies or []:
        response.headers.append("set-cookie", cookie)
    return response


def redirect(location: str, cookies: list[str]) -> Response:
    response = RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})
    for cookie in cookies:
        response.headers.append("set-cookie", cookie)
    return response
