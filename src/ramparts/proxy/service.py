"""``ProxyService``: the edge's forward proxy listeners (plain and TLS) as an edge service.

Both listeners serve every endpoint. On the TLS one ("HTTPS proxy" in PAC files) the SNI
``<endpoint-id>.proxy.<team domain>`` names the endpoint; otherwise the client's source
address or its proxy token does. PAC files are served by the plain listener at
``/pac/<endpoint-id>.pac``. The listeners' addresses are announced in the store so that the
control plane can print PAC URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import secrets
import ssl
from pathlib import Path
from urllib.parse import urlencode

from prometheus_client import CollectorRegistry

from ramparts.access.front import AccessFront
from ramparts.aio.http1 import Http1Channel
from ramparts.config.proxy import ProxyEndpointEntry
from ramparts.config.snapshot import Snapshot
from ramparts.edge.service import Health
from ramparts.http1 import ServerConnection
from ramparts.pki.tls import server_context
from ramparts.proxy.context import ProxyContext, ProxyLimits
from ramparts.proxy.destination import DestinationResolver, Listener
from ramparts.proxy.exchange import ProxyState
from ramparts.proxy.handler import ProxyConnection
from ramparts.proxy.identify import BrowserSessions
from ramparts.proxy.inspect import Inspector
from ramparts.proxy.limits import MAX_CONNECTIONS
from ramparts.proxy.origin import OriginPool
from ramparts.proxy.pac import direct_domains, render_pac
from ramparts.proxy.requestlog import RequestLog
from ramparts.proxy.verdict import HttpPolicies
from ramparts.serving import LISTEN_BACKLOG, bind_tcp, bound_address
from ramparts.store import Database, StoreUnavailable
from ramparts.store.repositories import proxy_listeners

log = logging.getLogger(__name__)

SERVICE = "proxy"
PROXY_LOGIN_PATH = "/cdn-cgi/access/proxy"
PROXY_LOGIN_AUD = "ramparts:proxy-login"
PROXY_LOGIN_LIFETIME = dt.timedelta(minutes=10)
BROWSER_LOGIN = False  # see _login_url

Channel = Http1Channel[ServerConnection]


class ProxyService:
    name = SERVICE

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls_port: int | None,
        certfile: Path,
        keyfile: Path,
        db: Database | None,
        edge_id: str,
        edge_name: str,
        registry: CollectorRegistry,
        drain_timeout: float,
        access: AccessFront | None = None,
        limits: ProxyLimits | None = None,
        resolver: DestinationResolver | None = None,
        origin_ca: Path | None = None,
        inspector: Inspector | None = None,
    ) -> None:
        self._host, self._port, self._tls_port = host, port, tls_port
        self._certfile, self._keyfile = certfile, keyfile
        self._db = db
        self._edge_id = edge_id
        self._access = access
        self._drain_timeout = drain_timeout
        verify = ssl.create_default_context(cafile=str(origin_ca) if origin_ca else None)
        self.ctx = ProxyContext(
            limits=limits or ProxyLimits(),
            resolver=resolver or DestinationResolver(),
            pool=OriginPool(verify),
            log=RequestLog(db, edge_name, registry),
            sessions=BrowserSessions(db),
            login_url=self._login_url,
            pac=self._pac,
            via=b"1.1 ramparts-" + secrets.token_hex(4).encode(),
            inspector=inspector,
        )
        self._state: ProxyState | None = None
        self._servers: list[asyncio.Server] = []
        self._addresses: dict[str, str] = {}
        self._connections: set[Channel] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- EdgeService -----------------------------------------------------------------------

    @property
    def addresses(self) -> dict[str, str]:
        return dict(self._addresses)

    async def start(self, snapshot: Snapshot) -> None:
        self.apply(snapshot)
        self.ctx.draining = False
        loop = asyncio.get_running_loop()
        plain = bind_tcp(self._host, self._port)
        self._addresses["proxy"] = bound_address(plain)
        listeners = [plain]
        self._servers.append(
            await loop.create_server(lambda: self._accept(None), sock=plain, backlog=LISTEN_BACKLOG)
        )
        if self._tls_port is not None:
            tls_sock = bind_tcp(self._host, self._tls_port)
            listeners.append(tls_sock)
            self._addresses["proxy_tls"] = bound_address(tls_sock)
            context = server_context(self._certfile, self._keyfile, alpn=["http/1.1"])
            context.sni_callback = _remember_sni
            self._servers.append(
                await loop.create_server(
                    lambda: self._accept(context),
                    sock=tls_sock,
                    ssl=context,
                    backlog=LISTEN_BACKLOG,
                )
            )
        self.ctx.listeners = [_listener(sock.getsockname()) for sock in listeners]
        self.ctx.log.start()
        await self._announce()
        for name, address in self._addresses.items():
            log.info("listening", extra={"service": name, "address": address})

    def apply(self, snapshot: Snapshot) -> None:
        self._state = ProxyState(snapshot, HttpPolicies(snapshot.gateway))

    async def stop(self) -> None:
        self.ctx.draining = True
        for server in self._servers:
            server.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self._drain_timeout)
        for channel in list(self._connections):
            channel.abort()
        self._servers.clear()
        self.ctx.pool.close()
        await self.ctx.log.stop()
        await self._withdraw()

    def health(self) -> Health:
        if not self._servers or not all(s.is_serving() for s in self._servers):
            return Health(False, "listener is not running")
        return Health(True, f"{len(self._connections)} client connections")

    # -- connections -------------------------------------------------------------------------

    def _accept(self, tls: ssl.SSLContext | None) -> Channel:
        channel: Channel = Http1Channel(ServerConnection())
        loop = asyncio.get_running_loop()
        if len(self._connections) >= MAX_CONNECTIONS or self.ctx.draining:
            loop.call_soon(channel.abort)
            return channel
        self._connections.add(channel)
        task = loop.create_task(self._serve(channel, tls is not None), name="proxy-conn")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return channel

    async def _serve(self, channel: Channel, tls: bool) -> None:
        await asyncio.sleep(0)  # connection_made runs before the first read
        tls_name = None
        if tls and channel.transport is not None:
            ssl_object = channel.transport.get_extra_info("ssl_object")
            tls_name = getattr(ssl_object, "ramparts_sni", None) if ssl_object else None
        try:
            await ProxyConnection(self.ctx, channel, tls_name=tls_name, state=self._current).serve()
        finally:
            self._connections.discard(channel)

    def _current(self) -> ProxyState:
        assert self._state is not None
        return self._state

    # -- PAC files and browser logins -------------------------------------------------------

    def _pac(self, snapshot: Snapshot, endpoint: ProxyEndpointEntry, host: bytes | None) -> str:
        plain = self._addresses.get("proxy")
        tls = self._addresses.get("proxy_tls")
        if host:  # the name the client used to fetch the PAC reaches this proxy too
            name = host.decode("latin-1").rsplit(":", 1)[0] if not host.startswith(b"[") else None
            if name and plain:
                plain = f"{name}:{plain.rsplit(':', 1)[1]}"
        https = None
        if tls:
            https = f"{endpoint.id}.proxy.{snapshot.team_domain}:{tls.rsplit(':', 1)[1]}"
        issuers = [i.oidc.issuer for i in snapshot.access.idps if i.oidc is not None]
        direct = direct_domains(snapshot.team_domain, issuers)
        return render_pac(endpoint, proxy_http=plain, proxy_https=https, direct_domains=direct)

    def _login_url(
        self, snapshot: Snapshot, endpoint: ProxyEndpointEntry, client_ip: str, back: str
    ) -> str | None:
        """Where a browser signs in for an authorization endpoint (None without Access).

        Not offered yet: the team domain's page that binds a browser login to its address
        (``PROXY_LOGIN_PATH``, writing ``proxy_sessions``) is still to be built, so browsers
        get the 407 page and non-browser clients use proxy tokens."""
        front = self._access
        if front is None or not snapshot.access.idps or not BROWSER_LOGIN:
            return None
        origin = front.urls.origin(snapshot.team_domain)
        if not back:
            return f"{origin}{PROXY_LOGIN_PATH}"
        try:
            state = front.team_app.tokens.sign(
                snapshot,
                PROXY_LOGIN_AUD,
                PROXY_LOGIN_LIFETIME,
                {"endpoint": endpoint.id, "ip": client_ip, "url": back},
            )
        except Exception:
            return None
        return f"{origin}{PROXY_LOGIN_PATH}?{urlencode({'state': state})}"

    # -- announcing ------------------------------------------------------------------------

    async def _announce(self) -> None:
        if self._db is None:
            return
        try:
            await asyncio.to_thread(self._write_addresses, dict(self._addresses))
        except StoreUnavailable as exc:
            log.warning("proxy addresses not announced", extra={"reason": str(exc)})

    async def _withdraw(self) -> None:
        if self._db is None:
            return
        with contextlib.suppress(StoreUnavailable):
            await asyncio.to_thread(self._remove_addresses)

    def _write_addresses(self, addresses: dict[str, str]) -> None:
        assert self._db is not None
        with self._db.transaction() as session:
            proxy_listeners.record(session, self._edge_id, addresses)

    def _remove_addresses(self) -> None:
        assert self._db is not None
        with self._db.transaction() as session:
            proxy_listeners.withdraw(session, self._edge_id)


def _remember_sni(ssl_object: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
    """Keep the SNI on the connection: it names the endpoint (``<id>.proxy.<team>``)."""
    if name:
        ssl_object.ramparts_sni = name.lower()  # type: ignore[attr-defined]


def _listener(sockname: tuple[str, int] | tuple[str, int, int, int]) -> Listener:
    return Listener(ipaddress.ip_address(sockname[0]), int(sockname[1]))
