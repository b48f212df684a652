"""Connections from the proxy to destinations: raw sockets for tunnels, pooled keep-alive
HTTP/1.1 connections (plain or TLS) for forwarded requests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ramparts.aio.http1 import Http1Channel
from ramparts.http1 import ClientConnection
from ramparts.proxy.destination import DestinationError, IpAddress
from ramparts.proxy.limits import ORIGIN_IDLE_TIMEOUT, ORIGIN_POOL_PER_KEY

OriginChannel = Http1Channel[ClientConnection]
OriginKey = tuple[IpAddress, int, str | None]  # address, port, TLS server name (None: plain)


@dataclass(slots=True)
class _Idle:
    channel: OriginChannel
    since: float


async def open_socket(
    addresses: Sequence[IpAddress], port: int, host: str, connect_timeout: float
) -> tuple[socket.socket, IpAddress]:
    """A connected non-blocking TCP socket to the first address that answers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + connect_timeout
    last: BaseException | None = None
    for ip in addresses:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            await asyncio.wait_for(loop.sock_connect(sock, (str(ip), port)), remaining)
            return sock, ip
        except (OSError, TimeoutError) as exc:
            sock.close()
            last = exc
            if isinstance(exc, TimeoutError):
                break
    if isinstance(last, TimeoutError):
        raise DestinationError(504, "Destination timeout", f"{host}:{port} did not answer in time.")
    reason = last.strerror if isinstance(last, OSError) and last.strerror else "unreachable"
    raise DestinationError(502, "Destination unreachable", f"{host}:{port}: {reason}.")


class OriginPool:
    """Idle keep-alive connections per destination address, port and TLS name."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        self._idle: dict[OriginKey, list[_Idle]] = {}

    def checkout(self, key: OriginKey) -> OriginChannel | None:
        pool = self._idle.get(key)
        now = time.monotonic()
        while pool:
            idle = pool.pop()
            channel = idle.channel
            if (
                now - idle.since < ORIGIN_IDLE_TIMEOUT
                and not channel.is_closing
                and channel.h1.reusable
            ):
                return idle.channel
            idle.channel.close()
        return None

    def checkin(self, key: OriginKey, channel: OriginChannel) -> None:
        if not channel.h1.reusable or channel.is_closing:
            channel.close()
            return
        pool = self._idle.setdefault(key, [])
        if len(pool) >= ORIGIN_POOL_PER_KEY:
            channel.close()
            return
        pool.append(_Idle(channel, time.monotonic()))

    async def connect(
        self,
        addresses: Sequence[IpAddress],
        port: int,
        host: str,
        tls_name: str | None,
        connect_timeout: float,
    ) -> tuple[OriginChannel, OriginKey]:
        sock, ip = await open_socket(addresses, port, host, connect_timeout)
        loop = asyncio.get_running_loop()
        try:
            _, channel = await asyncio.wait_for(
                loop.create_connection(
                    lambda: OriginChannel(ClientConnection()),
                    sock=sock,
                    ssl=self._tls if tls_name else None,
                    server_hostname=tls_name,
                ),
                connect_timeout,
            )
        except TimeoutError:
            sock.close()
            raise DestinationError(
                504, "Destination timeout", f"{host}:{port} did not answer in time."
            ) from None
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise DestinationError(
                502, "Destination TLS failed", f"{host}:{port}: {exc}."
            ) from None
        return channel, (ip, port, tls_name)

    def close(self) -> None:
        for pool in self._idle.values():
            for idle in pool:
                with contextlib.suppress(Exception):
                    idle.channel.close()
        self._idle.clear()
