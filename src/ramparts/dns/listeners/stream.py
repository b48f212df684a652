"""DNS over TCP (RFC 1035 §4.2.2, RFC 7766) and over TLS (RFC 7858): two-octet length framing,
pipelined queries answered as they complete (out of order, RFC 7766 §7), idle timeouts,
bounded message lengths and a bounded number of queries in flight per connection.

For DoT the TLS server name (SNI) selects the location: ``<id>.dns.<team domain>``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import struct
from typing import Any, cast

from ramparts.dns.constants import HEADER_SIZE
from ramparts.dns.locations import LocationTable
from ramparts.dns.resolver import Pending, Resolver

log = logging.getLogger(__name__)

MAX_TCP_QUERY = 4096
"""Longest query accepted on a stream (the length prefix allows 65535): a real query is far
shorter, so a longer prefix is an attack or garbage and the connection is closed."""
IDLE_TIMEOUT = 10.0
"""Seconds a connection may sit without a query in flight (RFC 7766 §6.2.3 suggests seconds;
unbound uses 30 s, we keep connections cheaper)."""
MAX_IN_FLIGHT = 128
"""Pipelined queries per connection being resolved at once; reading pauses beyond this."""
MAX_CONNECTIONS = 2_000
"""Open connections per listener; new ones are closed at once beyond this."""
TLS_HANDSHAKE_TIMEOUT = 5.0
_LENGTH = struct.Struct("!H")
SNI_ATTRIBUTE = "ramparts_server_name"


class _Counter:
    def __init__(self) -> None:
        self.open = 0


class StreamConnection(asyncio.Protocol):
    def __init__(self, resolver: Resolver, protocol: str, counter: _Counter) -> None:
        self.resolver = resolver
        self.protocol = protocol
        self._counter = counter
        self.transport: asyncio.Transport | None = None
        self.src_ip = ""
        self.location_id: str | None = None
        self._buffer = bytearray()
        self._tasks: set[asyncio.Task[None]] = set()
        self._paused = False
        self._idle: asyncio.TimerHandle | None = None
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._counter.open += 1
        if self._counter.open > MAX_CONNECTIONS:
            self.transport.abort()
            return
        peer = transport.get_extra_info("peername")
        self.src_ip = str(peer[0]) if peer else ""
        if self.protocol == "dot":
            sslobj = transport.get_extra_info("ssl_object")
            name = getattr(sslobj, SNI_ATTRIBUTE, None)
            view = self.resolver.locations
            if name and view is not None:
                self.location_id = view.id_from_server_name(name)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._counter.open -= 1
        if self._idle is not None:
            self._idle.cancel()
        for task in self._tasks:
            task.cancel()

    def _arm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(IDLE_TIMEOUT, self._on_idle)

    def _on_idle(self) -> None:
        if not self._tasks and self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        resolver = self.resolver
        transport = self.transport
        assert transport is not None
        while len(buffer) >= 2:
            (length,) = _LENGTH.unpack_from(buffer)
            if length > MAX_TCP_QUERY or length < HEADER_SIZE:
                transport.close()  # a frame no query fits: garbage or an attack
                buffer.clear()
                return
            if len(buffer) < 2 + length:
                break
            message = bytes(buffer[2 : 2 + length])
            del buffer[: 2 + length]
            out = resolver.handle(message, self.protocol, self.src_ip, self.location_id)
            if out is None:
                continue
            if out.__class__ is bytes:
                transport.write(_LENGTH.pack(len(out)) + out)
                continue
            task = asyncio.get_running_loop().create_task(
                self._complete(cast(Pending, out)), name="dns-stream-miss"
            )
            self._tasks.add(task)
            task.add_done_callback(self._done)
            if len(self._tasks) >= MAX_IN_FLIGHT and not self._paused:
                self._paused = True
                transport.pause_reading()
        self._arm_idle()

    async def _complete(self, pending: Pending) -> None:
        try:
            reply = await self.resolver.complete(pending)
        except Exception:
            log.exception("DNS query failed")
            return
        if not self._closed and self.transport is not None:
            self.transport.write(_LENGTH.pack(len(reply)) + reply)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._paused and len(self._tasks) < MAX_IN_FLIGHT // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        if not self._tasks:
            self._arm_idle()

    def eof_received(self) -> bool | None:
        # The client finished sending; answer what is under way, then close (RFC 7766 §6.2.4).
        if not self._tasks and self.transport is not None:
            self.transport.close()
            return None
        return True


def _remember_sni(sslobj: Any, server_name: str | None, _context: ssl.SSLContext) -> None:
    if server_name:
        setattr(sslobj, SNI_ATTRIBUTE, server_name)


def dot_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """TLS 1.2+ server context for DoT, with ALPN "dot" (RFC 7858 §3.1, IANA) and SNI capture."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["dot"])
    context.sni_callback = _remember_sni
    return context


async def serve_stream(
    sock: socket.socket,
    resolver: Resolver,
    protocol: str,
    ssl_context: ssl.SSLContext | None = None,
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    counter = _Counter()
    return await loop.create_server(
        lambda: StreamConnection(resolver, protocol, counter),
        sock=sock,
        ssl=ssl_context,
        ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if ssl_context else None,
    )


__all__ = ["LocationTable", "StreamConnection", "dot_context", "serve_stream"]
