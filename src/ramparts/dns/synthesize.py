"""Answers we compose from an upstream's records: a CNAME (override host, safe search) followed
by the target's own records, so a stub gets addresses in one round trip. The result is a
complete response message, parsed and cached like any upstream answer."""

from __future__ import annotations

import struct

from ramparts.dns.constants import FLAG_QR, FLAG_RA, FLAG_RD, RCODE_MASK, RCODE_NOERROR, TYPE_CNAME
from ramparts.dns.upstream.pool import UpstreamGroup
from ramparts.dns.wire.build import QNAME_POINTER, record
from ramparts.dns.wire.records import uncompressed_records
from ramparts.dns.wire.response import (
    SECTION_ANSWER,
    SECTION_AUTHORITY,
    ParsedResponse,
    parse_response,
)

CNAME_OVERRIDE_TTL = 60
"""TTL of the synthesized CNAME: short, so lifting a policy takes effect within a minute."""
_HEADER = struct.Struct("!6H")
_TYPE_CLASS = struct.Struct("!HH")


async def cname_answer(
    group: UpstreamGroup,
    qname_wire: bytes,
    qtype: int,
    qclass: int,
    target: bytes,
    *,
    do: bool,
    cd: bool,
) -> tuple[bytes, ParsedResponse, str]:
    """(message, its parse, upstream name) for ``qname_wire`` CNAME ``target``."""
    answers: list[bytes] = []
    authority: list[bytes] = []
    rcode = RCODE_NOERROR
    upstream = ""
    if qtype != TYPE_CNAME:
        resolved = await group.resolve(target, qtype, qclass, do=do, cd=cd)
        upstream = resolved.server.name
        rcode = resolved.parsed.rcode & RCODE_MASK
        records = resolved.parsed.records
        answers = uncompressed_records(
            resolved.packet, [r for r in records if r.section == SECTION_ANSWER]
        )
        authority = uncompressed_records(
            resolved.packet, [r for r in records if r.section == SECTION_AUTHORITY]
        )
    header = _HEADER.pack(
        0, FLAG_QR | FLAG_RD | FLAG_RA | rcode, 1, 1 + len(answers), len(authority), 0
    )
    packet = b"".join(
        (
            header,
            qname_wire,
            _TYPE_CLASS.pack(qtype, qclass),
            record(TYPE_CNAME, CNAME_OVERRIDE_TTL, target, QNAME_POINTER),
            *answers,
            *authority,
        )
    )
    parsed = parse_response(packet, query_id=0, qname_wire=qname_wire, qtype=qtype, qclass=qclass)
    return packet, parsed, upstream
