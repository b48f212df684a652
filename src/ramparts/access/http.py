"""Small HTTP helpers shared by the gate and the team pages: cookies, public URLs, safe
return paths, browser detection."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

SESSION_COOKIE = "CF_Authorization"  # the brief's cookie name, on the team domain and each app
NONCE_COOKIE = "__Host-ramparts_nonce"  # binds a login hand-over to the browser that started it
CSRF_COOKIE = "__Host-ramparts_csrf"  # double-submit token of the login and logout forms
OIDC_COOKIE = "__Host-ramparts_oidc"  # state of an OIDC round trip (signed, ten minutes)
ACCESS_PREFIX = "/cdn-cgi/access/"
MAX_COOKIE_VALUES = 8  # CF_Authorization values looked at per request (cookie tossing bound)
MAX_RETURN_PATH = 2048  # a return path longer than this is replaced by "/"

Headers = Sequence[tuple[bytes, bytes]]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class PublicUrls:
    """How browsers reach the edge's HTTPS listener (scheme and port of absolute URLs)."""

    scheme: str = "https"
    port: int = 443

    def origin(self, host: str) -> str:
        default = 443 if self.scheme == "https" else 80
        return (
            f"{self.scheme}://{host}"
            if self.port == default
            else f"{self.scheme}://{host}:{self.port}"
        )

    @property
    def secure(self) -> bool:
        return self.scheme == "https"


def header(headers: Headers, name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def cookie_values(cookie_headers: Iterable[bytes], name: str) -> list[str]:
    """Every value of cookie ``name`` (several are possible: sibling hosts can toss cookies)."""
    found: list[str] = []
    wanted = name.encode()
    for raw in cookie_headers:
        for part in raw.split(b";"):
            key, sep, value = part.strip().partition(b"=")
            if sep and key == wanted:
                found.append(value.strip().strip(b'"').decode("latin-1"))
                if len(found) >= MAX_COOKIE_VALUES:
                    return found
    return found


def set_cookie(
    name: str,
    value: str,
    *,
    max_age: int,
    secure: bool,
    same_site: str = "Lax",
    path: str = "/",
) -> str:
    """A Set-Cookie value: host-only (no Domain), HttpOnly, Secure when served over HTTPS."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly"]
    if secure or same_site.lower() == "none":
        parts.append("Secure")
    parts.append(f"SameSite={same_site.capitalize()}")
    return "; ".join(parts)


def clear_cookie(name: str, *, secure: bool) -> str:
    return set_cookie(name, "", max_age=0, secure=secure)


def safe_return_path(value: str | None) -> str:
    """A local path to send the browser back to: never another host, never a scheme.

    Refuses what browsers would read as absolute (``//host``, ``/\\host``, ``https:``) and
    anything with control characters; the result always starts with a single ``/``.
    """
    if not value or len(value) > MAX_RETURN_PATH or _CONTROL.search(value):
        return "/"
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc:
        return "/"
    return value


def is_browser(method: str, headers: Headers) -> bool:
    """A top-level browser navigation that a redirect to a login page can serve: GET/HEAD,
    HTML accepted, and not an XHR/fetch marked by ``X-Requested-With``."""
    if method not in ("GET", "HEAD"):
        return False
    accept = b""
    for key, value in headers:
        lower = key.lower()
        if lower == b"x-requested-with":
            return False
        if lower == b"accept":
            accept += value
    return b"text/html" in accept
