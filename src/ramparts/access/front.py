"""``AccessFront``: the one object the edge's HTTPS listener holds for Access.

    front = AccessFront(db=ctx.db)                 # in the listener's __init__
    front.start(public_port)                       # once the port is bound
    decision = front.check(host, path, method, headers, client_ip, snapshot)
    match decision:
        Forward   -> drop decision.remove_headers, add decision.add_headers, open the stream
        Respond   -> answer decision.status / headers / body from the edge
        ServeTeamApp -> read the body (<= MAX_TEAM_BODY), then
                        reply = await front.team_page(snapshot=..., method=..., target=...,
                                                      headers=..., body=..., client_ip=...)
                        and answer reply.status / reply.headers / reply.body
    await front.aclose()                           # in the listener's stop()

``check`` is synchronous and cheap (no I/O); ``team_page`` awaits the team pages (OIDC and
store calls happen there, off the request path of ordinary proxied traffic).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from ramparts.access.bridge import MAX_REQUEST_BODY, AsgiResponse, call_asgi
from ramparts.access.gate import AccessDecision, AccessGate
from ramparts.access.http import PublicUrls
from ramparts.access.login_store import DatabaseLoginStore, LoginStore
from ramparts.access.team_app import SNAPSHOT_SCOPE_KEY, TeamApp
from ramparts.config.snapshot import Snapshot
from ramparts.store import Database

MAX_TEAM_BODY = MAX_REQUEST_BODY  # request bodies the listener reads for the team pages


class AccessFront:
    def __init__(
        self,
        *,
        db: Database | None = None,
        store: LoginStore | None = None,
        public_port: int = 443,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        if store is None:
            if db is None:
                raise ValueError("AccessFront needs a database or a login store")
            store = DatabaseLoginStore(db)
        self._latest: Snapshot | None = None
        self.urls = PublicUrls("https", public_port)
        self.gate = AccessGate(self.urls, clock=clock)
        self.team_app = TeamApp(snapshot=self._current, store=store, urls=self.urls, clock=clock)

    def start(self, public_port: int) -> None:
        """Set the port browsers use (known once the listener is bound; 443 omitted in URLs)."""
        urls = PublicUrls("https", public_port)
        self.urls = urls
        self.gate.urls = urls
        self.team_app.urls = urls

    def check(
        self,
        host: str,
        path: str,
        method: str,
        headers: Sequence[tuple[bytes, bytes]],
        client_ip: str,
        snapshot: Snapshot,
    ) -> AccessDecision:
        self._latest = snapshot
        return self.gate.check(host, path, method, headers, client_ip, snapshot)

    async def team_page(
        self,
        *,
        snapshot: Snapshot,
        method: str,
        target: bytes,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        client_ip: str,
    ) -> AsgiResponse:
        """Answer a request the gate sent to the team pages (``ServeTeamApp``)."""
        return await call_asgi(
            self.team_app,
            method=method,
            target=target,
            headers=headers,
            body=body,
            client_ip=client_ip,
            server=("", self.urls.port),
            extra_scope={SNAPSHOT_SCOPE_KEY: snapshot},
        )

    async def aclose(self) -> None:
        await self.team_app.aclose()

    def _current(self) -> Snapshot:
        if self._latest is None:
            raise RuntimeError("no snapshot seen yet")
        return self._latest
