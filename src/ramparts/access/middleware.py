"""The Access front in front of any ASGI app, doing exactly what the edge's HTTPS listener
does with :class:`AccessFront` (check, then forward / respond / buffer and ask the team
pages). Tests drive whole login flows through it; it can also protect local ASGI apps."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ramparts.access.front import MAX_TEAM_BODY, AccessFront
from ramparts.access.gate import Forward, Respond, ServeTeamApp
from ramparts.config.snapshot import Snapshot


class AccessMiddleware:
    def __init__(
        self, origin: ASGIApp, *, front: AccessFront, snapshot: Callable[[], Snapshot]
    ) -> None:
        self._origin = origin
        self._front = front
        self._snapshot = snapshot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._origin(scope, receive, send)
            return
        snapshot = self._snapshot()  # the request keeps this snapshot to the end
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        host = next((v for k, v in headers if k == b"host"), b"")
        hostname = host.decode("latin-1").rsplit(":", 1)[0].strip("[]").lower()
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        client = str((scope.get("client") or ("", 0))[0])
        method = scope["method"]
        decision = self._front.check(
            hostname, target.decode("latin-1"), method, headers, client, snapshot
        )
        if isinstance(decision, Forward):
            kept = [(k, v) for k, v in headers if k.lower() not in decision.remove_headers]
            forwarded = {**scope, "headers": [*kept, *decision.add_headers]}
            await self._origin(forwarded, receive, send)
            return
        if isinstance(decision, ServeTeamApp):
            body = await _read_body(receive)
            if body is None:
                await _answer(send, 413, [(b"content-type", b"text/plain")], b"too large\n")
                return
            reply = await self._front.team_page(
                snapshot=snapshot,
                method=method,
                target=target,
                headers=headers,
                body=body,
                client_ip=client,
            )
            await _answer(send, reply.status, reply.headers, reply.body)
            return
        assert isinstance(decision, Respond)
        await _answer(send, decision.status, list(decision.headers), decision.body)


async def _read_body(receive: Receive) -> bytes | None:
    body = bytearray()
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return bytes(body)
        body += message.get("body", b"")
        if len(body) > MAX_TEAM_BODY:
            return None
        if not message.get("more_body", False):
            return bytes(body)


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
