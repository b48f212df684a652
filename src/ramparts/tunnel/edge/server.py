"""The edge's tunnel server: connectors dial it (TLS over TCP, port 7844) and register.

A connector proves which tunnel it serves with one of the tunnel's secrets (checked against the
digests in the current snapshot). Every registered connection is recorded in the store so the
API can show it, and leaves the registry the moment its transport closes. A snapshot that
deletes the tunnel or revokes the credential closes the connections that depended on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from pathlib import Path

from ramparts import __version__, secrets
from ramparts.config.snapshot import Snapshot
from ramparts.edge.metrics import EdgeMetrics
from ramparts.edge.service import Health
from ramparts.pki.tls import server_context
from ramparts.serving import bind_tcp, bound_address
from ramparts.store import Database
from ramparts.store.models import TunnelConnectionRecord
from ramparts.store.repositories import tunnel_routes
from ramparts.tunnel.edge.registry import LiveConnection, TunnelRegistry
from ramparts.tunnel.mux import MuxConnection
from ramparts.tunnel.protocol import (
    ConfigAcknowledged,
    ErrorCode,
    RegisteredInfo,
    RegisterRequest,
    Role,
    TunnelConnection,
    TunnelError,
)

log = logging.getLogger(__name__)

SERVICE = "tunnel"
ALPN = "ramparts-tunnel/1"
REGISTRATION_TIMEOUT = 10.0  # a dialer that does not register in time is dropped (slow loris)
MAX_CONNECTIONS = 4096  # connector connections per edge, registered or not


class TunnelServer:
    name = SERVICE

    def __init__(
        self,
        *,
        host: str,
        port: int,
        certfile: Path,
        keyfile: Path,
        db: Database,
        edge_id: str,
        edge_name: str,
        metrics: EdgeMetrics,
        registry: TunnelRegistry,
        drain_timeout: float,
    ) -> None:
        self._host, self._port = host, port
        self._ssl = server_context(certfile, keyfile, alpn=[ALPN])
        self._db = db
        self._edge_id, self._edge_name = edge_id, edge_name
        self._metrics = metrics
        self.registry = registry
        self._drain_timeout = drain_timeout
        self._snapshot: Snapshot | None = None
        self._server: asyncio.Server | None = None
        self._pending: set[MuxConnection] = set()
        self._accepted: dict[MuxConnection, LiveConnection] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._address = ""

    @property
    def addresses(self) -> dict[str, str]:
        return {SERVICE: self._address} if self._address else {}

    async def start(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        sock = bind_tcp(self._host, self._port)
        self._address = bound_address(sock)
        self._port = int(sock.getsockname()[1])
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_connection, sock=sock, ssl=self._ssl)
        log.info("listening", extra={"service": SERVICE, "address": self._address})

    def apply(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        for live in self.registry:
            entry = snapshot.tunnel(live.tunnel_id)
            if entry is None or live.credential_digest not in entry.credential_digests:
                log.info(
                    "closing connection: tunnel deleted or credential revoked",
                    extra={"tunnel": live.tunnel_id, "connection": live.id},
                )
                live.mux.close(ErrorCode.UNAUTHORIZED, "tunnel deleted or credentials revoked")
            else:
                self._push_config(live, snapshot)

    def _push_config(self, live: LiveConnection, snapshot: Snapshot) -> None:
        """Send the tunnel's remotely managed configuration if this connection lacks it."""
        entry = snapshot.tunnel(live.tunnel_id)
        if entry is None or entry.config_version <= live.config_version or not live.usable:
            return
        try:
            live.mux.push_config(entry.config_version, entry.config_json)
        except TunnelError as exc:
            log.warning("config push failed", extra={"connection": live.id, "reason": str(exc)})
            return
        live.config_version = entry.config_version

    def _on_event(self, mux: MuxConnection, event: object) -> None:
        if isinstance(event, ConfigAcknowledged):
            log.info(
                "connector acknowledged configuration",
                extra={
                    "origin_ip": mux.peer_address,
                    "config_version": event.version,
                    "applied": event.applied,
                    "reason": event.reason,
                },
            )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        connections = list(self.registry)
        for live in connections:
            live.mux.goaway("edge shutting down")
        if connections:
            await asyncio.wait(
                [asyncio.ensure_future(c.mux.drain(self._drain_timeout)) for c in connections],
                timeout=self._drain_timeout + 1,
            )
        for mux in list(self._pending):
            mux.abort()
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._forget_all)

    def health(self) -> Health:
        if self._server is None or not self._server.is_serving():
            return Health(False, "listener is not running")
        return Health(True, f"{len(self.registry)} connector connections")

    # -- connections ---------------------------------------------------------------------

    def _new_connection(self) -> MuxConnection:
        holder: list[MuxConnection] = []
        mux = MuxConnection(
            TunnelConnection(Role.EDGE),
            authenticate=self._authenticate,
            on_event=lambda event: self._on_event(holder[0], event),
        )
        holder.append(mux)
        if len(self._pending) + len(self.registry) >= MAX_CONNECTIONS:
            asyncio.get_running_loop().call_soon(mux.abort)
            return mux
        self._pending.add(mux)
        task = asyncio.get_running_loop().create_task(
            self._supervise(mux), name="tunnel-connection"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return mux

    def _authenticate(self, mux: MuxConnection, request: RegisterRequest) -> RegisteredInfo | None:
        snapshot = self._snapshot
        entry = snapshot.tunnel(str(request.tunnel_id)) if snapshot else None
        try:
            presented = request.secret.decode("utf-8")
        except UnicodeDecodeError:
            presented = ""
        matched = None
        if entry is not None and presented:
            for stored in entry.credential_digests:
                if secrets.matches(presented, stored):
                    matched = stored
                    break
        if entry is None or matched is None:
            log.warning(
                "connector registration refused",
                extra={"tunnel": str(request.tunnel_id), "origin_ip": mux.peer_address},
            )
            self._metrics.tunnel_registrations.labels("refused").inc()
            return None
        connection_id = str(uuid.uuid4())
        self._accepted[mux] = LiveConnection(
            id=connection_id,
            tunnel_id=entry.id,
            connector_id=str(request.connector_id),
            index=request.connection_index,
            version=request.version[:64],
            origin_ip=mux.peer_address,
            credential_digest=matched,
            mux=mux,
        )
        self._metrics.tunnel_registrations.labels("accepted").inc()
        return RegisteredInfo(
            connection_id=uuid.UUID(connection_id),
            edge_name=self._edge_name,
            features=("http", "tcp"),
            extensions={"edge_version": __version__},
        )

    async def _supervise(self, mux: MuxConnection) -> None:
        try:
            await asyncio.wait_for(asyncio.shield(mux.registered), REGISTRATION_TIMEOUT)
        except Exception:
            self._pending.discard(mux)
            self._accepted.pop(mux, None)
            mux.abort()
            return
        self._pending.discard(mux)
        live = self._accepted.pop(mux, None)
        if live is None:
            mux.abort()
            return
        self.registry.add(live)
        self._metrics.tunnel_connections.inc()
        if self._snapshot is not None:
            self._push_config(live, self._snapshot)
        log.info(
            "connector registered",
            extra={
                "tunnel": live.tunnel_id,
                "connection": live.id,
                "connector": live.connector_id,
                "index": live.index,
                "origin_ip": live.origin_ip,
            },
        )
        try:
            await asyncio.to_thread(self._record, live)
        except Exception as exc:
            log.warning("could not record tunnel connection", extra={"reason": repr(exc)})
        try:
            await mux.closed
        finally:
            self.registry.remove(live)
            self._metrics.tunnel_connections.dec()
            log.info(
                "connector disconnected",
                extra={"tunnel": live.tunnel_id, "connection": live.id, "reason": mux.close_reason},
            )
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._forget, live.id)

    def _record(self, live: LiveConnection) -> None:
        with self._db.transaction() as session:
            tunnel_routes.record_connection(
                session,
                TunnelConnectionRecord(
                    id=live.id,
                    tunnel_id=live.tunnel_id,
                    edge_id=self._edge_id,
                    edge_name=self._edge_name,
                    connector_id=live.connector_id,
                    connection_index=live.index,
                    origin_ip=live.origin_ip,
                    client_version=live.version,
                    protocol="tcp",
                    opened_at=live.opened_at,
                ),
            )

    def _forget(self, connection_id: str) -> None:
        with self._db.transaction() as session:
            tunnel_routes.forget_connection(session, connection_id)

    def _forget_all(self) -> None:
        with self._db.transaction() as session:
            tunnel_routes.forget_edge(session, self._edge_id)
