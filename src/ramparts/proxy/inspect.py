"""TLS inspection of CONNECT tunnels: the team CA mints a certificate for the destination's
name, the proxy terminates the client's TLS with it, judges every request inside by its full
URL, and forwards it over a new, verified TLS connection to the destination.

Off by default (an endpoint setting); Do Not Inspect rules always win over it. Clients must
trust the team CA. Certificates are minted once per name and kept (LRU), off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ramparts.http1 import ServerConnection
from ramparts.pki.ca import TeamCA
from ramparts.pki.tls import write_certificate
from ramparts.proxy.destination import IpAddress
from ramparts.proxy.exchange import Exchange, InspectedTarget, ProxyState
from ramparts.proxy.limits import MINTED_CERT_CACHE
from ramparts.proxy.tunnel import ESTABLISHED

if TYPE_CHECKING:
    from ramparts.proxy.handler import ProxyConnection

HANDSHAKE_TIMEOUT = 15.0
"""Seconds for the client's TLS handshake inside the tunnel."""


class Inspector:
    """Mints per-host certificates and serves inspected tunnels."""

    def __init__(self, ca_dir: Path) -> None:
        self._ca = TeamCA.load(ca_dir)
        self._dir = Path(tempfile.mkdtemp(prefix="ramparts-mint-"))  # 0700, ours alone
        self._contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()
        self._minting: dict[str, asyncio.Future[ssl.SSLContext]] = {}

    async def context_for(self, host: str) -> ssl.SSLContext:
        found = self._contexts.get(host)
        if found is not None:
            self._contexts.move_to_end(host)
            return found
        pending = self._minting.get(host)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ssl.SSLContext] = asyncio.get_running_loop().create_future()
        self._minting[host] = future
        try:
            context = await asyncio.to_thread(self._mint, host)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            self._minting.pop(host, None)
        future.set_result(context)
        self._contexts[host] = context
        while len(self._contexts) > MINTED_CERT_CACHE:
            self._contexts.popitem(last=False)
        return context

    def _mint(self, host: str) -> ssl.SSLContext:
        issued = self._ca.issue_server_certificate([host])
        stem = f"h{abs(hash(host)):x}"
        cert, key = write_certificate(self._dir, stem, issued)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])  # what is inspected here is HTTP/1.1
        context.load_cert_chain(cert, key)
        for path in (cert, key):
            with contextlib.suppress(OSError):
                path.unlink()
        return context

    async def serve(
        self,
        conn: ProxyConnection,
        ex: Exchange,
        host: str,
        port: int,
        allowed: Sequence[IpAddress],
        state: ProxyState,
    ) -> bool:
        """Open the tunnel up: 200, TLS with a minted certificate, then HTTP inside."""
        from ramparts.proxy.handler import ProxyConnection

        channel = conn.channel
        context = await self.context_for(host)
        channel.write(channel.h1.send_response(200, [], ESTABLISHED))
        transport = channel.transport
        if transport is None:
            return False
        ex.decision = "inspect"
        ex.status = 200
        conn.ctx.log.add(ex.record())
        loop = asyncio.get_running_loop()
        try:
            tls_transport = await loop.start_tls(
                transport,
                channel,
                context,
                server_side=True,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError):
            channel.abort()
            return False
        if tls_transport is None:
            return False
        channel.restart(ServerConnection(), tls_transport)
        target = InspectedTarget(host, port, ex.endpoint, ex.user, tuple(allowed))
        inner = ProxyConnection(conn.ctx, channel, tls_name=None, state=lambda: state)
        inner.inspected = target
        await inner.serve()
        return False
