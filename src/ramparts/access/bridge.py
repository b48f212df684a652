"""Call an ASGI app (the team pages) with one buffered request, for listeners that are not
ASGI servers themselves (the edge's HTTPS listener speaks HTTP/1.1 through its own parser).

Team pages take small forms and answer small pages, so both bodies are buffered and bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message

MAX_REQUEST_BODY = 64 * 1024  # team forms are under 1 KiB; the listener should refuse more
MAX_RESPONSE_BODY = 1024 * 1024  # pages and the JWKS are a few KiB


class BridgeError(Exception):
    """The app did not produce a complete, bounded response."""


@dataclass(slots=True)
class AsgiResponse:
    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


async def call_asgi(
    app: ASGIApp,
    *,
    method: str,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    client_ip: str,
    server: tuple[str, int] = ("", 443),
    scheme: str = "https",
    extra_scope: Mapping[str, Any] | None = None,
) -> AsgiResponse:
    """Run ``app`` on one request. ``target`` is the origin-form request target (path and
    query); ``headers`` must include ``host``."""
    if len(body) > MAX_REQUEST_BODY:
        raise BridgeError("request body too large for the team pages")
    raw_path, _, query = target.partition(b"?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": scheme,
        "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in headers],
        "client": (client_ip, 0),
        "server": server,
        **(extra_scope or {}),
    }
    response = AsgiResponse()
    chunks: list[bytes] = []
    size = 0
    sent_body = False
    complete = False

    async def receive() -> Message:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal size, complete
        if message["type"] == "http.response.start":
            response.status = int(message["status"])
            response.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            data = bytes(message.get("body", b""))
            size += len(data)
            if size > MAX_RESPONSE_BODY:
                raise BridgeError("team page response too large")
            chunks.append(data)
            if not message.get("more_body", False):
                complete = True

    await app(scope, receive, send)
    if not complete:
        raise BridgeError("the team app ended without a complete response")
    response.body = b"".join(chunks)
    return response
