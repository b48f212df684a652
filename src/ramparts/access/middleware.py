"""The Access gate in front of any ASGI app: the reference wiring of :class:`AccessGate`
and the team pages (what the edge's HTTPS listener does with its own HTTP/1.1 stack)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from ramparts.access.gate import AccessGate, Forward, Respond, ServeTeamApp
from ramparts.config.snapshot import Snapshot


class AccessMiddleware:
    def __init__(
        self,
        origin: ASGIApp,
        *,
        gate: AccessGate,
        team_app: ASGIApp,
        snapshot: Callable[[], Snapshot],
    ) -> None:
        self._origin = origin
        self._gate = gate
        self._team = team_app
        self._snapshot = snapshot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._origin(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        host = b""
        for key, value in headers:
            if key == b"host":
                host = value
                break
        hostname = host.decode("latin-1").rsplit(":", 1)[0].strip("[]").lower()
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        client = scope.get("client") or ("", 0)
        decision = self._gate.check(
            hostname,
            target.decode("latin-1"),
            scope["method"],
            headers,
            str(client[0]),
            self._snapshot(),
        )
        if isinstance(decision, ServeTeamApp):
            await self._team(scope, receive, send)
        elif isinstance(decision, Respond):
            await send(
                {
                    "type": "http.response.start",
                    "status": decision.status,
                    "headers": list(decision.headers),
                }
            )
            await send({"type": "http.response.body", "body": decision.body})
        else:
            assert isinstance(decision, Forward)
            kept = [(k, v) for k, v in headers if k.lower() not in decision.remove_headers]
            await self._origin({**scope, "headers": [*kept, *decision.add_headers]}, receive, send)
