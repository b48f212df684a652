"""The client side of TCP applications: a raw byte stream to a tunnel's TCP service, carried
over the edge's HTTPS listener (an HTTP/1.1 ``Upgrade: ramparts-tcp``), so that only
HTTPS egress is needed. Used by ``ramparts access tcp`` (local listener) and
``ramparts access ssh`` (stdio, for OpenSSH's ProxyCommand).

Bytes are relayed protocol to protocol (no stream reader buffers in between): what one side
reads is written to the other side's transport at once, and a side whose write buffer is full
pauses reading on the other side until it drains.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
from dataclasses import dataclass
from typing import cast

from ramparts.aio.http1 import shared_read_buffer
from ramparts.http1 import ClientConnection, RemoteProtocolError, Response

UPGRADE = b"ramparts-tcp"
CONNECT_TIMEOUT = 15.0
MAX_RESPONSE_HEAD = 64 * 1024
WRITE_HIGH = 1024 * 1024  # a side's write buffer above which the other side stops reading
WRITE_LOW = 256 * 1024


class CarrierError(Exception):
    """The edge refused or could not open the stream (the message says why)."""


@dataclass(frozen=True, slots=True)
class CarrierTarget:
    hostname: str  # the public hostname of the TCP application
    edge_host: str  # where to connect (defaults to hostname)
    edge_port: int
    context: ssl.SSLContext
    headers: tuple[tuple[bytes, bytes], ...] = ()  # e.g. an Access token (issue: Access)


class _Side(asyncio.BufferedProtocol):
    """One end of a relay. ``transport`` is read from; ``writer`` (the same transport for a
    socket, stdout for stdio) receives what the other end reads."""

    def __init__(self, *, start_paused: bool = False) -> None:
        self.transport: asyncio.Transport | None = None
        self.writer: asyncio.WriteTransport | None = None
        self.peer: _Side | None = None
        self._start_paused = start_paused  # read nothing until the other end is attached
        self.closed = asyncio.get_running_loop().create_future()
        self._pending: list[bytes] = []  # read before the other end was attached
        self._tls = False
        self._read_buffer = memoryview(b"")

    def attach(self, peer: _Side) -> None:
        self.peer = peer
        pending, self._pending = self._pending, []
        for data in pending:
            peer.send(data)

    def send(self, data: bytes) -> None:
        """Write what the other end read."""
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(data)

    def finish(self) -> None:
        """The other end sent everything: half-close where possible (TCP), else close."""
        writer = self.writer
        if writer is None or writer.is_closing():
            return
        if writer.can_write_eof():
            writer.write_eof()
        else:
            writer.close()

    def close(self) -> None:
        for transport in (self.transport, self.writer):
            if transport is not None and not transport.is_closing():
                transport.close()

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transports are not asyncio.Transport subclasses; they have its methods.
        self.transport = cast(asyncio.Transport, transport)
        if self._start_paused:
            self.transport.pause_reading()
        if self.writer is None:
            self.writer = self.transport
            self.transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
        self._tls = transport.get_extra_info("sslcontext") is not None

    def get_buffer(self, sizehint: int) -> memoryview:
        self._read_buffer = buffer = shared_read_buffer(sizehint)
        return buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._read_buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self._pending.append(data)
        else:
            self.peer.send(data)

    def eof_received(self) -> bool:
        if self.peer is not None:
            self.peer.finish()
        return not self._tls  # a socket keeps sending the other way; TLS cannot half-close

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.peer is not None:
            self.peer.close()
        if not self.closed.done():
            self.closed.set_result(None)


class _EdgeSide(_Side):
    """The carrier: TLS to the edge; HTTP/1.1 until the 101, then raw bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.h1: ClientConnection | None = ClientConnection()
        self._head_bytes = 0
        self.upgraded: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self.h1 is None:
            super().data_received(data)
            return
        self._head_bytes += len(data)
        self.h1.feed(data)
        try:
            event = self.h1.next_event()
        except RemoteProtocolError as exc:
            self._refuse(f"bad answer from the edge: {exc}")
            return
        if not isinstance(event, Response):
            if self._head_bytes > MAX_RESPONSE_HEAD:
                self._refuse("the edge's answer is too large")
            return
        if event.status != 101:
            self._refuse(f"the edge answered {event.status}")
            return
        early = self.h1.take_trailing_data()
        self.h1 = None
        if not self.upgraded.done():
            self.upgraded.set_result(early)

    def eof_received(self) -> bool:
        if self.h1 is not None:
            self._refuse("the edge closed the connection")
            return False
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(CarrierError("the edge closed the connection"))
        super().connection_lost(exc)

    def _refuse(self, reason: str) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(CarrierError(reason))
        if self.transport is not None:
            self.transport.close()


async def open_carrier(target: CarrierTarget) -> tuple[_EdgeSide, bytes]:
    """TLS to the edge and the upgrade; returns the carrier and the stream's first bytes
    (those that came with the edge's 101)."""
    loop = asyncio.get_running_loop()
    try:
        _, edge = await asyncio.wait_for(
            loop.create_connection(
                _EdgeSide,
                target.edge_host,
                target.edge_port,
                ssl=target.context,
                server_hostname=target.hostname,
            ),
            CONNECT_TIMEOUT,
        )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise CarrierError(
            f"cannot reach the edge at {target.edge_host}:{target.edge_port}: {exc}"
        ) from None
    h1 = edge.h1
    assert h1 is not None
    head = h1.send_request(
        b"GET",
        b"/",
        [
            (b"host", target.hostname.encode("idna")),
            (b"connection", b"upgrade"),
            (b"upgrade", UPGRADE),
            *target.headers,
        ],
    )
    h1.send_end()
    assert edge.transport is not None
    edge.transport.write(head)
    try:
        early = await edge.upgraded
    except CarrierError as exc:
        edge.close()
        raise CarrierError(f"{exc} for {target.hostname}") from None
    return edge, early


async def bridge(local: _Side, target: CarrierTarget) -> None:
    """Carry ``local`` (reading paused until now) to ``target`` until either end closes."""
    try:
        edge, early = await open_carrier(target)
    except CarrierError:
        local.close()
        raise
    if local.transport is None:  # the local end left while the carrier was opening
        edge.close()
        return
    if early:
        local.send(early)
    local.attach(edge)
    edge.attach(local)
    local.transport.resume_reading()
    await asyncio.gather(local.closed, edge.closed)


async def serve_local(
    target: CarrierTarget, host: str, port: int, ready: asyncio.Event | None = None
) -> None:
    """``ramparts access tcp``: every local connection gets its own carrier."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def carry(local: _Side) -> None:
        try:
            await bridge(local, target)
        except CarrierError as exc:
            print(f"error: {exc}", file=sys.stderr)

    def accept() -> _Side:
        local = _Side(start_paused=True)
        task = loop.create_task(carry(local), name="access-carrier")
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return local

    server = await loop.create_server(accept, host, port)
    async with server:
        if ready is not None:
            ready.set()
        await server.serve_forever()


class _StdoutWriter(asyncio.Protocol):
    """Protocol of the stdout pipe: its flow control belongs to the stdio side."""

    def __init__(self, owner: _Side) -> None:
        self.owner = owner

    def pause_writing(self) -> None:
        self.owner.pause_writing()

    def resume_writing(self) -> None:
        self.owner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.owner.peer is not None:
            self.owner.peer.close()  # nobody reads our output any more


async def stdio_bridge(target: CarrierTarget) -> None:
    """``ramparts access ssh``: stdin/stdout are the stream (OpenSSH ProxyCommand)."""
    loop = asyncio.get_running_loop()
    local = _Side(start_paused=True)
    writer, _ = await loop.connect_write_pipe(lambda: _StdoutWriter(local), os.fdopen(1, "wb", 0))
    writer.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
    local.writer = writer
    await loop.connect_read_pipe(lambda: local, os.fdopen(0, "rb", 0))
    await bridge(local, target)
