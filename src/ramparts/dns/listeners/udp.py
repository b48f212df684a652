"""Plain DNS over UDP (RFC 1035 §4.2.1): one datagram in, at most one datagram out."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, cast

from ramparts.dns.resolver import Pending, Resolver

log = logging.getLogger(__name__)

MAX_UDP_QUERY = 4096
"""Larger datagrams are not queries we serve (a query is a header, one question and an OPT
of a few options): dropped unread, so they cost nothing."""
MAX_PENDING_MISSES = 10_000
"""Cache misses waiting for upstreams at once; beyond this new misses are dropped (the
client retries), so a flood of random names cannot exhaust memory."""


class UdpListener(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.overloaded = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) > MAX_UDP_QUERY:
            return
        out = self.resolver.handle(data, "udp", addr[0])
        if out is None:
            return
        if out.__class__ is bytes:
            self.transport.sendto(out, addr)  # type: ignore[union-attr]
            return
        if len(self._pending) >= MAX_PENDING_MISSES:
            self.overloaded += 1
            return
        task = asyncio.get_running_loop().create_task(
            self._complete(cast(Pending, out), addr), name="dns-udp-miss"
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _complete(self, pending: Pending, addr: Any) -> None:
        try:
            reply = await self.resolver.complete(pending)
        except Exception:
            log.exception("DNS query failed")
            return
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors for earlier replies (client gone): nothing to do

    async def drain(self, budget: float) -> None:
        """Wait (bounded) for misses under way, then stop."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=budget)
        for task in list(self._pending):
            task.cancel()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def serve_udp(sock: socket.socket, resolver: Resolver) -> UdpListener:
    loop = asyncio.get_running_loop()
    _transport, protocol = await loop.create_datagram_endpoint(
        lambda: UdpListener(resolver), sock=sock
    )
    return protocol
