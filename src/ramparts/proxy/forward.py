"""Forwarding one ``http://`` request (absolute-form) to its destination and the response back.

The request goes out with its end-to-end fields (hop-by-hop and Proxy-* fields dropped, Host
set from the URL, our Via added) on a pooled keep-alive connection; bodies stream both ways
without buffering. When the policies look at the response's content type, the request is
judged again once the response head is in, and a block replaces the response. A 101
(WebSocket) turns both sides into raw byte streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ramparts.aio.http1 import PeerClosed
from ramparts.http1 import (
    Data,
    EndOfMessage,
    InformationalResponse,
    RemoteProtocolError,
    Request,
    Response,
    get_header,
)
from ramparts.http1.headers import end_to_end_fields
from ramparts.proxy.destination import DestinationError, IpAddress, check_addresses
from ramparts.proxy.exchange import Exchange, ProxyState, Refusal
from ramparts.proxy.limits import MAX_INFORMATIONAL
from ramparts.proxy.origin import OriginChannel, OriginKey
from ramparts.proxy.pages import block_page
from ramparts.proxy.relay import Traffic, relay_channels

if TYPE_CHECKING:
    from ramparts.proxy.handler import ProxyConnection


class LoopError(DestinationError):
    def __init__(self) -> None:
        super().__init__(508, "Proxy loop", "This request has passed this proxy already.", "loop")


def request_fields(request: Request, authority: bytes, via: bytes) -> list[tuple[bytes, bytes]]:
    """Fields for the destination: Host from the URL, end-to-end fields, our Via appended."""
    fields = [(b"host", authority)]
    fields.extend(
        (n, v)
        for n, v in end_to_end_fields(request.raw_headers, request.headers)
        if n.lower() != b"host"
    )
    if request.upgrade is not None:  # the destination needs to see the upgrade it answers
        fields.append((b"connection", b"upgrade"))
        fields.append((b"upgrade", request.upgrade))
    prior = [v for n, v in request.headers if n == b"via"]
    fields = [(n, v) for n, v in fields if n.lower() != b"via"]
    fields.append((b"via", b", ".join([*prior, via])))
    return fields


def has_loop(request: Request, via: bytes) -> bool:
    """True when our own Via pseudonym is already in the request (it came through us)."""
    pseudonym = via.split(b" ", 1)[-1]
    return any(
        pseudonym in part.strip().split(b" ", 1)[-1:]
        for n, v in request.headers
        if n == b"via"
        for part in v.split(b",")
    )


async def forward(
    conn: ProxyConnection,
    request: Request,
    ex: Exchange,
    host: str,
    port: int,
    path: bytes,
    state: ProxyState,
    *,
    tls_to: Sequence[IpAddress] = (),
) -> bool:
    """Serve one forwarded request; False when the client connection must end after it.
    ``tls_to``: an inspected HTTPS request, to these (already checked) addresses over TLS."""
    ctx = conn.ctx
    if has_loop(request, ctx.via):
        raise LoopError
    endpoint = ex.endpoint
    assert endpoint is not None
    tls_name = host if tls_to else None
    if tls_to:
        allowed = list(tls_to)
    else:
        allowed = check_addresses(
            host,
            await ctx.resolver.resolve(host, port),
            port,
            allow_private=endpoint.allow_private_destinations,
            listeners=ctx.listeners,
        )
    authority = host.encode("idna") if not host.isascii() else host.encode()
    if ":" in host:
        authority = b"[" + authority + b"]"
    if port != (443 if tls_to else 80):
        authority += b":%d" % port
    fields = request_fields(request, authority, ctx.via)
    has_body = request.content_length != 0
    origin: OriginChannel | None = None
    key: OriginKey | None = None
    for attempt in (1, 2):
        key = (allowed[0], port, tls_name)
        origin = ctx.pool.checkout(key) if attempt == 1 else None
        reused = origin is not None
        if origin is None:
            origin, key = await ctx.pool.connect(
                allowed, port, host, tls_name, ctx.limits.connect_timeout
            )
        h1 = origin.h1
        head = h1.send_request(request.method, path, fields)
        if not has_body:
            head += h1.send_end()
        origin.write(head)
        if has_body:
            break  # a body cannot be replayed: no second attempt
        try:
            response = await _final_response(origin)
        except (PeerClosed, RemoteProtocolError) as exc:
            origin.abort()
            if reused and isinstance(exc, PeerClosed):
                continue  # the origin had closed the pooled connection: once more, fresh
            raise DestinationError(502, "Bad gateway", f"{host}: {exc}") from None
        return await _relay(conn, request, ex, origin, key, response, None, state, port)
    assert origin is not None
    assert key is not None
    upload = asyncio.get_running_loop().create_task(_upload(conn, origin, ex))
    try:
        response = await _final_response(origin)
    except (PeerClosed, RemoteProtocolError) as exc:
        origin.abort()
        upload.cancel()
        raise DestinationError(502, "Bad gateway", f"{host}: {exc}") from None
    return await _relay(conn, request, ex, origin, key, response, upload, state, port)


async def _relay(
    conn: ProxyConnection,
    request: Request,
    ex: Exchange,
    origin: OriginChannel,
    key: OriginKey,
    response: Response,
    upload: asyncio.Task[None] | None,
    state: ProxyState,
    port: int,
) -> bool:
    client = conn.channel
    h1 = client.h1
    if state.policies.has_rules:
        content_type = get_header(response.headers, b"content-type")
        if content_type is not None:
            media = content_type.split(b";", 1)[0].strip().decode("latin-1")
            verdict = state.policies.decide(
                conn.policy_request(ex, port, method=ex.method, content_type=media)
            )
            if verdict.action == "block":
                origin.abort()
                if upload is not None:
                    upload.cancel()
                ex.verdict = verdict
                page = block_page(
                    ex.host, ex.url, verdict.policy_name, verdict.setting("block_reason")
                )
                raise Refusal(page, "block")
    ex.status = response.status
    switched = origin.h1.switched
    headers = (
        response.raw_headers
        if switched
        else end_to_end_fields(response.raw_headers, response.headers)
    )
    headers = [(n, v) for n, v in headers if n.lower() != b"via"]
    prior = [v for n, v in response.headers if n == b"via"]
    headers.append((b"via", b", ".join([*prior, conn.ctx.via])))
    if switched:
        if request.upgrade is None or response.status != 101:
            origin.abort()
            raise DestinationError(502, "Bad gateway", "unexpected protocol switch")
        headers.extend([(b"connection", b"upgrade"), (b"upgrade", request.upgrade)])
    try:
        client_head = h1.send_response(response.status, headers)
    except Exception:
        origin.abort()
        raise
    try:
        if switched and h1.switched:
            client.write(client_head)
            client.switch_to_raw()
            origin.switch_to_raw()
            traffic = Traffic()
            await relay_channels(
                client,
                origin,
                traffic,
                idle=conn.ctx.limits.idle_timeout,
                total=conn.ctx.limits.total_timeout,
            )
            ex.bytes_up += traffic.up
            ex.bytes_down += traffic.down
            _log(conn, ex)
            return False
        parts: list[bytes | bytearray | memoryview] = [client_head]
        while True:
            event = await origin.next_event()
            if type(event) is Data:
                ex.bytes_down += len(event.data)
                parts.append(h1.send_data(event.data))
                client.write(b"".join(parts) if len(parts) > 1 else parts[0])
                parts = []
                await client.drain()
            elif type(event) is EndOfMessage:
                parts.append(h1.send_end())
                client.write(b"".join(parts))
                break
            else:
                raise RemoteProtocolError(f"unexpected {type(event).__name__}", 502)
    except (PeerClosed, RemoteProtocolError, OSError):
        origin.abort()
        client.abort()  # a cut response: the client must see the connection end
        if upload is not None:
            upload.cancel()
        ex.decision = "error"
        _log(conn, ex)
        return False
    keep = True
    if upload is not None:
        if not upload.done():
            upload.cancel()
            keep = False
            origin.abort()
        elif upload.exception() is not None:
            keep = False
    if keep and not origin.is_closing:
        conn.ctx.pool.checkin(key, origin)
    else:
        origin.close()
    _log(conn, ex)
    return keep


def _log(conn: ProxyConnection, ex: Exchange) -> None:
    conn.ctx.log.add(ex.record())


async def _upload(conn: ProxyConnection, origin: OriginChannel, ex: Exchange) -> None:
    client, h1 = conn.channel, origin.h1
    while True:
        event = await client.next_event()
        if type(event) is Data:
            ex.bytes_up += len(event.data)
            origin.write(h1.send_data(event.data))
            await origin.drain()
        elif type(event) is EndOfMessage:
            origin.write(h1.send_end())
            return
        else:
            raise PeerClosed("the client ended the request body early")


async def _final_response(origin: OriginChannel) -> Response:
    for _ in range(MAX_INFORMATIONAL):
        event = await origin.next_event()
        if type(event) is Response:
            return event
        if type(event) is not InformationalResponse:
            raise RemoteProtocolError(f"expected a response, got {type(event).__name__}", 502)
    raise RemoteProtocolError("too many informational responses", 502)


__all__ = ["forward", "has_loop", "request_fields"]
