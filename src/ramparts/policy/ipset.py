"""Integer range sets (ports, IP addresses) with bisect lookups, and IP address keys.

IP addresses become one integer key space so IPv4 and IPv6 share one structure: an IPv4
address is its 32-bit value; an IPv6 address is its 128-bit value plus ``IPV6_OFFSET``.
IPv4-mapped IPv6 addresses (``::ffff:a.b.c.d``, RFC 4291 §2.5.5.2) count as IPv4.
"""

from __future__ import annotations

import ipaddress
import socket
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

#: IPv6 keys start above every IPv4 key, so the two families never overlap.
IPV6_OFFSET = 1 << 32

#: RFC 4291 §2.5.5.2: ::ffff:0:0/96 holds IPv4-mapped addresses.
_V4_MAPPED_PREFIX = bytes(10) + b"\xff\xff"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def address_key(address: IpAddress) -> int:
    """The integer key of an address."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is None:
            return int(address) + IPV6_OFFSET
        address = mapped
    return int(address)


def parse_address_key(text: str) -> int:
    """Key of an address written as text; raises ValueError when it is not an address."""
    try:  # fast path: inet_pton is strict (dotted quad / RFC 4291 text) and runs in C
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError, TypeError):
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError, TypeError):
        return address_key(ipaddress.ip_address(text.strip()))
    if packed.startswith(_V4_MAPPED_PREFIX):
        return int.from_bytes(packed[12:], "big")
    return int.from_bytes(packed, "big") + IPV6_OFFSET


def network_range(network: IpNetwork) -> tuple[int, int]:
    """Inclusive key range covered by a network."""
    # Networks inside ::ffff:0:0/96 map onto IPv4 keys through address_key.
    low = address_key(network.network_address)
    return low, low + network.num_addresses - 1


def parse_ip_entry(text: str) -> tuple[int, int]:
    """An IP list entry: ``1.2.3.4``, ``10.0.0.0/8`` or ``1.2.3.4-1.2.3.9``. Raises ValueError."""
    text = text.strip()
    if "-" in text:
        low_text, high_text = text.split("-", 1)
        low = parse_address_key(low_text)
        high = parse_address_key(high_text)
        if (low >= IPV6_OFFSET) != (high >= IPV6_OFFSET) or high < low:
            raise ValueError(f"bad address range {text!r}")
        return low, high
    return network_range(ipaddress.ip_network(text, strict=False))


@dataclass(frozen=True, slots=True)
class RangeSet:
    """Sorted, disjoint, inclusive integer ranges; ``key in rs`` is one bisect."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, ranges: Iterable[tuple[int, int]]) -> RangeSet:
        """Merge arbitrary (possibly overlapping or adjacent) inclusive ranges."""
        starts: list[int] = []
        ends: list[int] = []
        for low, high in sorted(ranges):
            if high < low:
                continue
            if ends and low <= ends[-1] + 1:
                if high > ends[-1]:
                    ends[-1] = high
            else:
                starts.append(low)
                ends.append(high)
        return cls(tuple(starts), tuple(ends))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int):
            return False
        i = bisect_right(self.starts, key) - 1
        return i >= 0 and key <= self.ends[i]

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def ranges(self) -> tuple[tuple[int, int], ...]:
        return tuple(zip(self.starts, self.ends, strict=True))
