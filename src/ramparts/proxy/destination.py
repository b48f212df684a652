"""Where a proxied request may go: name resolution and the guard against SSRF and loops.

Destinations are resolved by the proxy (``DestinationResolver``), and every address is checked
*after* resolution, so a public name that resolves to a private or loopback address (DNS
rebinding) is refused like the literal address would be. Endpoints that allow private
destinations skip the private check, never the loop check: the proxy's own listeners are not a
destination.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_ADDRESSES = 8
"""Addresses of one name tried in turn (more add nothing but time)."""
DNS_TIMEOUT = 3.0
"""Seconds for one DNS query to the configured resolver."""

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationError(Exception):
    """A destination the proxy will not or cannot reach; ``status`` is the HTTP answer."""

    def __init__(self, status: int, title: str, text: str, decision: str = "error") -> None:
        super().__init__(text)
        self.status = status
        self.title = title
        self.text = text
        self.decision = decision


def is_private(ip: IpAddress) -> bool:
    """Loopback, RFC 1918, link-local, CGNAT, ULA, unspecified, multicast and reserved
    addresses: everything that is not a public unicast address. IPv4-mapped and NAT64 forms
    are judged by the IPv4 address inside."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is None and ip in _NAT64:
            mapped = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if mapped is not None:
            return is_private(mapped)
    return not ip.is_global or ip.is_multicast


def parse_literal(host: str) -> IpAddress | None:
    """The address of an IP-literal host (brackets allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Listener:
    """One of the proxy's own listening addresses (for loop detection)."""

    ip: IpAddress
    port: int

    def matches(self, ip: IpAddress, port: int) -> bool:
        if port != self.port:
            return False
        if self.ip.is_unspecified:  # bound to every address: any local one is us
            return ip.is_loopback or ip == self.ip
        return ip == self.ip


class DestinationResolver:
    """Resolves destination names: with the system resolver, or with one DNS server
    (``host:port``, e.g. the edge's own filtering resolver or a test's unbound)."""

    def __init__(self, server: tuple[str, int] | None = None) -> None:
        self._server = server

    async def resolve(self, host: str, port: int) -> list[IpAddress]:
        literal = parse_literal(host)
        if literal is not None:
            return [literal]
        if self._server is not None:
            return await self._query(host)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise _unknown(host, str(exc)) from None
        return _unique(ipaddress.ip_address(info[4][0]) for info in infos)

    async def _query(self, host: str) -> list[IpAddress]:
        assert self._server is not None
        server, port = self._server
        found: list[IpAddress] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                query = dns.message.make_query(host, rdtype)
                answer = await dns.asyncquery.udp(query, server, timeout=DNS_TIMEOUT, port=port)
            except (dns.exception.DNSException, OSError, ValueError) as exc:
                raise _unknown(host, str(exc) or type(exc).__name__) from None
            if answer.rcode() != dns.rcode.NOERROR:
                continue
            for rrset in answer.answer:
                if rrset.rdtype == rdtype:
                    found.extend(ipaddress.ip_address(r.address) for r in rrset)
        if not found:
            raise _unknown(host, "no address")
        return _unique(found)


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` -> (host, port); ValueError when malformed."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or str(default_port)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, str(default_port)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a host:port: {text!r}")
    return host, int(port)


def check_addresses(
    host: str,
    addresses: Iterable[IpAddress],
    port: int,
    *,
    allow_private: bool,
    listeners: Iterable[Listener],
) -> list[IpAddress]:
    """The addresses the proxy may dial, in order; DestinationError when none remain."""
    own = tuple(listeners)
    allowed: list[IpAddress] = []
    for ip in addresses:
        if any(listener.matches(ip, port) for listener in own):
            raise DestinationError(
                508, "Proxy loop", f"{host}:{port} is this proxy itself.", decision="loop"
            )
        if not allow_private and is_private(ip):
            continue
        allowed.append(ip)
    if not allowed:
        raise DestinationError(
            403,
            "Destination not allowed",
            f"{host} is a private or local address; this proxy endpoint does not reach those.",
            decision="private",
        )
    return allowed


def _unique(addresses: Iterable[IpAddress]) -> list[IpAddress]:
    return list(dict.fromkeys(addresses))[:MAX_ADDRESSES]


def _unknown(host: str, reason: str) -> DestinationError:
    return DestinationError(
        502, "Unknown host", f"The proxy could not resolve {host} ({reason}).", decision="error"
    )
