"""Records lifted out of an upstream message so they can be spliced into another reply
(e.g. the target's answers after a CNAME override). Off the hot path.

Compression pointers only make sense inside their own message, so owners and the names
inside RDATA of the types that may be compressed (RFC 3597 §4: NS, CNAME, SOA, PTR, MX and
the obsolete MB/MD/MF/MG/MINFO/MR) are written out in full; other RDATA is copied as is.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from ramparts.dns.errors import MalformedResponse, NameFormatError
from ramparts.dns.wire.names import read_name
from ramparts.dns.wire.response import RecordInfo

_RR_FIXED = struct.Struct("!HHIH")

_ONE_NAME_TYPES = frozenset({2, 3, 4, 5, 7, 8, 9, 12})  # NS MD MF CNAME MB MG MR PTR
_TYPE_SOA = 6
_TYPE_MINFO = 14
_TYPE_MX = 15


def uncompressed_records(packet: bytes, records: Iterable[RecordInfo]) -> list[bytes]:
    """Each record re-encoded without compression pointers (owner in its upstream case)."""
    out: list[bytes] = []
    try:
        for record in records:
            owner, _ = read_name(packet, record.offset)
            rdata = _rdata(packet, record)
            out.append(
                owner + _RR_FIXED.pack(record.rtype, record.rclass, record.ttl, len(rdata)) + rdata
            )
    except NameFormatError as exc:
        raise MalformedResponse(str(exc)) from exc
    return out


def _rdata(packet: bytes, record: RecordInfo) -> bytes:
    start, end, rtype = record.rdata_offset, record.end, record.rtype
    if rtype in _ONE_NAME_TYPES:
        name, after = read_name(packet, start)
        return _within(name, after, end)
    if rtype == _TYPE_MX:
        if end - start < 3:
            raise MalformedResponse("MX data too short")
        name, after = read_name(packet, start + 2)
        return packet[start : start + 2] + _within(name, after, end)
    if rtype in (_TYPE_SOA, _TYPE_MINFO):
        first, after = read_name(packet, start)
        second, after = read_name(packet, after)
        if after > end:
            raise MalformedResponse("names run past the record data")
        tail = packet[after:end]
        if rtype == _TYPE_SOA and len(tail) != 20:
            raise MalformedResponse("SOA fixed fields are not 20 octets")
        if rtype == _TYPE_MINFO and tail:
            raise MalformedResponse("MINFO data has trailing octets")
        return first + second + tail
    return packet[start:end]


def _within(name: bytes, after: int, end: int) -> bytes:
    if after != end:
        raise MalformedResponse("name does not fill the record data")
    return name
