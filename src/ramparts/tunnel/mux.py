"""The asyncio driver of a ``TunnelConnection``: one TLS/TCP transport, many streams.

The sans-IO state machine (``tunnel.protocol``) decides everything about the wire; this module
only moves bytes between it and the transport, wakes the tasks that wait on streams, and runs
the keepalive pings. Both the edge and the connector use it.

Backpressure: a stream's reader returns flow-control credit only as the application consumes
data, so a slow consumer stalls its sender instead of filling memory; writers wait for window
credit and for the transport's write buffer to drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

from ramparts.aio.http1 import shared_read_buffer
from ramparts.tunnel.protocol import (
    ConfigAcknowledged,
    ConfigPushed,
    ConnectionTerminated,
    DatagramReceived,
    DataReceived,
    ErrorCode,
    GoAwayReceived,
    PingReceived,
    PongReceived,
    Registered,
    RegisteredInfo,
    RegisterReceived,
    RegisterRequest,
    RegistrationRefused,
    ResponseHead,
    ResponseMeta,
    StreamEnded,
    StreamMeta,
    StreamOpened,
    StreamRejected,
    StreamReset,
    TunnelConnection,
    TunnelError,
    TunnelProtocolError,
    WindowUpdated,
)

log = logging.getLogger(__name__)

PING_INTERVAL = 5.0  # seconds between keepalive pings on an idle or busy connection
PING_TIMEOUT = 15.0  # no PONG for this long: the peer (or the path) is dead; drop at once
WRITE_BUFFER_HIGH = 4 * 1024 * 1024  # transport buffer above which writers wait
WRITE_BUFFER_LOW = 1024 * 1024
JOIN_LIMIT = 64 * 1024
"""Queued frames up to this many bytes in all are joined into one buffer before the write:
a TLS transport makes one record (one encryption call) per buffer it is handed, and many
frames of a busy tick are small (heads, WINDOW_UPDATEs, short bodies). Bigger batches (bulk
DATA) are handed over as they are: joining them would copy every byte once more."""


class StreamError(Exception):
    """The stream cannot carry more data: reset by the peer, refused, or connection lost."""

    def __init__(self, code: ErrorCode, message: str = "") -> None:
        super().__init__(f"{code.name}{': ' + message if message else ''}")
        self.code = code
        self.message = message


class RegistrationError(Exception):
    """The edge refused this connector (the reason is deliberately not specific)."""

    def __init__(self, code: ErrorCode, retry_after: int) -> None:
        super().__init__(f"registration refused ({code.name})")
        self.code = code
        self.retry_after = retry_after


class MuxStream:
    """One stream as the application sees it: read/write/end/reset, and the response head."""

    __slots__ = (
        "_chunks",
        "_ended",
        "_error",
        "_head",
        "_local_ended",
        "_mux",
        "_reader",
        "_writer",
        "id",
        "meta",
    )

    def __init__(self, mux: MuxConnection, stream_id: int, meta: StreamMeta | None) -> None:
        self.id = stream_id
        self.meta = meta
        self._mux = mux
        self._chunks: deque[bytes] = deque()
        self._ended = False  # the peer half-closed
        self._local_ended = False  # this side half-closed
        self._error: StreamError | None = None
        self._head: ResponseMeta | None = None
        # Futures of the task waiting to read (or for the response head) and of the task
        # waiting for send credit; made only when a task has to wait.
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None

    # -- reading -----------------------------------------------------------------------

    async def read(self) -> bytes:
        """The next chunk; b"" once the peer half-closed. Raises StreamError on reset."""
        chunks = self._chunks
        while not chunks:
            if self._error is not None:
                raise self._error
            if self._ended:
                return b""
            await self._wait_readable()
        chunk = chunks.popleft()
        self._mux.acknowledge(self.id, len(chunk))
        return chunk

    def read_nowait(self) -> bytes | None:
        """Like read() when it would not wait: a buffered chunk, or b"" at the end; None
        when read() would have to wait. Raises StreamError on reset."""
        chunks = self._chunks
        if chunks:
            chunk = chunks.popleft()
            self._mux.acknowledge(self.id, len(chunk))
            return chunk
        if self._error is not None:
            raise self._error
        return b"" if self._ended else None

    async def _wait_readable(self) -> None:
        waiter = self._reader
        if waiter is None or waiter.done():
            waiter = self._reader = self._mux._loop.create_future()
        await waiter

    async def _wait_writable(self) -> None:
        waiter = self._writer
        if waiter is None or waiter.done():
            waiter = self._writer = self._mux._loop.create_future()
        await waiter

    @property
    def at_eof(self) -> bool:
        return self._ended and not self._chunks

    @property
    def remote_ended(self) -> bool:
        """The peer half-closed (or opened the stream with end_stream): no more data comes."""
        return self._ended

    # -- writing -----------------------------------------------------------------------

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send all of ``data``, waiting for flow-control credit and transport buffer room."""
        mux = self._mux
        conn = mux.conn
        size = len(data)
        done = 0
        view: memoryview | None = None
        while done < size:
            if self._error is not None:
                raise self._error
            allowed = conn.max_send(self.id)
            if allowed <= 0:
                if conn.is_closed:
                    raise StreamError(ErrorCode.CANCEL, "connection closed")
                await self._wait_writable()
                continue
            if not done and allowed >= size:
                piece = data  # the common case: all of it at once, no slicing (no copy)
            else:
                if view is None:
                    view = memoryview(data)
                piece = view[done : done + allowed]
            try:
                conn.send_data(self.id, piece)
            except TunnelError as exc:
                raise StreamError(ErrorCode.STREAM_CLOSED, str(exc)) from None
            done += len(piece)
            mux.flush_soon()
            if mux._paused:
                await mux.writable()

    def end(self) -> None:
        """Half-close: no more data from this side (idempotent once the stream is gone)."""
        if self._error is not None:
            return
        try:
            self._mux.conn.end_stream(self.id)
        except TunnelError:
            return
        self._mux.flush_soon()
        self._local_ended = True
        if self._ended:
            self._mux.forget(self.id)

    def reset(self, code: ErrorCode = ErrorCode.CANCEL) -> None:
        if self._error is None:
            self._error = StreamError(code, "reset locally")
        with contextlib.suppress(TunnelError):
            self._mux.conn.reset_stream(self.id, code)
            self._mux.flush_soon()
        self._mux.forget(self.id)
        self._wake()

    # -- heads -------------------------------------------------------------------------

    async def response(self) -> ResponseMeta:
        """Edge: the connector's answer to this stream's open."""
        while self._head is None:
            if self._error is not None:
                raise self._error
            await self._wait_readable()
        return self._head

    def respond(self, meta: ResponseMeta, *, end_stream: bool = False) -> None:
        """Connector: answer the stream open with a response head."""
        try:
            self._mux.conn.respond(self.id, meta, end_stream=end_stream)
        except TunnelError as exc:
            raise StreamError(ErrorCode.STREAM_CLOSED, str(exc)) from None
        self._mux.flush_soon()
        if end_stream:
            self._local_ended = True
            if self._ended:
                self._mux.forget(self.id)

    def reject(self, code: ErrorCode, reason: str = "") -> None:
        """Connector: the stream could not be opened (no rule, origin down…)."""
        with contextlib.suppress(TunnelError):
            self._mux.conn.reject_stream(self.id, code, reason)
            self._mux.flush_soon()
        self._mux.forget(self.id)
        self._error = StreamError(code, reason)
        self._wake()

    # -- called by the connection ------------------------------------------------------

    def _data(self, data: bytes) -> None:
        self._chunks.append(data)
        waiter = self._reader
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _end(self) -> None:
        self._ended = True
        self._wake_reader()
        if self._local_ended:  # both ways ended: the connection holds it no longer
            self._mux.forget(self.id)

    def _fail(self, error: StreamError) -> None:
        if self._error is None:
            self._error = error
        self._wake()

    def _wake_reader(self) -> None:
        waiter = self._reader
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_writer(self) -> None:
        waiter = self._writer
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake(self) -> None:
        self._wake_reader()
        self._wake_writer()


StreamHandler = Callable[[MuxStream], Awaitable[None]]
# Edge: decides a REGISTER (RegisteredInfo accepts, None refuses); called with this connection.
Authenticator = Callable[["MuxConnection", RegisterRequest], RegisteredInfo | None]


class MuxConnection(asyncio.BufferedProtocol):
    """asyncio Protocol running one TunnelConnection (edge or connector side)."""

    def __init__(
        self,
        conn: TunnelConnection,
        *,
        on_stream: StreamHandler | None = None,
        authenticate: Authenticator | None = None,
        on_event: Callable[[Any], None] | None = None,
        ping_interval: float = PING_INTERVAL,
        ping_timeout: float = PING_TIMEOUT,
    ) -> None:
        self.conn = conn
        self._on_stream = on_stream
        self._authenticate = authenticate
        self._on_event = on_event
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, MuxStream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._flush_pending = False
        self._read_buffer = memoryview(b"")
        self._paused = False  # the transport's write buffer is above its high-water mark
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._pinger: asyncio.Task[None] | None = None
        self._last_pong = time.monotonic()
        self.registered: asyncio.Future[RegisteredInfo | RegisterRequest] = (
            self._loop.create_future()
        )
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self.peer_address = ""
        self.rtt: float | None = None
        self.close_reason = ""

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transports are not asyncio.Transport subclasses; they have its methods.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH, low=WRITE_BUFFER_LOW)
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer_address = str(peer[0])
        self._pinger = self._loop.create_task(self._keepalive(), name="tunnel-keepalive")

    def get_buffer(self, sizehint: int) -> memoryview:
        # The thread's shared read buffer: a TLS transport decrypts straight into it (no bytes
        # object per TLS record, no join); the decoder copies out only what it keeps.
        self._read_buffer = buffer = shared_read_buffer(sizehint)
        return buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._read_buffer[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        try:
            events = self.conn.receive_data(data)
        except TunnelProtocolError as exc:
            self._dispatch(exc.events)
            self.close_reason = f"protocol error: {exc}"
            log.warning(
                "tunnel protocol error", extra={"peer": self.peer_address, "error": str(exc)}
            )
            self._flush()
            self.abort()
            return
        self._dispatch(events)
        self._flush()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.resume_writing()
        if not self.close_reason:
            self.close_reason = f"connection lost: {exc}" if exc else "connection closed"
        error = StreamError(ErrorCode.CANCEL, "tunnel connection lost")
        for stream in list(self._streams.values()):
            stream._fail(error)
        self._streams.clear()
        if not self.registered.done():
            self.registered.set_exception(ConnectionError(self.close_reason))
            self.registered.exception()
        if self._pinger is not None:
            self._pinger.cancel()
        for task in list(self._tasks):
            task.cancel()
        if not self.closed.done():
            self.closed.set_result(None)

    # -- API -----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._transport is not None and self.conn.is_registered and not self.conn.is_closed

    @property
    def stream_count(self) -> int:
        return len(self._streams)

    def register(self, request: RegisterRequest) -> None:
        self.conn.register(request)
        self._flush()

    def open_stream(self, meta: StreamMeta, *, end_stream: bool = False) -> MuxStream:
        """Edge: open a stream; raises TunnelError when the connection cannot take one."""
        stream_id = self.conn.open_stream(meta, end_stream=end_stream)
        stream = MuxStream(self, stream_id, meta)
        stream._local_ended = end_stream
        self._streams[stream_id] = stream
        self.flush_soon()
        return stream

    def push_config(self, version: int, snapshot: bytes) -> None:
        self.conn.push_config(version, snapshot)
        self.flush_soon()

    def ack_config(self, version: int, applied: bool, reason: str = "") -> None:
        self.conn.ack_config(version, applied, reason)
        self.flush_soon()

    def goaway(self, reason: str = "") -> None:
        """Graceful: no new streams; the transport closes once the last stream ends."""
        self.conn.goaway(reason)
        self._flush()
        self._close_if_drained()

    async def drain(self, grace: float) -> None:
        """GOAWAY, then wait up to ``grace`` seconds for in-flight streams; then close."""
        self.goaway("draining")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), grace)
        self.abort()

    def close(self, code: ErrorCode = ErrorCode.NO_ERROR, reason: str = "") -> None:
        self.conn.close(code, reason)
        self._flush()
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def acknowledge(self, stream_id: int, n: int) -> None:
        if n:
            conn = self.conn
            try:
                conn.acknowledge_received(stream_id, n)
            except TunnelError:
                return
            if conn.has_output and not self._flush_pending:
                self.flush_soon()  # WINDOW_UPDATEs (most reads queue none)

    def forget(self, stream_id: int) -> None:
        self._streams.pop(stream_id, None)
        self._close_if_drained()

    async def writable(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        if self._paused and self._transport is not None:
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def flush_soon(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    # -- internals -----------------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_pending = False
        buffers = self.conn.buffers_to_send()
        transport = self._transport
        if buffers and transport is not None:
            if len(buffers) == 1:
                transport.write(buffers[0])
            elif sum(map(len, buffers)) <= JOIN_LIMIT:
                transport.write(b"".join(buffers))
            else:
                transport.writelines(buffers)

    def _close_if_drained(self) -> None:
        if self.conn.is_drained and self._transport is not None:
            self._flush()
            self._transport.close()

    def _dispatch(self, events: list[Any]) -> None:
        streams = self._streams
        for event in events:
            kind = type(event)
            if kind is DataReceived:
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream._data(event.data)
                else:  # raced with a local reset: give the credit back
                    self.acknowledge(event.stream_id, len(event.data))
            elif kind is WindowUpdated:
                if event.stream_id == 0:
                    for stream in streams.values():
                        stream._wake_writer()
                else:
                    stream = streams.get(event.stream_id)
                    if stream is not None:
                        stream._wake_writer()
            elif kind is StreamEnded:
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream._end()
            elif kind is ResponseHead:
                stream = streams.get(event.stream_id)
                if stream is not None and stream._head is None:
                    stream._head = event.meta
                    if event.end_stream:
                        stream._end()
                    else:
                        stream._wake_reader()
            elif kind is StreamOpened:
                self._start_stream(event)
            elif kind is StreamReset or kind is StreamRejected:
                stream = streams.pop(event.stream_id, None)
                if stream is not None:
                    reason = getattr(event, "reason", "")
                    stream._fail(StreamError(event.code, reason))
                self._close_if_drained()
            elif kind is RegisterReceived:
                self._on_register(event.request)
            elif kind is Registered:
                if not self.registered.done():
                    self.registered.set_result(event.info)
            elif kind is RegistrationRefused:
                if not self.registered.done():
                    self.registered.set_exception(RegistrationError(event.code, event.retry_after))
                    self.registered.exception()
                self.close_reason = "registration refused"
            elif kind is PongReceived:
                self._last_pong = time.monotonic()
                with contextlib.suppress(ValueError):
                    sent = int.from_bytes(event.payload, "big") / 1e9
                    self.rtt = max(0.0, time.monotonic() - sent)
            elif kind is PingReceived:
                pass  # the PONG is already queued by the state machine
            elif kind is GoAwayReceived or kind is ConnectionTerminated:
                self.close_reason = f"peer sent GOAWAY: {event.reason or event.code.name}"
                if self._on_event is not None:
                    self._on_event(event)
                self._close_if_drained()
            elif (
                kind in (ConfigPushed, ConfigAcknowledged, DatagramReceived)
                and self._on_event is not None
            ):
                self._on_event(event)

    def _on_register(self, request: RegisterRequest) -> None:
        info = self._authenticate(self, request) if self._authenticate else None
        if info is None:
            self.conn.refuse_registration(ErrorCode.UNAUTHORIZED)
            self._flush()
            self.close_reason = "registration refused"
            if self._transport is not None:
                self._transport.close()
            return
        self.conn.accept_registration(info)
        self._flush()
        if not self.registered.done():
            self.registered.set_result(request)

    def _start_stream(self, event: StreamOpened) -> None:
        stream = MuxStream(self, event.stream_id, event.meta)
        if event.end_stream:
            stream._ended = True
        self._streams[event.stream_id] = stream
        if self._on_stream is None:
            stream.reject(ErrorCode.REFUSED_STREAM, "this side accepts no streams")
            return
        task = self._loop.create_task(self._run_handler(stream), name=f"tunnel-stream-{stream.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_handler(self, stream: MuxStream) -> None:
        assert self._on_stream is not None
        try:
            await self._on_stream(stream)
        except StreamError:
            pass
        except asyncio.CancelledError:
            stream.reset(ErrorCode.CANCEL)
            raise
        except Exception:
            log.exception("stream handler failed", extra={"stream": stream.id})
            stream.reset(ErrorCode.INTERNAL_ERROR)
        finally:
            self._streams.pop(stream.id, None)
            self._close_if_drained()

    async def _keepalive(self) -> None:
        try:
            await self.registered
        except Exception:
            return  # refused or lost before registration: nothing to keep alive
        self._last_pong = time.monotonic()
        while self._transport is not None:
            await asyncio.sleep(self._ping_interval)
            if time.monotonic() - self._last_pong > self._ping_timeout:
                self.close_reason = "keepalive timeout"
                log.warning("tunnel keepalive timeout", extra={"peer": self.peer_address})
                self.abort()
                return
            with contextlib.suppress(TunnelError):
                self.conn.ping(time.monotonic_ns().to_bytes(8, "big"))
                self._flush()
