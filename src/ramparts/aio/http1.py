"""asyncio driver of one HTTP/1.1 connection (either side), with raw mode after a switch.

Bytes from the transport go into the sans-IO parser; coroutines pull events with
``next_event()``. Reading pauses while more than ``READ_HIGH`` bytes sit unconsumed, so a slow
consumer bounds memory instead of the peer's sending rate. After a 101 / 2xx-to-CONNECT the
connection is a plain byte stream: ``read_raw()`` / ``write()``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Generic, TypeVar, cast

from ramparts.http1 import NEED_DATA, ClientConnection, Data, Event, ServerConnection, Signal

READ_HIGH = 1024 * 1024  # unconsumed received bytes above which reading pauses
READ_LOW = 256 * 1024
WRITE_HIGH = 1024 * 1024
WRITE_LOW = 256 * 1024
READ_BUFFER_MIN = 256 * 1024
READ_BUFFER_MAX = 1024 * 1024
"""Bounds of the read buffer shared by the buffered protocols of one thread (see
``shared_read_buffer``): one per thread, so it can be large; a TLS transport asks for what
it has pending (up to ~256 KiB), a plain socket gets 256 KiB reads (fewer syscalls)."""

_thread = threading.local()


def shared_read_buffer(sizehint: int) -> memoryview:
    """The read buffer of this thread's event loop, for ``BufferedProtocol.get_buffer``.

    A transport fills it and calls ``buffer_updated`` right away, and the protocols that use
    it copy what they keep before returning, so every connection of the loop can share one
    buffer (instead of a bytes object per read; TLS transports decrypt straight into it)."""
    buffer: memoryview | None = getattr(_thread, "read_buffer", None)
    if buffer is None or (sizehint > len(buffer) and len(buffer) < READ_BUFFER_MAX):
        size = min(max(sizehint, READ_BUFFER_MIN), READ_BUFFER_MAX)
        buffer = _thread.read_buffer = memoryview(bytearray(size))
    return buffer


class PeerClosed(ConnectionError):
    """The connection closed while more was expected."""


H1 = TypeVar("H1", ServerConnection, ClientConnection)


class Http1Channel(asyncio.BufferedProtocol, Generic[H1]):
    """One HTTP/1.1 connection: ``h1`` is a ServerConnection or a ClientConnection."""

    def __init__(self, h1: H1) -> None:
        self.h1: H1 = h1
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self._buffered = 0
        self._paused = False
        self._eof = False
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._raw: deque[bytes] | None = None
        self._read_buffer = memoryview(b"")
        self._tls = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transports are not asyncio.Transport subclasses; they have its methods.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = str(peer[0])
        self._tls = transport.get_extra_info("sslcontext") is not None

    def get_buffer(self, sizehint: int) -> memoryview:
        self._read_buffer = buffer = shared_read_buffer(sizehint)
        return buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._read_buffer[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        if self._raw is not None:
            self._raw.append(bytes(data))  # a copy when it is a view of the shared buffer
        else:
            self.h1.feed(data)  # the parser copies views
        self._buffered += len(data)
        if self._buffered > READ_HIGH and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        if self._raw is None:
            self.h1.feed_eof()
        self._wake()
        # Keep our sending side open (half-close); TLS cannot, and asyncio warns if asked.
        return self._tls is False

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._eof = True
        self.transport = None
        self.resume_writing()
        self._wake()
        if not self.closed.done():
            self.closed.set_result(None)

    # -- API -----------------------------------------------------------------------------

    @property
    def is_closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    async def next_event(self, deadline: float | None = None) -> Event | Signal:
        """The next parser event; NEED_DATA is handled here (waiting for bytes). PAUSED is
        returned to the caller. Raises RemoteProtocolError on bad input, PeerClosed when the
        connection dropped mid-message, TimeoutError when ``deadline`` (event loop time)
        passes before the event is complete."""
        h1: ServerConnection | ClientConnection = self.h1
        while True:
            event = h1.next_event()
            if event is NEED_DATA:
                self._buffered = 0  # the parser holds at most a partial head: all consumed
                if self._closed:
                    raise PeerClosed("connection lost")
                await self._wait(deadline)
                continue
            if type(event) is Data:
                self._consumed(len(event.data))
            return event

    def restart(self, h1: H1, transport: asyncio.BaseTransport) -> None:
        """Carry on over a new transport with a new parser (after ``loop.start_tls`` turned
        this connection into TLS, e.g. inside an inspected CONNECT tunnel)."""
        transport = cast(asyncio.Transport, transport)
        self.h1 = h1
        self.transport = transport
        self._raw = None
        self._buffered = 0
        self._paused = False
        self._tls = True
        transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)

    def switch_to_raw(self) -> None:
        """After a protocol switch: bytes the parser holds become the first raw bytes."""
        leftover = self.h1.take_trailing_data()
        self._raw = deque([leftover] if leftover else [])
        self._buffered = len(leftover)

    async def read_raw(self) -> bytes:
        """Raw mode: the next bytes, b"" at end of stream."""
        assert self._raw is not None, "switch_to_raw() first"
        while not self._raw:
            if self._eof:
                return b""
            await self._wait()
        data = self._raw.popleft()
        self._consumed(len(data))
        return data

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.transport is not None and data:
            self.transport.write(data)

    def writelines(self, parts: list[bytes | bytearray | memoryview]) -> None:
        if self.transport is not None:
            self.transport.writelines(parts)

    async def drain(self) -> None:
        if self._write_paused and not self._closed:
            waiter = self._drain_waiter
            if waiter is None or waiter.done():
                waiter = self._drain_waiter = asyncio.get_running_loop().create_future()
            await waiter
        if self._closed:
            raise PeerClosed("connection lost")

    def write_eof(self) -> None:
        """Half-close our sending side; TLS has no half-close, so there the connection closes
        (after the buffered bytes are sent) and the reading side sees the end too."""
        if self.transport is None:
            return
        if self.transport.can_write_eof():
            self.transport.write_eof()
        else:
            self.transport.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- internals -----------------------------------------------------------------------

    def _consumed(self, n: int) -> None:
        self._buffered -= n
        if self._paused and self._buffered < READ_LOW and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    async def _wait(self, deadline: float | None = None) -> None:
        if self._paused and self.transport is not None:
            # Everything buffered was consumed but reading is paused: read on.
            self._paused = False
            self.transport.resume_reading()
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiter = waiter
        timer = None
        if deadline is not None:
            if deadline <= loop.time():
                self._waiter = None
                raise TimeoutError
            timer = loop.call_at(deadline, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
