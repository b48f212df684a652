"""Pages the proxy answers itself: the block page, refusals, and errors."""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Page:
    """A complete response from the proxy."""

    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()
    content_type: bytes = b"text/html; charset=utf-8"

    def head_fields(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", self.content_type),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", b"no-store"),
            *self.headers,
        ]


def page(status: int, title: str, text: str, *, extra: str = "") -> bytes:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{status} {html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:4em auto;color:#222}"
        "h1{font-size:1.4em}.why{color:#555}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{extra}"
        "<hr><p class='why'>Ramparts secure web gateway</p></body></html>"
    ).encode()


def block_page(host: str, url: str, policy_name: str, reason: str) -> Page:
    extra = f"<p class='why'>Blocked by policy <b>{html.escape(policy_name or 'default')}</b>"
    if reason:
        extra += f": {html.escape(reason)}"
    extra += "</p>"
    text = f"Your organisation's web policy does not allow {url or host}."
    return Page(403, page(403, "This site is blocked", text, extra=extra))


def error_page(status: int, title: str, text: str) -> Page:
    return Page(status, page(status, title, text))


def proxy_auth_page(endpoint_name: str, login_url: str | None, problem: str = "") -> Page:
    """407 with a body that says how to get in."""
    how = "Send a proxy token (curl --proxy-user EMAIL:TOKEN, or Proxy-Authorization: Bearer TOKEN)"
    if login_url:
        how += f", or sign in with your browser at {login_url}"
    text = f"The proxy endpoint {endpoint_name} identifies every user. {how}."
    extra = f"<p class='why'>{html.escape(problem)}.</p>" if problem else ""
    realm = f'Basic realm="Ramparts proxy {endpoint_name}", charset="UTF-8"'.encode()
    return Page(
        407,
        page(407, "Proxy authentication required", text, extra=extra),
        headers=((b"proxy-authenticate", realm),),
    )


def redirect_page(location: str) -> Page:
    body = page(302, "Redirecting", f"Continue at {location}.")
    return Page(302, body, headers=((b"location", location.encode("latin-1", "replace")),))


def text_page(status: int, body: bytes, content_type: bytes) -> Page:
    return Page(status, body, content_type=content_type)
