"""The connector's supervisor: N long-lived connections to the edges, kept up with backoff.

Connection ``i`` dials edge ``i mod len(edges)``, so four connections over two edges are two on
each. A lost connection redials with jittered exponential backoff; a refused registration waits
at least what the edge asked. Shutdown sends GOAWAY on every connection (the edges stop sending
new requests at once), lets in-flight streams finish within the grace period, then closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ramparts import __version__
from ramparts.pki.tls import pinned_client_context
from ramparts.tunnel.mux import MuxConnection, RegistrationError, StreamHandler
from ramparts.tunnel.protocol import (
    ConfigPushed,
    RegisteredInfo,
    RegisterRequest,
    Role,
    Settings,
    TunnelConnection,
    TunnelError,
)
from ramparts.tunnel.token import ConnectorToken

log = logging.getLogger(__name__)

ALPN = "ramparts-tunnel/1"
DIAL_TIMEOUT = 10.0  # TCP + TLS handshake
REGISTER_TIMEOUT = 10.0
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 15.0  # a recovered edge is used again within ~15 s
DEFAULT_HA_CONNECTIONS = 4
DEFAULT_GRACE_PERIOD = 30.0


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"edge address {address!r} is not host:port")
    host = host.strip("[]")
    if not host or not 0 < int(port) < 65536:
        raise ValueError(f"edge address {address!r} is not host:port")
    return host, int(port)


@dataclass(slots=True)
class HaConnection:
    """One of the connector's connections, and what is known about it."""

    index: int
    edge: str
    mux: MuxConnection | None = None
    info: RegisteredInfo | None = None
    attempts: int = 0
    last_error: str = ""

    @property
    def registered(self) -> bool:
        return self.mux is not None and self.mux.is_open


# Applies a pushed configuration snapshot: (applied, reason).
ConfigHandler = Callable[[int, bytes], tuple[bool, str]]


@dataclass(slots=True)
class ConnectorSupervisor:
    token: ConnectorToken
    handler: StreamHandler
    ha_connections: int = DEFAULT_HA_CONNECTIONS
    on_config: ConfigHandler | None = None
    settings: Settings = field(default_factory=Settings)  # what this connector accepts
    connector_id: uuid.UUID = field(default_factory=uuid.uuid4)
    connections: list[HaConnection] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _ssl: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        edges = self.token.edge_addresses
        self.connections = [
            HaConnection(i, edges[i % len(edges)]) for i in range(self.ha_connections)
        ]
        context = pinned_client_context(self.token.ca_pem)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.set_alpn_protocols([ALPN])
        self._ssl = context

    @property
    def registered_count(self) -> int:
        return sum(1 for c in self.connections if c.registered)

    def start(self) -> None:
        for connection in self.connections:
            self._tasks.append(
                asyncio.create_task(
                    self._keep_up(connection), name=f"ha-connection-{connection.index}"
                )
            )

    async def shutdown(self, grace: float) -> None:
        """Unregister everywhere (GOAWAY), drain in-flight streams up to ``grace``, close."""
        self._stopping.set()
        live = [c.mux for c in self.connections if c.mux is not None]
        if live:
            await asyncio.gather(*(mux.drain(grace) for mux in live), return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_up(self, connection: HaConnection) -> None:
        delay = BACKOFF_FIRST
        while not self._stopping.is_set():
            connection.attempts += 1
            retry_after = 0.0
            try:
                mux = await self._connect(connection)
            except RegistrationError as exc:
                connection.last_error = str(exc)
                retry_after = float(exc.retry_after)
                log.error(
                    "edge refused the connector: check the token",
                    extra={"edge": connection.edge, "index": connection.index},
                )
            except (OSError, ssl.SSLError, TimeoutError, ConnectionError, ValueError) as exc:
                connection.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "cannot connect to edge",
                    extra={
                        "edge": connection.edge,
                        "index": connection.index,
                        "reason": connection.last_error,
                    },
                )
            else:
                delay = BACKOFF_FIRST
                if self._stopping.is_set():  # shutdown began while this one registered
                    await mux.drain(0)
                await mux.closed
                connection.mux = None
                connection.info = None
                if self._stopping.is_set():
                    return
                log.warning(
                    "connection to edge lost",
                    extra={
                        "edge": connection.edge,
                        "index": connection.index,
                        "reason": mux.close_reason,
                    },
                )
            wait = max(retry_after, delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, BACKOFF_MAX)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)

    def _mux_factory(self) -> MuxConnection:
        holder: list[MuxConnection] = []
        mux = MuxConnection(
            TunnelConnection(Role.CONNECTOR, self.settings),
            on_stream=self.handler,
            on_event=lambda event: self._on_event(holder[0], event),
        )
        holder.append(mux)
        return mux

    def _on_event(self, mux: MuxConnection, event: object) -> None:
        if not isinstance(event, ConfigPushed):
            return
        if self.on_config is None:
            applied, reason = False, "this connector does not take remote configuration"
        else:
            applied, reason = self.on_config(event.version, event.snapshot)
        with contextlib.suppress(TunnelError):
            mux.ack_config(event.version, applied, reason)

    async def _connect(self, connection: HaConnection) -> MuxConnection:
        host, port = split_address(connection.edge)
        loop = asyncio.get_running_loop()
        _transport, mux = await asyncio.wait_for(
            loop.create_connection(
                self._mux_factory,
                host,
                port,
                ssl=self._ssl,
                server_hostname=host,
            ),
            DIAL_TIMEOUT,
        )
        try:
            mux.register(
                RegisterRequest(
                    tunnel_id=uuid.UUID(self.token.tunnel_id),
                    secret=self.token.secret.encode(),
                    connector_id=self.connector_id,
                    connection_index=connection.index,
                    version=f"ramparts/{__version__}",
                    features=("http", "tcp"),
                )
            )
            info = await asyncio.wait_for(asyncio.shield(mux.registered), REGISTER_TIMEOUT)
        except BaseException:
            mux.abort()
            raise
        assert isinstance(info, RegisteredInfo)
        connection.mux = mux
        connection.info = info
        connection.last_error = ""
        log.info(
            "registered with edge",
            extra={
                "edge": connection.edge,
                "edge_name": info.edge_name,
                "index": connection.index,
                "connection": str(info.connection_id),
            },
        )
        return mux
