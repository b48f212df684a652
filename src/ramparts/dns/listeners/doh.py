"""DNS over HTTPS (RFC 8484): ``GET /dns-query?dns=<base64url>`` and ``POST /dns-query`` with
``application/dns-message``, over HTTP/2 (``h2``) and HTTP/1.1 (``h11``), chosen by ALPN.

The location is the id in the path (``/dns-query/<id>``), else the one in the host name
(``<id>.dns.<team domain>``, from ``:authority``/``Host`` or the TLS SNI). Request heads and
bodies are bounded; anything else than a DoH request gets a short HTTP error.

Our own small drivers instead of the edge's uvicorn: uvicorn serves HTTP/1.1 only, and DoH
clients (kdig, browsers, systemd-resolved) speak HTTP/2; the DoH surface is two routes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import h11

from ramparts.dns.constants import HEADER_SIZE
from ramparts.dns.errors import NameFormatError
from ramparts.dns.listeners.stream import SNI_ATTRIBUTE, TLS_HANDSHAKE_TIMEOUT
from ramparts.dns.resolver import Pending, Resolver
from ramparts.dns.wire.names import skip_name
from ramparts.policy import Identity

log = logging.getLogger(__name__)

DNS_MESSAGE = "application/dns-message"
DOH_PATH = "/dns-query"
MAX_DOH_MESSAGE = 4096
"""Largest DNS query accepted in a body or a ``dns=`` parameter (as for TCP): bigger is 413."""
MAX_HEAD_BYTES = 16 * 1024
"""Request line and headers together (HTTP/1.1), header list (HTTP/2)."""
MAX_STREAMS = 100
"""Concurrent HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS)."""
IDLE_TIMEOUT = 30.0
"""Seconds an HTTP connection may stay silent (browsers keep DoH connections open)."""
READ_CHUNK = 65_536
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")

IdentityVerifier = Callable[[dict[str, str]], Identity | None]
"""Maps request headers to the user a DoH token names (Access issues the tokens); ``None``
when the request carries no valid token."""


@dataclass(slots=True)
class HttpAnswer:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _error(status: int, text: str) -> HttpAnswer:
    return HttpAnswer(status, (text + "\n").encode(), [("content-type", "text/plain")])


def _closing(answer: HttpAnswer) -> HttpAnswer:
    """The answer with ``Connection: close``: we stop reading this connection after it."""
    answer.headers.append(("connection", "close"))
    return answer


def min_ttl(message: bytes) -> int | None:
    """Smallest TTL of the records of an answer we built (for ``cache-control``, RFC 8484
    §5.1), skipping the OPT; ``None`` when there are none or the walk fails."""
    try:
        qdcount, ancount, nscount, arcount = struct.unpack_from("!4H", message, 4)
        pos = HEADER_SIZE
        for _ in range(qdcount):
            pos = skip_name(message, pos) + 4
        ttl: int | None = None
        for _ in range(ancount + nscount + arcount):
            pos = skip_name(message, pos)
            rtype = _U16.unpack_from(message, pos)[0]
            if rtype != 41:
                value = _U32.unpack_from(message, pos + 4)[0]
                ttl = value if ttl is None else min(ttl, value)
            pos += 10 + _U16.unpack_from(message, pos + 8)[0]
    except (struct.error, NameFormatError, IndexError):
        return None
    return ttl


class DohHandler:
    """Turns one HTTP request into an HTTP answer (transport independent)."""

    def __init__(self, resolver: Resolver, identity: IdentityVerifier | None = None) -> None:
        self.resolver = resolver
        self.identity = identity

    async def answer(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        src_ip: str,
        sni: str | None,
    ) -> HttpAnswer:
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        if path == DOH_PATH:
            location_id: str | None = None
        elif path.startswith(DOH_PATH + "/") and "/" not in path[len(DOH_PATH) + 1 :]:
            location_id = path[len(DOH_PATH) + 1 :].lower()
        else:
            return _error(404, "not found: DNS over HTTPS is served at /dns-query")
        table = self.resolver.locations
        if location_id is None and table is not None:
            host = headers.get(":authority") or headers.get("host") or ""
            location_id = table.id_from_server_name(
                host.rsplit(":", 1)[0] if "]" not in host else ""
            )
            if location_id is None:
                location_id = table.id_from_server_name(sni)
        if method == "GET":
            values = parse_qs(parts.query).get("dns")
            if not values:
                return _error(400, "missing dns parameter")
            encoded = values[0]
            if len(encoded) > (MAX_DOH_MESSAGE * 4) // 3 + 4:
                return _error(413, "query too large")
            try:
                message = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                return _error(400, "dns parameter is not base64url")
        elif method == "POST":
            content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if content_type != DNS_MESSAGE:
                return _error(415, f"use content-type {DNS_MESSAGE}")
            message = body
        else:
            return HttpAnswer(405, b"", [("allow", "GET, POST")])
        if len(message) > MAX_DOH_MESSAGE:
            return _error(413, "query too large")
        identity = self.identity(headers) if self.identity is not None else None
        out = self.resolver.handle(message, "doh", src_ip, location_id, identity)
        if out is None:
            return _error(400, "not a DNS query")
        reply = await self.resolver.complete(out) if isinstance(out, Pending) else out
        ttl = min_ttl(reply)
        cache = f"max-age={ttl}" if ttl is not None else "no-cache"
        return HttpAnswer(200, reply, [("content-type", DNS_MESSAGE), ("cache-control", cache)])


class _H11Session:
    def __init__(
        self,
        handler: DohHandler,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        src_ip: str,
        sni: str | None,
    ) -> None:
        self.handler, self.reader, self.writer = handler, reader, writer
        self.src_ip, self.sni = src_ip, sni
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)

    async def _send(self, answer: HttpAnswer) -> None:
        conn = self.conn
        headers = [*answer.headers, ("content-length", str(len(answer.body)))]
        data = conn.send(h11.Response(status_code=answer.status, headers=headers))
        data += conn.send(h11.Data(data=answer.body)) if answer.body else b""
        data += conn.send(h11.EndOfMessage())
        self.writer.write(data)
        await self.writer.drain()

    async def run(self) -> None:
        conn = self.conn
        request: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    with contextlib.suppress(h11.LocalProtocolError):
                        await self._send(_closing(_error(400, "bad request")))
                return
            if event is h11.NEED_DATA:
                try:
                    data = await asyncio.wait_for(self.reader.read(READ_CHUNK), IDLE_TIMEOUT)
                except TimeoutError:
                    return
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                request, body = event, bytearray()
                head = len(event.target) + sum(len(k) + len(v) for k, v in event.headers)
                if head > MAX_HEAD_BYTES:  # a complete head is not bounded by h11 itself
                    await self._send(_closing(_error(431, "request head too large")))
                    return
                declared = dict(event.headers).get(b"content-length")
                if declared is not None and declared.isdigit() and int(declared) > MAX_DOH_MESSAGE:
                    await self._send(_closing(_error(413, "query too large")))
                    return
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_DOH_MESSAGE:
                    await self._send(_closing(_error(413, "query too large")))
                    return
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers
                }
                answer = await self.handler.answer(
                    request.method.decode("ascii", "replace"),
                    request.target.decode("latin-1"),
                    headers,
                    bytes(body),
                    self.src_ip,
                    self.sni,
                )
                await self._send(answer)
                if conn.our_state is h11.MUST_CLOSE:
                    return
                try:
                    conn.start_next_cycle()
                except h11.LocalProtocolError:
                    return
                request = None
            elif isinstance(event, h11.ConnectionClosed):
                return


@dataclass(slots=True)
class _Stream:
    headers: dict[str, str]
    body: bytearray = field(default_factory=bytearray)
    outgoing: bytes = b""
    done: bool = False


class _H2Session:
    def __init__(
        self,
        handler: DohHandler,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        src_ip: str,
        sni: str | None,
    ) -> None:
        self.handler, self.reader, self.writer = handler, reader, writer
        self.src_ip, self.sni = src_ip, sni
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.streams: dict[int, _Stream] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)

    async def run(self) -> None:
        conn = self.conn
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_STREAMS,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEAD_BYTES,
            },
        )
        conn.initiate_connection()
        self._flush()
        try:
            while True:
                try:
                    data = await asyncio.wait_for(self.reader.read(READ_CHUNK), IDLE_TIMEOUT)
                except TimeoutError:
                    conn.close_connection()
                    self._flush()
                    return
                if not data:
                    return
                try:
                    events = conn.receive_data(data)
                except h2.exceptions.ProtocolError:
                    self._flush()
                    return
                for event in events:
                    if not self._on_event(event):
                        self._flush()
                        return
                self._flush()
                await self.writer.drain()
        finally:
            for task in self.tasks:
                task.cancel()

    def _on_event(self, event: Any) -> bool:
        conn = self.conn
        if isinstance(event, h2.events.RequestReceived):
            headers = {_text(k).lower(): _text(v) for k, v in event.headers}
            self.streams[event.stream_id] = _Stream(headers)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_DOH_MESSAGE:
                self._respond(event.stream_id, _error(413, "query too large"))
            elif event.stream_ended is not None:
                self._dispatch(event.stream_id)
        elif isinstance(event, h2.events.DataReceived):
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            stream = self.streams.get(event.stream_id)
            if stream is not None and not stream.done:
                stream.body += event.data
                if len(stream.body) > MAX_DOH_MESSAGE:
                    self._respond(event.stream_id, _error(413, "query too large"))
            if event.stream_ended is not None:
                self._dispatch(event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self._dispatch(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self.streams.pop(event.stream_id, None)
        elif isinstance(event, h2.events.WindowUpdated):
            for stream_id in list(self.streams):
                self._send_body(stream_id)
        elif isinstance(event, h2.events.ConnectionTerminated):
            return False
        return True

    def _dispatch(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is None or stream.done:
            return
        stream.done = True
        task = asyncio.get_running_loop().create_task(
            self._serve(stream_id, stream), name="doh-h2-stream"
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _serve(self, stream_id: int, stream: _Stream) -> None:
        headers = stream.headers
        try:
            answer = await self.handler.answer(
                headers.get(":method", ""), headers.get(":path", "/"), headers, bytes(stream.body),
                self.src_ip, self.sni,
            )  # fmt: skip
        except Exception:
            log.exception("DoH request failed")
            answer = _error(500, "internal error")
        if stream_id in self.streams:
            self._respond(stream_id, answer)
            self._flush()

    def _respond(self, stream_id: int, answer: HttpAnswer) -> None:
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        stream.done = True
        headers = [(":status", str(answer.status)), *answer.headers,
                   ("content-length", str(len(answer.body)))]  # fmt: skip
        try:
            self.conn.send_headers(stream_id, headers, end_stream=not answer.body)
        except h2.exceptions.ProtocolError:
            self.streams.pop(stream_id, None)
            return
        if not answer.body:
            self.streams.pop(stream_id, None)
            return
        stream.outgoing = answer.body
        self._send_body(stream_id)

    def _send_body(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is None or not stream.outgoing:
            return
        conn = self.conn
        try:
            while stream.outgoing:
                window = min(
                    conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size
                )
                if window <= 0:
                    return
                chunk, stream.outgoing = stream.outgoing[:window], stream.outgoing[window:]
                conn.send_data(stream_id, chunk, end_stream=not stream.outgoing)
        except (h2.exceptions.ProtocolError, KeyError):
            pass
        if not stream.outgoing:
            self.streams.pop(stream_id, None)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def doh_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """TLS 1.2+ with ALPN h2 then http/1.1, and SNI capture (for the location id)."""
    from ramparts.dns.listeners.stream import _remember_sni

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["h2", "http/1.1"])
    context.sni_callback = _remember_sni
    return context


async def serve_doh(
    sock: socket.socket,
    resolver: Resolver,
    ssl_context: ssl.SSLContext,
    identity: IdentityVerifier | None = None,
) -> asyncio.Server:
    handler = DohHandler(resolver, identity)

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sslobj = writer.get_extra_info("ssl_object")
        peer = writer.get_extra_info("peername")
        src_ip = str(peer[0]) if peer else ""
        sni = getattr(sslobj, SNI_ATTRIBUTE, None)
        alpn = sslobj.selected_alpn_protocol() if sslobj is not None else None
        session = _H2Session if alpn == "h2" else _H11Session
        try:
            await session(handler, reader, writer, src_ip, sni).run()
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("DoH connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await asyncio.start_server(
        connection,
        sock=sock,
        ssl=ssl_context,
        ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
        limit=READ_CHUNK,
    )
