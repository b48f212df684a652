"""EDNS(0) (RFC 6891): OPT records and their options (client subnet, padding, EDE)."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from ramparts.dns.constants import (
    ECS_FAMILY_IPV4,
    ECS_FAMILY_IPV6,
    EDNS_DO,
    MAX_EDE_TEXT_BYTES,
    OPTION_CLIENT_SUBNET,
    OPTION_EDE,
    OPTION_PADDING,
    TYPE_OPT,
)

_OPTION_HEAD = struct.Struct("!HH")
_OPT_FIXED = struct.Struct("!BHHIH")  # root owner, TYPE, CLASS=udp size, TTL, RDLENGTH
_EDE_HEAD = struct.Struct("!HHH")  # option code, option length, INFO-CODE

_ECS_MAX_PREFIX = {ECS_FAMILY_IPV4: 32, ECS_FAMILY_IPV6: 128}
"""Longest SOURCE PREFIX-LENGTH per address family (RFC 7871 §6)."""

PADDING_BLOCK_RESPONSE = 468
"""Pad encrypted responses to a multiple of 468 octets (RFC 8467 §4.1, block-length padding)."""


@dataclass(frozen=True, slots=True)
class ClientSubnet:
    """An EDNS Client Subnet option (RFC 7871 §6)."""

    family: int
    source_prefix: int
    scope_prefix: int
    network: ipaddress.IPv4Network | ipaddress.IPv6Network


def check_options(rdata: bytes) -> str | None:
    """Return why the OPT RDATA is malformed (a FORMERR reason), or ``None`` when it is fine."""
    pos = 0
    end = len(rdata)
    while pos < end:
        if pos + 4 > end:
            return "truncated EDNS option header"
        code, length = _OPTION_HEAD.unpack_from(rdata, pos)
        pos += 4
        if pos + length > end:
            return "EDNS option longer than the OPT record"
        if code == OPTION_CLIENT_SUBNET:
            reason = _check_client_subnet(rdata[pos : pos + length])
            if reason is not None:
                return reason
        pos += length
    return None


def _check_client_subnet(data: bytes) -> str | None:
    # RFC 7871 §7.1.1: malformed ECS options are answered with FORMERR.
    if len(data) < 4:
        return "client subnet option too short"
    family, source, scope = struct.unpack_from("!HBB", data)
    max_prefix = _ECS_MAX_PREFIX.get(family)
    if max_prefix is None:
        return "client subnet family unknown"
    if source > max_prefix:
        return "client subnet source prefix too long"
    if scope != 0:
        return "client subnet scope prefix must be 0 in a query"
    address = data[4:]
    if len(address) != (source + 7) // 8:
        return "client subnet address length does not match the prefix"
    if source % 8 and address[-1] & (0xFF >> (source % 8)):
        return "client subnet address has bits beyond the prefix"
    return None


def iter_options(rdata: bytes) -> list[tuple[int, bytes]]:
    """The (code, data) pairs of a valid OPT RDATA (as checked by ``check_options``)."""
    options: list[tuple[int, bytes]] = []
    pos = 0
    end = len(rdata)
    while pos + 4 <= end:
        code, length = _OPTION_HEAD.unpack_from(rdata, pos)
        options.append((code, rdata[pos + 4 : pos + 4 + length]))
        pos += 4 + length
    return options


def find_option(rdata: bytes, code: int) -> bytes | None:
    """Data of the first option with ``code`` in a valid OPT RDATA, or ``None``."""
    for option_code, data in iter_options(rdata):
        if option_code == code:
            return data
    return None


def client_subnet(rdata: bytes) -> ClientSubnet | None:
    """The client subnet option of a query's valid OPT RDATA, or ``None``."""
    data = find_option(rdata, OPTION_CLIENT_SUBNET)
    if data is None or _check_client_subnet(data) is not None:
        return None
    family, source, scope = struct.unpack_from("!HBB", data)
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    if family == ECS_FAMILY_IPV4:
        network = ipaddress.IPv4Network((data[4:].ljust(4, b"\x00"), source))
    else:
        network = ipaddress.IPv6Network((data[4:].ljust(16, b"\x00"), source))
    return ClientSubnet(family, source, scope, network)


def has_padding(rdata: bytes) -> bool:
    """Whether the client sent a Padding option (RFC 7830), asking for padded replies."""
    return find_option(rdata, OPTION_PADDING) is not None


def build_opt(udp_size: int, *, do: bool, ext_rcode: int = 0, options: bytes = b"") -> bytes:
    """A complete OPT resource record, version 0 (RFC 6891 §6.1.2)."""
    ttl = ((ext_rcode & 0xFF) << 24) | (EDNS_DO if do else 0)
    return _OPT_FIXED.pack(0, TYPE_OPT, udp_size, ttl, len(options)) + options


def ede_option(info_code: int, text: str = "") -> bytes:
    """An Extended DNS Error option (RFC 8914 §2); text is UTF-8, capped in length."""
    extra = text.encode("utf-8")[:MAX_EDE_TEXT_BYTES]
    return _EDE_HEAD.pack(OPTION_EDE, 2 + len(extra), info_code) + extra


def padding_option(length: int) -> bytes:
    """A Padding option (RFC 7830 §3) with ``length`` zero octets."""
    return _OPTION_HEAD.pack(OPTION_PADDING, length) + bytes(length)


def padding_needed(message_length: int, block: int = PADDING_BLOCK_RESPONSE) -> int:
    """Octets of padding data that bring a message plus a 4-octet option header to a block."""
    return (-(message_length + 4)) % block
