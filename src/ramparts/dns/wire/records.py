"""Records lifted out of an upstream message so they can be spliced into another reply
(e.g. the target's answers after a CNAME override). Off the hot path.

Compression pointers only make sense inside their own message, so owners and names inside
RDATA (see ``rdata.expand_rdata``) are written out in full; other RDATA is copied as is.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from ramparts.dns.errors import MalformedResponse, NameFormatError
from ramparts.dns.wire.names import read_name
from ramparts.dns.wire.rdata import expand_rdata
from ramparts.dns.wire.response import RecordInfo

_RR_FIXED = struct.Struct("!HHIH")


def uncompressed_records(packet: bytes, records: Iterable[RecordInfo]) -> list[bytes]:
    """Each record re-encoded without compression pointers (owner in its upstream case)."""
    out: list[bytes] = []
    try:
        for record in records:
            owner, _ = read_name(packet, record.offset)
            rdata = expand_rdata(packet, record.rtype, record.rdata_offset, record.end)
            fixed = _RR_FIXED.pack(record.rtype, record.rclass, record.ttl, len(rdata))
            out.append(owner + fixed + rdata)
    except NameFormatError as exc:
        raise MalformedResponse(str(exc)) from exc
    return out
