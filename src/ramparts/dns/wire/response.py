"""Upstream responses: validate that they answer our question and extract what the resolver,
the cache and post-resolution policies need, without building objects per record type.

Trailing octets after the last record are ignored (lenient, as resolvers are with upstreams).
A response with QDCOUNT=0 is accepted only for error rcodes other than NXDOMAIN (servers send
such FORMERR/REFUSED/NOTIMP replies); everything else must echo our question exactly
(name compared case-insensitively: check ``question`` yourself for 0x20 verification).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from ramparts.dns.constants import (
    FLAG_QR,
    FLAG_TC,
    HEADER_SIZE,
    MAX_CNAME_CHAIN,
    OPCODE_MASK,
    OPCODE_QUERY,
    OPCODE_SHIFT,
    RCODE_MASK,
    RCODE_NOERROR,
    RCODE_NXDOMAIN,
    RCODE_SERVFAIL,
    TYPE_A,
    TYPE_AAAA,
    TYPE_ANY,
    TYPE_CNAME,
    TYPE_NS,
    TYPE_OPT,
    TYPE_SOA,
)
from ramparts.dns.errors import MalformedResponse, MismatchedResponse, NameFormatError
from ramparts.dns.wire.names import name_to_text, read_name
from ramparts.dns.wire.rdata import COMPRESSIBLE_TYPES, expand_rdata

_HEADER = struct.Struct("!6H")
_TYPE_CLASS = struct.Struct("!HH")
_RR_FIXED = struct.Struct("!HHIH")
_U32 = struct.Struct("!I")

SECTION_ANSWER = 0
SECTION_AUTHORITY = 1
SECTION_ADDITIONAL = 2

MAX_TTL_VALUE = 0x7FFFFFFF
"""TTLs with the top bit set are read as 0 (RFC 2181 §8)."""
_ADDRESS_LENGTH = {TYPE_A: 4, TYPE_AAAA: 16}


class AnswerKind(IntEnum):
    """What an upstream response means for the question, as the cache sees it (RFC 2308 §2)."""

    ANSWER = 0
    NXDOMAIN = 1
    NODATA = 2
    REFERRAL = 3
    SERVFAIL = 4
    ERROR = 5


class RecordInfo(NamedTuple):
    """Where one resource record sits in the message (all offsets from the message start).

    A named tuple: immutable and several times cheaper to create than a frozen dataclass,
    which matters with one per record on every cache miss."""

    section: int
    owner: bytes  # lower-case uncompressed wire name
    rtype: int
    rclass: int
    ttl: int
    offset: int
    ttl_offset: int
    rdata_offset: int
    rdlength: int

    @property
    def end(self) -> int:
        return self.rdata_offset + self.rdlength


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    """A validated upstream response.

    ``rcode`` includes the EDNS extended bits. ``min_ttl`` is the smallest TTL of all records
    except OPT (``None`` when there are none); ``negative_ttl`` is RFC 2308 §5's
    min(SOA TTL, SOA MINIMUM, answer TTLs) for NXDOMAIN/NODATA with an SOA, else ``None``.
    ``cnames`` is the CNAME chain from the question name (target names, in order) and
    ``addresses`` the A/AAAA data owned by the question name or a chain target.
    """

    id: int
    flags: int
    rcode: int
    question: bytes
    records: tuple[RecordInfo, ...]
    opt: RecordInfo | None
    kind: AnswerKind
    min_ttl: int | None
    negative_ttl: int | None
    cnames: tuple[str, ...]
    addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]

    @property
    def truncated(self) -> bool:
        return bool(self.flags & FLAG_TC)

    @property
    def ttl_offsets(self) -> tuple[int, ...]:
        return tuple(r.ttl_offset for r in self.records)


def parse_response(
    packet: bytes, *, query_id: int, qname_wire: bytes, qtype: int, qclass: int
) -> ParsedResponse:
    """Parse an upstream response to the question (``qname_wire`` lower-case) sent with
    ``query_id``; raise ``MalformedResponse`` or ``MismatchedResponse``."""
    n = len(packet)
    if n < HEADER_SIZE:
        raise MalformedResponse("shorter than a DNS header")
    rid, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(packet)
    if rid != query_id:
        raise MismatchedResponse("ID does not match")
    if not flags & FLAG_QR:
        raise MismatchedResponse("QR bit not set")
    if (flags & OPCODE_MASK) >> OPCODE_SHIFT != OPCODE_QUERY:
        raise MismatchedResponse("opcode is not QUERY")
    header_rcode = flags & RCODE_MASK
    pos = HEADER_SIZE
    question = b""
    try:
        if qdcount == 1:
            owner, name_end = read_name(packet, pos)
            if name_end + 4 > n:
                raise MalformedResponse("question truncated")
            rtype, rclass = _TYPE_CLASS.unpack_from(packet, name_end)
            question = packet[pos : name_end + 4]
            if owner.lower() != qname_wire or rtype != qtype or rclass != qclass:
                raise MismatchedResponse("question does not match")
            pos = name_end + 4
        elif qdcount != 0 or header_rcode in (RCODE_NOERROR, RCODE_NXDOMAIN):
            raise MismatchedResponse("response does not echo the question")
        records, opt = _read_records(packet, pos, (ancount, nscount, arcount))
    except NameFormatError as exc:
        raise MalformedResponse(str(exc)) from exc
    rcode = header_rcode | ((opt.ttl >> 24) << 4 if opt is not None else 0)
    return _interpret(packet, rid, flags, rcode, question, records, opt, qname_wire, qtype)


def _read_records(
    packet: bytes, pos: int, counts: tuple[int, int, int]
) -> tuple[tuple[RecordInfo, ...], RecordInfo | None]:
    n = len(packet)
    records: list[RecordInfo] = []
    opt: RecordInfo | None = None
    for section, count in enumerate(counts):
        for _ in range(count):
            start = pos
            owner, pos = read_name(packet, pos)
            if pos + 10 > n:
                raise MalformedResponse("record header truncated")
            rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(packet, pos)
            rdata = pos + 10
            if rdata + rdlength > n:
                raise MalformedResponse("record data truncated")
            if rtype in COMPRESSIBLE_TYPES:
                expand_rdata(packet, rtype, rdata, rdata + rdlength)  # names must be sound
            elif rdlength != _ADDRESS_LENGTH.get(rtype, rdlength):
                raise MalformedResponse("address record of the wrong length")
            if rtype == TYPE_OPT:
                # RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
                # Its TTL field holds extended rcode, version and flags: kept raw.
                if section != SECTION_ADDITIONAL or opt is not None or owner != b"\x00":
                    raise MalformedResponse("misplaced or repeated OPT record")
                opt = RecordInfo(
                    section, owner, rtype, rclass, ttl, start, pos + 4, rdata, rdlength
                )
            else:
                records.append(
                    RecordInfo(
                        section,
                        owner.lower(),
                        rtype,
                        rclass,
                        ttl if ttl <= MAX_TTL_VALUE else 0,
                        start,
                        pos + 4,
                        rdata,
                        rdlength,
                    )
                )
            pos = rdata + rdlength
    return tuple(records), opt


def _interpret(
    packet: bytes,
    rid: int,
    flags: int,
    rcode: int,
    question: bytes,
    records: tuple[RecordInfo, ...],
    opt: RecordInfo | None,
    qname_wire: bytes,
    qtype: int,
) -> ParsedResponse:
    answers = [r for r in records if r.section == SECTION_ANSWER]
    min_ttl = min((r.ttl for r in records), default=None)

    # Follow the CNAME chain from the question name.
    chain_names = [qname_wire]
    targets: list[str] = []
    if qtype not in (TYPE_CNAME, TYPE_ANY):
        current = qname_wire
        while len(targets) < MAX_CNAME_CHAIN:
            cname = next((r for r in answers if r.rtype == TYPE_CNAME and r.owner == current), None)
            if cname is None:
                break
            target = _rdata_name(packet, cname).lower()
            if target in chain_names:
                break  # a loop: stop following
            chain_names.append(target)
            targets.append(name_to_text(target))
            current = target
    final = chain_names[-1]

    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for r in answers:
        if r.rtype == TYPE_A and r.owner in chain_names:
            addresses.append(ipaddress.IPv4Address(packet[r.rdata_offset : r.end]))
        elif r.rtype == TYPE_AAAA and r.owner in chain_names:
            addresses.append(ipaddress.IPv6Address(packet[r.rdata_offset : r.end]))

    soa = next((r for r in records if r.section == SECTION_AUTHORITY and r.rtype == TYPE_SOA), None)
    negative_ttl: int | None = None
    if rcode == RCODE_NXDOMAIN:
        kind = AnswerKind.NXDOMAIN
    elif rcode == RCODE_SERVFAIL:
        kind = AnswerKind.SERVFAIL
    elif rcode != RCODE_NOERROR:
        kind = AnswerKind.ERROR
    elif any(r.owner == final and (r.rtype == qtype or qtype == TYPE_ANY) for r in answers):
        kind = AnswerKind.ANSWER
    elif soa is None and not answers and any(r.rtype == TYPE_NS for r in records):
        kind = AnswerKind.REFERRAL
    else:
        kind = AnswerKind.NODATA
    if kind in (AnswerKind.NXDOMAIN, AnswerKind.NODATA) and soa is not None:
        (minimum,) = _U32.unpack_from(packet, soa.end - 4)
        negative_ttl = min(soa.ttl, minimum, *(r.ttl for r in answers))
    return ParsedResponse(
        rid,
        flags,
        rcode,
        question,
        records,
        opt,
        kind,
        min_ttl,
        negative_ttl,
        tuple(targets),
        tuple(addresses),
    )


def _rdata_name(packet: bytes, record: RecordInfo) -> bytes:
    """The single domain name forming a CNAME's RDATA (validated while reading records)."""
    return read_name(packet, record.rdata_offset)[0]
