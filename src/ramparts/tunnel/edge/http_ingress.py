"""The edge's public HTTPS listener: route each request by Host down a tunnel.

HTTP/1.1 over TLS (keep-alive, pipelining, streaming both ways with no buffering). The request
becomes a tunnel stream: head as metadata, body relayed as it arrives; the connector's response
is relayed as it comes back. A 101 turns both sides into raw byte streams (WebSocket), and the
``ramparts-tcp`` upgrade carries ``ramparts access tcp|ssh`` to a TCP service of the tunnel.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import logging
import secrets
from pathlib import Path

from prometheus_client import Counter

from ramparts.access.front import MAX_TEAM_BODY, AccessFront
from ramparts.access.gate import Forward, Respond, ServeTeamApp
from ramparts.aio.http1 import Http1Channel, PeerClosed
from ramparts.config.snapshot import Snapshot
from ramparts.edge.metrics import EdgeMetrics
from ramparts.edge.service import Health
from ramparts.http1 import (
    HOP_BY_HOP,
    ConnectionClosed,
    Data,
    EndOfMessage,
    RemoteProtocolError,
    Request,
    ServerConnection,
    TargetForm,
    error_response,
)
from ramparts.http1.framing import connection_options
from ramparts.pki.tls import server_context
from ramparts.serving import bind_tcp, bound_address
from ramparts.tunnel.edge.registry import TunnelRegistry
from ramparts.tunnel.mux import MuxStream, StreamError
from ramparts.tunnel.protocol import (
    DialMeta,
    ErrorCode,
    HttpRequestMeta,
    StreamKind,
    TunnelError,
)
from ramparts.tunnel.splice import splice_channel

log = logging.getLogger(__name__)

SERVICE = "https"
TCP_UPGRADE = b"ramparts-tcp"  # `ramparts access tcp|ssh`: a raw byte stream to a TCP service
HEAD_TIMEOUT = 15.0  # a request head must arrive this fast (slow-loris bound)
IDLE_TIMEOUT = 75.0  # keep-alive connections idle longer are closed
MAX_CONNECTIONS = 10_000  # client connections per edge; beyond this new ones are refused
REQUEST_ID_HEADER = b"x-request-id"
FORWARDED_DROP = frozenset({b"host", b"cf-connecting-ip", b"x-forwarded-proto"})
_REPLACED = FORWARDED_DROP | {b"x-forwarded-for"}  # client values the edge sets itself
_NOT_FORWARDED = HOP_BY_HOP | _REPLACED
JOIN_LIMIT = 64 * 1024  # response pieces up to this size go out as one write (one TLS record)
_RID_PREFIX = secrets.token_hex(4)  # request ids: unique per process prefix + a counter
_rid_counter = itertools.count(1)

Channel = Http1Channel[ServerConnection]


class HttpsIngress:
    name = SERVICE

    def __init__(
        self,
        *,
        host: str,
        port: int,
        certfile: Path,
        keyfile: Path,
        metrics: EdgeMetrics,
        registry: TunnelRegistry,
        drain_timeout: float,
        head_timeout: float = HEAD_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
        access: AccessFront | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._access = access  # identity and Access policies before anything is routed
        self._head_timeout, self._idle_timeout = head_timeout, idle_timeout
        self._ssl = server_context(certfile, keyfile, alpn=["http/1.1"])
        self._metrics = metrics
        self._registry = registry
        self._drain_timeout = drain_timeout
        self._snapshot: Snapshot | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[Channel] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._draining = False
        self._counters: dict[int, Counter] = {}  # requests by status class, labelled once
        self._address = ""

    @property
    def addresses(self) -> dict[str, str]:
        return {SERVICE: self._address} if self._address else {}

    async def start(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._draining = False
        sock = bind_tcp(self._host, self._port)
        self._address = bound_address(sock)
        self._port = int(sock.getsockname()[1])
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accept, sock=sock, ssl=self._ssl)
        if self._access is not None:
            self._access.start(self._port)
        log.info("listening", extra={"service": SERVICE, "address": self._address})

    def apply(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    async def stop(self) -> None:
        """Stop accepting; idle connections close now, busy ones after their exchange."""
        self._draining = True
        if self._server is not None:
            self._server.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self._drain_timeout)
        for channel in list(self._connections):
            channel.abort()
        self._server = None
        if self._access is not None:
            await self._access.aclose()

    def health(self) -> Health:
        if self._server is None or not self._server.is_serving():
            return Health(False, "listener is not running")
        return Health(True, f"{len(self._connections)} client connections")

    # -- connections ---------------------------------------------------------------------

    def _accept(self) -> Channel:
        channel: Channel = Http1Channel(ServerConnection())
        if len(self._connections) >= MAX_CONNECTIONS or self._draining:
            asyncio.get_running_loop().call_soon(channel.abort)
            return channel
        self._connections.add(channel)
        task = asyncio.get_running_loop().create_task(self._serve(channel), name="https-conn")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return channel

    async def _serve(self, channel: Channel) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # connection_made runs before the first read
        first = True
        try:
            while not self._draining or first:
                timeout = self._head_timeout if first else self._idle_timeout
                try:
                    # A deadline, not a wait_for: no task per request.
                    event = await channel.next_event(loop.time() + timeout)
                except TimeoutError:
                    return
                if type(event) is EndOfMessage:
                    continue  # the end of a bodiless request answered before it was read
                if type(event) is not Request:
                    return  # ConnectionClosed, or PAUSED after an unanswered upgrade
                first = False
                if not await self._exchange(channel, event):
                    return
                if channel.h1.must_close:
                    return
        except RemoteProtocolError as exc:
            self._count(exc.status_code)
            channel.write(error_response(exc.status_code, f"{exc}\n".encode()))
        except (PeerClosed, OSError):
            pass
        finally:
            self._connections.discard(channel)
            channel.close()

    async def _exchange(self, channel: Channel, request: Request) -> bool:
        """Serve one request; False when the connection must end afterwards."""
        snapshot = self._snapshot
        assert snapshot is not None
        request_id = f"{_RID_PREFIX}{next(_rid_counter):08x}"
        host = _host_of(request)
        path = _path_of(request)
        if path == b"/cdn-cgi/health":
            return await self._local(channel, request, 200, b"ok\n", "text/plain", request_id)
        forward: Forward | None = None
        if self._access is not None:
            decision = self._access.check(
                host,
                path.decode("latin-1"),
                request.method.decode("ascii"),
                request.headers,
                channel.peer,
                snapshot,
            )
            if type(decision) is Respond:
                return await self._answer(
                    channel, request, decision.status, list(decision.headers), decision.body
                )
            if type(decision) is ServeTeamApp:
                return await self._team_page(channel, request, path, snapshot)
            assert isinstance(decision, Forward)
            forward = decision
        tunnel_id = snapshot.tunnel_for_host(host)
        if tunnel_id is None:
            body = _page(404, "No application here", f"No tunnel or application serves {host}.")
            return await self._local(channel, request, 404, body, "text/html", request_id)
        live = self._registry.pick(tunnel_id)
        if live is None:
            body = _page(
                502,
                "Tunnel not connected",
                f"The tunnel for {host} has no connector connected to this edge right now.",
            )
            return await self._local(channel, request, 502, body, "text/html", request_id)
        client_ip = channel.peer
        has_body = request.content_length != 0
        try:
            if request.upgrade is not None and request.upgrade.lower() == TCP_UPGRADE:
                meta: HttpRequestMeta | DialMeta = DialMeta(
                    StreamKind.TCP, host, request_id=request_id, client_ip=client_ip
                )
                stream = live.mux.open_stream(meta)
            else:
                meta = HttpRequestMeta(
                    method=request.method.decode("ascii"),
                    scheme="https",
                    host=host,
                    path=path.decode("latin-1"),
                    headers=_forward_headers(request, client_ip, request_id, forward),
                    request_id=request_id,
                    client_ip=client_ip,
                )
                # An upgrade keeps the stream open both ways for the bytes after the 101.
                open_ended = has_body or request.upgrade is not None
                stream = live.mux.open_stream(meta, end_stream=not open_ended)
        except TunnelError:
            body = _page(503, "Tunnel busy", "The tunnel cannot take more requests right now.")
            return await self._local(channel, request, 503, body, "text/html", request_id)
        if isinstance(meta, DialMeta):
            return await self._tcp_access(channel, request, stream, request_id)
        return await self._proxy(channel, request, stream, has_body, request_id)

    async def _proxy(
        self, channel: Channel, request: Request, stream: MuxStream, has_body: bool, rid: str
    ) -> bool:
        h1 = channel.h1
        upload = asyncio.create_task(_relay_request_body(channel, stream)) if has_body else None
        try:
            head = await stream.response()
        except StreamError as exc:
            if upload is not None:
                upload.cancel()
            status, title, text = _stream_error_page(exc)
            return await self._local(
                channel,
                request,
                status,
                _page(status, title, text),
                "text/html",
                rid,
                body_read=not has_body,
            )
        headers = list(head.headers)
        headers.append((REQUEST_ID_HEADER, rid.encode()))
        response_head = h1.send_response(head.status, headers)
        self._count(head.status)
        if head.status == 101 and h1.switched:
            channel.write(response_head)
            channel.switch_to_raw()
            await splice_channel(stream, channel)
            return False
        try:
            # The body that came with the head goes out with it: a small response is one
            # write (one TLS record, one send) instead of one per piece.
            parts: list[bytes | bytearray | memoryview] = [response_head]
            while chunk := stream.read_nowait():
                parts.append(h1.send_data(chunk))
            if chunk is not None:  # b"": the stream ended
                parts.append(h1.send_end())
            _write_parts(channel, parts)
            if chunk is None:
                await channel.drain()
                while chunk := await stream.read():
                    channel.write(h1.send_data(chunk))
                    await channel.drain()
                channel.write(h1.send_end())
        except StreamError:
            channel.abort()  # the response cannot be completed: the client must see a cut
            if upload is not None:
                upload.cancel()
            return False
        if upload is not None:
            if not upload.done():
                # The response ended before the request body did: finish the exchange cleanly
                # is not possible without reading the rest, so end the connection.
                upload.cancel()
                return False
            if upload.exception() is not None:
                return False
        return True

    async def _tcp_access(
        self, channel: Channel, request: Request, stream: MuxStream, rid: str
    ) -> bool:
        try:
            await stream.response()
        except StreamError as exc:
            status, title, text = _stream_error_page(exc)
            return await self._local(
                channel, request, status, _page(status, title, text), "text/html", rid
            )
        channel.write(
            channel.h1.send_response(
                101,
                [
                    (b"connection", b"upgrade"),
                    (b"upgrade", TCP_UPGRADE),
                    (REQUEST_ID_HEADER, rid.encode()),
                ],
            )
        )
        self._count(101)
        channel.switch_to_raw()
        await splice_channel(stream, channel)
        return False

    async def _local(
        self,
        channel: Channel,
        request: Request,
        status: int,
        body: bytes,
        content_type: str,
        rid: str,
        *,
        body_read: bool = False,
    ) -> bool:
        """Answer from the edge itself. An unread request body ends the connection after."""
        headers = [
            (b"content-type", f"{content_type}; charset=utf-8".encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (REQUEST_ID_HEADER, rid.encode()),
        ]
        return await self._answer(channel, request, status, headers, body, body_read=body_read)

    async def _answer(
        self,
        channel: Channel,
        request: Request,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        body_read: bool = False,
    ) -> bool:
        """A complete response from the edge (``headers`` carry the content-length)."""
        h1 = channel.h1
        keep = body_read or request.content_length == 0
        if not keep:
            keep = await _discard_body(channel)
        if not keep:
            headers.append((b"connection", b"close"))
        channel.write(h1.send_response(status, headers))
        channel.write(h1.send_data(body))
        channel.write(h1.send_end())
        self._count(status)
        return keep and not h1.switched

    async def _team_page(
        self, channel: Channel, request: Request, path: bytes, snapshot: Snapshot
    ) -> bool:
        """The team domain's pages (login, callback, logout, certs, launcher)."""
        assert self._access is not None
        body = await _read_body(channel, MAX_TEAM_BODY) if request.content_length != 0 else b""
        if body is None:
            page = _page(413, "Too large", "The form is larger than the edge accepts.")
            headers = [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(page)).encode()),
                (b"connection", b"close"),
            ]
            await self._answer(channel, request, 413, headers, page, body_read=True)
            return False
        reply = await self._access.team_page(
            snapshot=snapshot,
            method=request.method.decode("ascii"),
            target=path,
            headers=request.raw_headers,
            body=body,
            client_ip=channel.peer,
        )
        headers = [(n, v) for n, v in reply.headers if n.lower() != b"content-length"]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        return await self._answer(
            channel, request, reply.status, headers, reply.body, body_read=True
        )

    def _count(self, status: int) -> None:
        kind = status // 100
        counter = self._counters.get(kind)
        if counter is None:
            counter = self._counters[kind] = self._metrics.requests.labels(SERVICE, f"{kind}xx")
        counter.inc()


def _write_parts(channel: Channel, parts: list[bytes | bytearray | memoryview]) -> None:
    if len(parts) == 1:
        channel.write(parts[0])
    elif sum(map(len, parts)) <= JOIN_LIMIT:
        channel.write(b"".join(parts))
    else:
        channel.writelines(parts)


MAX_DISCARD = 1024 * 1024  # request body bytes read and dropped to keep a connection usable


async def _discard_body(channel: Channel) -> bool:
    seen = 0
    while True:
        event = await channel.next_event()
        if type(event) is Data:
            seen += len(event.data)
            if seen > MAX_DISCARD:
                return False
        return type(event) is EndOfMessage


async def _read_body(channel: Channel, limit: int) -> bytes | None:
    """The whole request body, or None when it is larger than ``limit``."""
    parts: list[bytes] = []
    size = 0
    while True:
        event = await channel.next_event()
        if type(event) is Data:
            size += len(event.data)
            if size > limit:
                return None
            parts.append(bytes(event.data))
        elif type(event) is EndOfMessage:
            return b"".join(parts)
        else:
            return None


async def _relay_request_body(channel: Channel, stream: MuxStream) -> None:
    try:
        while True:
            event = await channel.next_event()
            if type(event) is Data:
                await stream.write(event.data)
            elif type(event) is EndOfMessage:
                stream.end()
                return
            elif type(event) is ConnectionClosed:
                stream.reset(ErrorCode.CANCEL)
                return
    except (RemoteProtocolError, PeerClosed):
        stream.reset(ErrorCode.CANCEL)
        raise
    except StreamError:
        return


def _host_of(request: Request) -> str:
    raw = request.host or b""
    if request.form is TargetForm.ABSOLUTE:
        authority = request.target.split(b"://", 1)[-1].split(b"/", 1)[0]
        raw = authority.rsplit(b"@", 1)[-1]
    host = raw.decode("latin-1").lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _path_of(request: Request) -> bytes:
    if request.form is TargetForm.ABSOLUTE:
        rest = request.target.split(b"://", 1)[-1]
        slash = rest.find(b"/")
        return rest[slash:] if slash >= 0 else b"/"
    if request.form is TargetForm.ORIGIN:
        return request.target
    return b"/"


def _forward_headers(
    request: Request, client_ip: str, request_id: str, access: Forward | None = None
) -> tuple[tuple[bytes, bytes], ...]:
    """End-to-end headers plus the forwarding headers origins expect (client values for
    CF-Connecting-IP and X-Forwarded-Proto are replaced, X-Forwarded-For is appended to).
    Hop-by-hop fields (and those named in Connection, and Proxy-*) are dropped except on an
    upgrade, whose Connection/Upgrade the origin needs."""
    raw = request.raw_headers
    lowered = request.headers  # the same fields in the same order, names in lower case
    if request.upgrade is not None:
        base = [raw[i] for i, (n, _) in enumerate(lowered) if n not in _REPLACED]
    else:
        drop = _NOT_FORWARDED
        named = [v for n, v in lowered if n == b"connection"]
        if named:
            drop = drop | connection_options(b",".join(named))
        base = [
            raw[i]
            for i, (n, _) in enumerate(lowered)
            if n not in drop and not n.startswith(b"proxy-")
        ]
    if access is not None:  # identity headers only Access may set (clients' copies dropped)
        if access.remove_headers:
            base = [(n, v) for n, v in base if n.lower() not in access.remove_headers]
        base.extend(access.add_headers)
    prior = [v for n, v in lowered if n == b"x-forwarded-for"]
    forwarded_for = b", ".join([*prior, client_ip.encode()])
    base.extend(
        [
            (b"cf-connecting-ip", client_ip.encode()),
            (b"x-forwarded-for", forwarded_for),
            (b"x-forwarded-proto", b"https"),
            (REQUEST_ID_HEADER, request_id.encode()),
        ]
    )
    return tuple(base)


def _stream_error_page(exc: StreamError) -> tuple[int, str, str]:
    code = exc.code
    if code is ErrorCode.ORIGIN_TIMEOUT:
        return 504, "Origin timeout", "The origin behind the tunnel did not answer in time."
    if code is ErrorCode.NO_INGRESS_RULE:
        return 404, "No ingress rule", "The connector has no rule for this request."
    if code is ErrorCode.ACCESS_DENIED:
        return 403, "Forbidden", "The connector refused the request."
    if code is ErrorCode.ORIGIN_UNREACHABLE:
        return 502, "Origin unreachable", "The connector could not reach the origin service."
    return 502, "Bad gateway", "The tunnel stream failed."


def _page(status: int, title: str, text: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{status} {html.escape(title)}</title></head><body>"
        f"<h1>{status} {html.escape(title)}</h1><p>{html.escape(text)}</p>"
        "<hr><p>Ramparts edge</p></body></html>"
    ).encode()
