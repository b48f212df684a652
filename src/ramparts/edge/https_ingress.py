"""The edge's public HTTPS listener: routes requests by Host.

Until hostnames are routed to tunnels and applications (the Tunnel and Access issues), every
host gets the "no application" page; the listener, its certificate and its metrics are real.
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from ramparts.config.snapshot import Snapshot
from ramparts.edge.metrics import EdgeMetrics
from ramparts.edge.service import Health
from ramparts.serving import AsgiServer

SERVICE = "https"


class HttpsIngress:
    name = SERVICE

    def __init__(
        self,
        host: str,
        port: int,
        certfile: Path,
        keyfile: Path,
        metrics: EdgeMetrics,
        drain_timeout: float,
    ) -> None:
        self._host, self._port = host, port
        self._certfile, self._keyfile = certfile, keyfile
        self._metrics = metrics
        self._drain_timeout = drain_timeout
        self._snapshot: Snapshot | None = None
        self._server: AsgiServer | None = None
        self._address = ""

    @property
    def addresses(self) -> dict[str, str]:
        return {SERVICE: self._address} if self._address else {}

    async def start(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        port = self._port
        self._server = AsgiServer(
            "edge-https",
            self,
            self._host,
            port,
            certfile=self._certfile,
            keyfile=self._keyfile,
            drain_timeout=self._drain_timeout,
        )
        await self._server.start()
        self._address = self._server.address
        self._port = self._server.port  # a restart keeps the port chosen the first time

    def apply(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    def health(self) -> Health:
        if self._server is None or not self._server.running:
            return Health(False, "listener is not running")
        return Health(True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        snapshot = self._snapshot  # this request is served on the snapshot current at its start
        request = Request(scope, receive)
        response = self._route(request, snapshot)
        self._metrics.requests.labels(SERVICE, f"{response.status_code // 100}xx").inc()
        await response(scope, receive, send)

    def _route(self, request: Request, snapshot: Snapshot | None) -> Response:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower()
        if request.url.path == "/cdn-cgi/health":
            return PlainTextResponse("ok\n")
        team = html.escape(snapshot.team_domain if snapshot else "")
        body = (
            "<!doctype html><html><head><meta charset='utf-8'><title>404 No application</title>"
            "</head><body><h1>No application here</h1>"
            f"<p>No application or tunnel is routed for <code>{html.escape(host)}</code> "
            f"on team <code>{team}</code>.</p></body></html>"
        )
        return HTMLResponse(body, status_code=404)
