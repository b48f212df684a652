"""asyncio drivers that carry one DNS message to an upstream server and bring its answer back.

Each transport takes a query whose ID it chooses itself (random, unique among its own
outstanding queries) and returns ``(id, response bytes)``; validating the response against the
question is the caller's job (``wire.parse_response``).

- ``UdpTransport``: a few connected datagram sockets (random source port among them and a
  random ID per query, RFC 5452 §9); a truncated answer is asked again over TCP (RFC 7766 §5).
- ``StreamTransport``: one reused TCP or TLS connection with pipelined queries matched by ID
  (RFC 7766 §6.2.1.1, RFC 7858 §3.3), closed after an idle period.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import struct
from typing import Protocol, cast

from ramparts.dns.constants import FLAG_TC, HEADER_SIZE, MAX_MESSAGE_SIZE
from ramparts.dns.errors import UpstreamTimeout, UpstreamUnavailable

UDP_SOCKETS_PER_SERVER = 4
"""Connected sockets per UDP upstream: queries spread over their random source ports."""
MAX_OUTSTANDING_PER_SOCKET = 4096
"""Outstanding queries on one socket or stream; far below the 65536 IDs, so a random free ID
is found in a few tries."""
STREAM_IDLE_TIMEOUT = 20.0
"""Close an upstream TCP/TLS connection idle this long (below unbound's and BIND's 30 s
tcp-idle-timeout, so we close first and never write into a connection being torn down)."""
CONNECT_TIMEOUT = 3.0
_LENGTH = struct.Struct("!H")
_rng = random.SystemRandom()


class Transport(Protocol):
    label: str

    async def exchange(self, query: bytes, budget: float) -> tuple[int, bytes]:
        """Send ``query`` (its ID is replaced), wait up to ``budget`` seconds, and return
        (ID used, response)."""
        ...

    async def close(self) -> None: ...


def _free_id(used: dict[int, asyncio.Future[bytes]]) -> int:
    while True:
        qid = _rng.getrandbits(16)
        if qid not in used:
            return qid


def _with_id(query: bytes, qid: int) -> bytes:
    return _LENGTH.pack(qid) + query[2:]


class _DatagramSocket(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiters: dict[int, asyncio.Future[bytes]] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) < HEADER_SIZE:
            return
        waiter = self.waiters.pop(_LENGTH.unpack_from(data)[0], None)
        if waiter is not None and not waiter.done():
            waiter.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # On a connected socket an ICMP error (port unreachable) lands here: it cannot be
        # tied to one query, so everything outstanding fails fast and fails over.
        self._fail_all(UpstreamUnavailable(f"upstream unreachable: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail_all(UpstreamUnavailable("upstream socket closed"))

    def _fail_all(self, error: Exception) -> None:
        waiters, self.waiters = self.waiters, {}
        for waiter in waiters.values():
            if not waiter.done():
                waiter.set_exception(error)


class UdpTransport:
    """Plain DNS over UDP to one server, with TCP for truncated answers."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.label = f"udp://{_hostport(host, port)}"
        self._sockets: list[_DatagramSocket] = []
        self._opening: asyncio.Lock | None = None
        self._tcp: StreamTransport | None = None

    async def _socket(self) -> _DatagramSocket:
        live = [s for s in self._sockets if not s.closed]
        if len(live) >= UDP_SOCKETS_PER_SERVER:
            return _rng.choice(live)
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            self._sockets = [s for s in self._sockets if not s.closed]
            if len(self._sockets) < UDP_SOCKETS_PER_SERVER:
                loop = asyncio.get_running_loop()
                try:
                    _transport, protocol = await loop.create_datagram_endpoint(
                        _DatagramSocket, remote_addr=(self.host, self.port)
                    )
                except OSError as exc:
                    raise UpstreamUnavailable(f"{self.label}: {exc}") from None
                self._sockets.append(protocol)
                return protocol
        return _rng.choice(self._sockets)

    async def exchange(self, query: bytes, budget: float) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        sock = await self._socket()
        if len(sock.waiters) >= MAX_OUTSTANDING_PER_SOCKET or sock.transport is None:
            raise UpstreamUnavailable(f"{self.label}: too many outstanding queries")
        qid = _free_id(sock.waiters)
        waiter: asyncio.Future[bytes] = loop.create_future()
        sock.waiters[qid] = waiter
        try:
            sock.transport.sendto(_with_id(query, qid))
            async with asyncio.timeout_at(deadline):
                response = await waiter
        except TimeoutError:
            raise UpstreamTimeout(f"{self.label}: no answer in {budget:.1f}s") from None
        finally:
            sock.waiters.pop(qid, None)
        if _LENGTH.unpack_from(response, 2)[0] & FLAG_TC:
            if self._tcp is None:
                self._tcp = StreamTransport(self.host, self.port)
            return await self._tcp.exchange(query, max(0.1, deadline - loop.time()))
        return qid, response

    async def close(self) -> None:
        for sock in self._sockets:
            if sock.transport is not None:
                sock.transport.close()
        self._sockets.clear()
        if self._tcp is not None:
            await self._tcp.close()


class _Stream:
    """One open connection and its reader task."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.waiters: dict[int, asyncio.Future[bytes]] = {}
        self.closed = False
        self.used = False
        self.idle: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None

    def fail_all(self, error: Exception) -> None:
        self.closed = True
        waiters, self.waiters = self.waiters, {}
        for waiter in waiters.values():
            if not waiter.done():
                waiter.set_exception(error)

    def close(self) -> None:
        self.closed = True
        if self.idle is not None:
            self.idle.cancel()
        self.writer.close()


class StreamTransport:
    """DNS over TCP (``ssl_context=None``) or over TLS to one server, pipelined."""

    def __init__(
        self,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        idle_timeout: float = STREAM_IDLE_TIMEOUT,
    ) -> None:
        self.host, self.port = host, port
        self._ssl = ssl_context
        self._server_hostname = server_hostname
        self._idle_timeout = idle_timeout
        scheme = "tls" if ssl_context is not None else "tcp"
        self.label = f"{scheme}://{_hostport(host, port)}"
        self._stream: _Stream | None = None
        self._connecting: asyncio.Lock | None = None

    async def _connect(self) -> _Stream:
        stream = self._stream
        if stream is not None and not stream.closed:
            return stream
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            stream = self._stream
            if stream is not None and not stream.closed:
                return stream
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    reader, writer = await asyncio.open_connection(
                        self.host,
                        self.port,
                        ssl=self._ssl,
                        server_hostname=self._server_hostname if self._ssl else None,
                        limit=MAX_MESSAGE_SIZE + 2,
                    )
            except TimeoutError:
                raise UpstreamTimeout(f"{self.label}: connect timed out") from None
            except (OSError, ssl.SSLError) as exc:
                raise UpstreamUnavailable(f"{self.label}: {exc}") from None
            stream = _Stream(reader, writer)
            stream.task = asyncio.create_task(self._read(stream), name=f"dns-upstream {self.label}")
            self._stream = stream
            return stream

    async def _read(self, stream: _Stream) -> None:
        error: Exception = UpstreamUnavailable(f"{self.label}: connection closed")
        try:
            while True:
                head = await stream.reader.readexactly(2)
                (length,) = _LENGTH.unpack(head)
                data = await stream.reader.readexactly(length)
                if length < HEADER_SIZE:
                    continue
                waiter = stream.waiters.pop(_LENGTH.unpack_from(data)[0], None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(data)
                if not stream.waiters:
                    self._arm_idle(stream)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, OSError) as exc:
            if not isinstance(exc, asyncio.IncompleteReadError):
                error = UpstreamUnavailable(f"{self.label}: {exc}")
        finally:
            stream.fail_all(error)
            with contextlib.suppress(Exception):
                stream.writer.close()

    def _arm_idle(self, stream: _Stream) -> None:
        if stream.idle is not None:
            stream.idle.cancel()
        stream.idle = asyncio.get_running_loop().call_later(self._idle_timeout, stream.close)

    async def exchange(self, query: bytes, budget: float) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        for attempt in range(2):
            stream = await self._connect()
            reused = stream.used
            stream.used = True
            if len(stream.waiters) >= MAX_OUTSTANDING_PER_SOCKET:
                raise UpstreamUnavailable(f"{self.label}: too many outstanding queries")
            if stream.idle is not None:
                stream.idle.cancel()
                stream.idle = None
            qid = _free_id(stream.waiters)
            waiter: asyncio.Future[bytes] = loop.create_future()
            stream.waiters[qid] = waiter
            try:
                stream.writer.write(_LENGTH.pack(len(query)) + _with_id(query, qid))
                async with asyncio.timeout_at(deadline):
                    return qid, await waiter
            except TimeoutError:
                raise UpstreamTimeout(f"{self.label}: no answer in {budget:.1f}s") from None
            except UpstreamUnavailable:
                # A reused connection the server had just closed: one retry on a fresh one.
                if attempt or not reused:
                    raise
            finally:
                stream.waiters.pop(qid, None)
        raise UpstreamUnavailable(f"{self.label}: connection lost")  # pragma: no cover

    async def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
            if stream.task is not None:
                stream.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await stream.task


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
