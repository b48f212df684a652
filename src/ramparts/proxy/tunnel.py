"""CONNECT tunnels: dial the destination, answer 200, then carry bytes until both ends close.

When the client reached the proxy over plain TCP, the client socket is taken over from the
event loop's transport and the bytes move between the two sockets with splice(2): they never
enter Python. Over the TLS listener the bytes pass through user space (decrypt, copy). With TLS
inspection the tunnel is opened up instead (see ``inspect.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import TYPE_CHECKING

from ramparts.http1 import ClientConnection, Request
from ramparts.proxy.destination import check_addresses
from ramparts.proxy.exchange import Exchange, ProxyState
from ramparts.proxy.origin import OriginChannel, open_socket
from ramparts.proxy.relay import Traffic, can_splice, relay_channels, splice_sockets

if TYPE_CHECKING:
    from ramparts.proxy.handler import ProxyConnection

ESTABLISHED = b"Connection established"


async def open_tunnel(
    conn: ProxyConnection,
    request: Request,
    ex: Exchange,
    host: str,
    port: int,
    state: ProxyState,
    *,
    inspect: bool,
) -> bool:
    """Serve one CONNECT; always False: the client connection is the tunnel and ends with it."""
    ctx = conn.ctx
    endpoint = ex.endpoint
    assert endpoint is not None
    addresses = await ctx.resolver.resolve(host, port)
    allowed = check_addresses(
        host,
        addresses,
        port,
        allow_private=endpoint.allow_private_destinations,
        listeners=ctx.listeners,
    )
    if inspect and ctx.inspector is not None:
        return await ctx.inspector.serve(conn, ex, host, port, allowed, state)
    sock, _ = await open_socket(allowed, port, host, ctx.limits.connect_timeout)
    ex.status = 200
    traffic = Traffic()
    try:
        client_sock = _take_socket(conn) if can_splice() else None
        loop = asyncio.get_running_loop()
        if client_sock is not None:
            leftover = conn.channel.h1.take_trailing_data()
            try:
                await loop.sock_sendall(client_sock, _established())
                if leftover:
                    await loop.sock_sendall(sock, leftover)
                    traffic.up += len(leftover)
                await splice_sockets(
                    client_sock,
                    sock,
                    traffic,
                    idle=ctx.limits.idle_timeout,
                    total=ctx.limits.total_timeout,
                )
            finally:
                client_sock.close()
        else:
            channel = conn.channel
            channel.write(channel.h1.send_response(200, [], ESTABLISHED))
            channel.switch_to_raw()
            _, dest = await loop.create_connection(
                lambda: OriginChannel(ClientConnection()), sock=sock
            )
            dest.switch_to_raw()
            try:
                await relay_channels(
                    channel,
                    dest,
                    traffic,
                    idle=ctx.limits.idle_timeout,
                    total=ctx.limits.total_timeout,
                )
            finally:
                dest.close()
    except OSError:
        ex.decision = "error"
    finally:
        sock.close()
        ex.bytes_up += traffic.up
        ex.bytes_down += traffic.down
        ctx.log.add(ex.record())
    return False


def _established() -> bytes:
    return b"HTTP/1.1 200 " + ESTABLISHED + b"\r\n\r\n"


def _take_socket(conn: ProxyConnection) -> socket.socket | None:
    """The client's socket, taken from its transport (plain TCP only, nothing unsent), or
    None when the bytes must pass through the event loop."""
    channel = conn.channel
    transport = channel.transport
    if transport is None or transport.get_extra_info("sslcontext") is not None:
        return None
    if transport.get_write_buffer_size():
        return None
    raw = transport.get_extra_info("socket")
    if raw is None:
        return None
    transport.pause_reading()
    fd = os.dup(raw.fileno())
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        os.close(fd)
        return None
    sock.setblocking(False)
    # The transport closes its descriptor; the connection lives on in ours.
    transport.abort()
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
