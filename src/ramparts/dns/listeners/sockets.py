"""Listening sockets for DNS: SO_REUSEPORT so worker processes can share a port."""

from __future__ import annotations

import ipaddress
import socket

LISTEN_BACKLOG = 1024
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024
"""A deep receive queue absorbs bursts (dnsperf, many clients at once) without drops; the
kernel caps it at net.core.rmem_max."""


class DnsBindError(OSError):
    """A DNS listening socket could not be opened."""


def _family(host: str) -> socket.AddressFamily:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return socket.AF_INET


def _display(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_socket(
    host: str, port: int, kind: socket.SocketKind, *, reuse_port: bool
) -> socket.socket:
    """A bound (and for TCP listening) non-blocking socket; ``DnsBindError`` on failure."""
    sock = socket.socket(_family(host), kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if kind == socket.SOCK_STREAM:
            sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise DnsBindError(
            exc.errno, f"cannot listen on {_display(host, port)}: {exc.strerror}"
        ) from None
    sock.setblocking(False)
    return sock


def address_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return _display(str(host), int(port))


PAIR_ATTEMPTS = 20
"""Tries at finding a port free for both UDP and TCP when any port will do (port 0)."""


def bind_pair(host: str, port: int, *, reuse_port: bool) -> tuple[socket.socket, socket.socket]:
    """A UDP socket and a listening TCP socket on the same port (plain DNS serves both).
    With ``port`` 0 the kernel picks the UDP port; if TCP cannot have it, another is tried."""
    attempts = PAIR_ATTEMPTS if port == 0 else 1
    for attempt in range(attempts):
        udp = bind_socket(host, port, socket.SOCK_DGRAM, reuse_port=reuse_port)
        chosen = int(udp.getsockname()[1])
        try:
            tcp = bind_socket(host, chosen, socket.SOCK_STREAM, reuse_port=reuse_port)
        except DnsBindError:
            udp.close()
            if attempt + 1 == attempts:
                raise
            continue
        return udp, tcp
    raise DnsBindError(0, f"no port free for both UDP and TCP on {host}")  # pragma: no cover
