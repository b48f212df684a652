"""HTTP origins of the connector: keep-alive connection pools and request/response relaying.

A request stream from the edge becomes one HTTP/1.1 exchange with the origin: the head goes
out at once, the body is relayed as it arrives (chunked unless the client sent a length), and
the response is relayed back without buffering. A 101 (WebSocket and other upgrades) turns
both sides into raw byte streams. Idle connections are kept per origin for reuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from dataclasses import dataclass

from ramparts.aio.http1 import Http1Channel, PeerClosed
from ramparts.http1 import (
    ClientConnection,
    Data,
    EndOfMessage,
    InformationalResponse,
    RemoteProtocolError,
    Response,
)
from ramparts.http1.headers import end_to_end_fields
from ramparts.tunnel.connector.origin_request import OriginRequest
from ramparts.tunnel.connector.services import HttpService, UnixService
from ramparts.tunnel.mux import MuxStream, StreamError
from ramparts.tunnel.protocol import ErrorCode, HttpRequestMeta, ResponseMeta
from ramparts.tunnel.splice import splice_channel

log = logging.getLogger(__name__)

UPGRADE_HEADERS = (b"connection", b"upgrade")
MAX_INFORMATIONAL = 16  # 1xx responses skipped before the final one (a loop of 100s is hostile)

OriginChannel = Http1Channel[ClientConnection]
OriginKey = tuple[str, str, int, bool, str | None, str | None, bool]


@dataclass(slots=True)
class _Idle:
    channel: OriginChannel
    since: float


class OriginError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class HttpOrigins:
    """Pools of idle keep-alive connections, one pool per origin (and TLS settings)."""

    def __init__(self) -> None:
        self._idle: dict[OriginKey, list[_Idle]] = {}
        self._contexts: dict[tuple[str | None, bool], ssl.SSLContext] = {}

    async def close(self) -> None:
        for pool in self._idle.values():
            for idle in pool:
                idle.channel.close()
        self._idle.clear()

    async def serve(
        self,
        stream: MuxStream,
        meta: HttpRequestMeta,
        service: HttpService | UnixService,
        settings: OriginRequest,
    ) -> None:
        host = settings.http_host_header or meta.host
        headers, upgrade, has_length = _request_headers(meta, host)
        # An upgrade request has no body: its stream stays open for the bytes after the 101.
        has_body = not stream.remote_ended and not upgrade
        if has_body and not has_length:
            headers.append((b"transfer-encoding", b"chunked"))
        target = (service.path.rstrip("/") if isinstance(service, HttpService) else "") + (
            meta.path or "/"
        )
        method = meta.method.encode("ascii")
        key = _key(service, settings, meta.host)
        for attempt in (1, 2):
            channel = self._idle_channel(key, settings)
            reused = channel is not None
            if channel is None:
                try:
                    channel = await self._connect(service, settings, key)
                except OriginError as exc:
                    stream.reject(exc.code, str(exc))
                    return
            try:
                h1 = channel.h1
                head = h1.send_request(method, target.encode("latin-1"), headers)
                if not has_body:
                    head += h1.send_end()  # the request is complete: the channel can be reused
                channel.write(head)
            except Exception as exc:
                channel.abort()
                stream.reject(ErrorCode.ORIGIN_UNREACHABLE, f"cannot send request: {exc}")
                return
            body = asyncio.create_task(_relay_body(stream, channel)) if has_body else None
            try:
                response = await _final_response(channel)
            except (PeerClosed, RemoteProtocolError) as exc:
                channel.abort()
                if body is not None:
                    body.cancel()
                # A pooled connection the origin had closed: one more try on a fresh one.
                if reused and attempt == 1 and not has_body and isinstance(exc, PeerClosed):
                    continue
                stream.reject(ErrorCode.ORIGIN_UNREACHABLE, f"bad response from origin: {exc}")
                return
            await self._relay_response(stream, channel, response, body, key, settings)
            return

    async def _relay_response(
        self,
        stream: MuxStream,
        channel: OriginChannel,
        response: Response,
        body: asyncio.Task[None] | None,
        key: OriginKey,
        settings: OriginRequest,
    ) -> None:
        switched = channel.h1.switched
        headers = (
            response.raw_headers
            if switched
            else end_to_end_fields(response.raw_headers, response.headers)
        )
        try:
            stream.respond(ResponseMeta(status=response.status, headers=tuple(headers)))
            if switched:
                channel.switch_to_raw()
                await splice_channel(stream, channel)
                return
            while True:
                event = await channel.next_event()
                if type(event) is Data:
                    await stream.write(event.data)
                elif type(event) is EndOfMessage:
                    stream.end()
                    break
                else:
                    raise RemoteProtocolError(f"unexpected {type(event).__name__}", 502)
            if body is not None:
                await body
        except (StreamError, PeerClosed, RemoteProtocolError, OSError):
            channel.abort()
            stream.reset(ErrorCode.CANCEL)
            if body is not None:
                body.cancel()
            return
        if channel.h1.reusable and not channel.is_closing:
            self._checkin(key, channel, settings)
        else:
            channel.close()

    def _idle_channel(self, key: OriginKey, settings: OriginRequest) -> OriginChannel | None:
        """A pooled keep-alive connection to the origin that is still usable, or None."""
        pool = self._idle.get(key)
        if not pool:
            return None
        now = time.monotonic()
        while pool:
            idle = pool.pop()
            if now - idle.since < settings.keep_alive_timeout and not idle.channel.is_closing:
                return idle.channel
            idle.channel.close()
        return None

    def _checkin(self, key: OriginKey, channel: OriginChannel, settings: OriginRequest) -> None:
        pool = self._idle.setdefault(key, [])
        if len(pool) >= settings.keep_alive_connections:
            channel.close()
            return
        pool.append(_Idle(channel, time.monotonic()))

    async def _connect(
        self, service: HttpService | UnixService, settings: OriginRequest, key: OriginKey
    ) -> OriginChannel:
        loop = asyncio.get_running_loop()
        context = self._tls(settings) if service.tls else None
        server_name = (settings.origin_server_name or key[4]) if context else None

        def factory() -> OriginChannel:
            return OriginChannel(ClientConnection())

        try:
            if isinstance(service, UnixService):
                _, channel = await asyncio.wait_for(
                    loop.create_unix_connection(
                        factory, service.path, ssl=context, server_hostname=server_name
                    ),
                    settings.connect_timeout,
                )
            else:
                _, channel = await asyncio.wait_for(
                    loop.create_connection(
                        factory,
                        service.host,
                        service.port,
                        ssl=context,
                        server_hostname=(server_name or service.host) if context else None,
                        # uvloop tries the resolved addresses in order (no RFC 8305 racing),
                        # which is what noHappyEyeballs asks for; it takes no delay argument.
                    ),
                    settings.connect_timeout,
                )
        except TimeoutError:
            raise OriginError(
                ErrorCode.ORIGIN_TIMEOUT, f"{service} did not answer in time"
            ) from None
        except (OSError, ssl.SSLError) as exc:
            log.warning("origin unreachable", extra={"origin": str(service), "reason": str(exc)})
            raise OriginError(ErrorCode.ORIGIN_UNREACHABLE, f"{service}: {exc}") from None
        transport = channel.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return channel

    def _tls(self, settings: OriginRequest) -> ssl.SSLContext:
        cache_key = (settings.ca_pool, settings.no_tls_verify)
        context = self._contexts.get(cache_key)
        if context is None:
            context = ssl.create_default_context(cafile=settings.ca_pool)
            if settings.no_tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._contexts[cache_key] = context
        return context


def _key(
    service: HttpService | UnixService, settings: OriginRequest, public_host: str
) -> OriginKey:
    sni = settings.origin_server_name or (public_host if settings.match_sni_to_host else None)
    if isinstance(service, UnixService):
        return ("unix", service.path, 0, service.tls, sni, settings.ca_pool, settings.no_tls_verify)
    return (
        "tcp",
        service.host,
        service.port,
        service.tls,
        sni,
        settings.ca_pool,
        settings.no_tls_verify,
    )


def _request_headers(
    meta: HttpRequestMeta, host: str
) -> tuple[list[tuple[bytes, bytes]], bool, bool]:
    """The request's fields for the origin (Host set to ``host``), whether it asks for an
    upgrade (Connection: upgrade), and whether it has a Content-Length."""
    headers: list[tuple[bytes, bytes]] = [
        (b"host", host.encode("idna") if not host.isascii() else host.encode())
    ]
    upgrade = has_length = False
    for name, value in meta.headers:
        lowered = name.lower()
        if lowered == b"host":
            continue
        if lowered == b"content-length":
            has_length = True
        elif lowered == b"connection" and b"upgrade" in value.lower():
            upgrade = True
        headers.append((name, value))
    return headers, upgrade, has_length


async def _final_response(channel: OriginChannel) -> Response:
    for _ in range(MAX_INFORMATIONAL):
        event = await channel.next_event()
        if type(event) is Response:
            return event
        if type(event) is not InformationalResponse:
            raise RemoteProtocolError(f"expected a response, got {type(event).__name__}", 502)
    raise RemoteProtocolError("too many informational responses", 502)


async def _relay_body(stream: MuxStream, channel: OriginChannel) -> None:
    h1 = channel.h1
    while True:
        chunk = await stream.read()
        if not chunk:
            channel.write(h1.send_end())
            return
        channel.write(h1.send_data(chunk))
        await channel.drain()
