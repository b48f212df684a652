"""The query fast path: one client packet in, one small ``Query`` out (or a ``QueryError``).

Checks follow what recursive servers do (unbound's request checks, RFC 1035/6891):
fewer than 12 octets or QR=1: drop; TC=1: FORMERR; opcode other than QUERY: NOTIMP;
QDCOUNT != 1, ANCOUNT != 0, NSCOUNT != 0, ARCOUNT > 1: FORMERR; a compression pointer, an
over-long label or name, a meta QTYPE (OPT, TSIG, TKEY, 128-248) in the question: FORMERR;
an additional record that is not a valid OPT, two OPTs, malformed options: FORMERR; EDNS
version other than 0: BADVERS. Octets after the last record are FORMERR by default (as BIND
and dnspython), ``allow_trailing=True`` ignores them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ramparts.dns.constants import (
    EDNS_DO,
    EDNS_MIN_UDP_SIZE,
    EDNS_VERSION,
    FLAG_AD,
    FLAG_CD,
    FLAG_QR,
    FLAG_RD,
    FLAG_TC,
    HEADER_SIZE,
    MAX_LABEL_LENGTH,
    MAX_NAME_LENGTH,
    OPCODE_MASK,
    OPCODE_QUERY,
    OPCODE_SHIFT,
    TYPE_OPT,
)
from ramparts.dns.errors import BadVers, Drop, FormErr, NotImp
from ramparts.dns.wire.edns import check_options
from ramparts.dns.wire.names import name_to_text

_HEADER = struct.Struct("!6H")
_TYPE_CLASS = struct.Struct("!HH")
_OPT_FIXED = struct.Struct(
    "!HHIH"
)  # TYPE, CLASS (= UDP size), TTL (= ext-rcode/version/flags), RDLENGTH

_META_QTYPES = range(128, 251)
"""Meta-TYPEs that are not questions: 128-248 unassigned meta, 249 TKEY, 250 TSIG (RFC 6895
§3.1). AXFR/IXFR/MAILB/MAILA/ANY (251-255) pass; the caller decides (e.g. REFUSED)."""

_PLAIN_OR_DOT = bytes(c for c in range(0x21, 0x7F) if c not in b'"().;\\@$')
_NO_EDNS = b""
_MAX_SHORT_LABEL = 0x20
_LENGTHS_TO_DOTS = bytes(0x2E if c <= _MAX_SHORT_LABEL else c for c in range(256))


@dataclass(slots=True)
class Query:
    """A validated client query.

    ``qname`` is lower-case presentation text without the final dot ("." for the root);
    ``qname_wire`` the lower-case uncompressed wire name (use it in cache keys); ``question``
    the raw question section in the client's case (to echo it, RFC 1035 §4.1.1 and 0x20
    clients). Without EDNS, ``udp_size`` is 512 and the EDNS fields are zero/empty.
    """

    id: int
    flags: int
    qname: str
    qname_wire: bytes
    question: bytes
    qtype: int
    qclass: int
    edns: bool
    udp_size: int
    do: bool
    edns_version: int
    edns_options: bytes

    @property
    def opcode(self) -> int:
        return (self.flags & OPCODE_MASK) >> OPCODE_SHIFT

    @property
    def rd(self) -> bool:
        return bool(self.flags & FLAG_RD)

    @property
    def cd(self) -> bool:
        return bool(self.flags & FLAG_CD)

    @property
    def ad(self) -> bool:
        return bool(self.flags & FLAG_AD)

    @property
    def qname_raw(self) -> bytes:
        """The wire name as the client sent it (case kept)."""
        return self.question[:-4]


def parse_query(packet: bytes, *, allow_trailing: bool = False) -> Query:
    """Parse and validate one query message; raise a ``QueryError`` saying how to reply."""
    n = len(packet)
    if n < HEADER_SIZE:
        raise Drop("shorter than a DNS header")
    qid, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(packet)
    if flags & FLAG_QR:
        raise Drop("QR bit set: a response, not a query", query_id=qid, flags=flags)
    if flags & FLAG_TC:
        raise FormErr("TC bit set on a query", query_id=qid, flags=flags)
    if (flags & OPCODE_MASK) >> OPCODE_SHIFT != OPCODE_QUERY:
        raise NotImp("opcode not implemented", query_id=qid, flags=flags)
    if qdcount != 1 or ancount or nscount or arcount > 1:
        raise FormErr("wrong section counts for a query", query_id=qid, flags=flags)

    # Question name: plain labels only (a pointer could only point into the header).
    pos = HEADER_SIZE
    count = 0
    short_labels = True  # every length byte <= 32, so none looks like a printable character
    try:
        while length := packet[pos]:
            if length > MAX_LABEL_LENGTH:
                raise FormErr("bad label in question name", query_id=qid, flags=flags)
            if length > _MAX_SHORT_LABEL:
                short_labels = False
            pos += 1 + length
            count += 1
            if pos - HEADER_SIZE >= MAX_NAME_LENGTH:  # stop early: bounded work per packet
                raise FormErr("question name longer than 255 octets", query_id=qid, flags=flags)
    except IndexError:
        raise FormErr("question name runs past the end", query_id=qid, flags=flags) from None
    name_end = pos + 1
    if name_end - HEADER_SIZE > MAX_NAME_LENGTH:
        raise FormErr("question name longer than 255 octets", query_id=qid, flags=flags)
    qend = name_end + 4
    if qend > n:
        raise FormErr("question truncated", query_id=qid, flags=flags)
    qtype, qclass = _TYPE_CLASS.unpack_from(packet, name_end)
    question = packet[HEADER_SIZE:qend]
    if qtype == TYPE_OPT or qtype in _META_QTYPES:
        raise FormErr("meta type in question", query_id=qid, flags=flags, question=question)

    qname_wire = packet[HEADER_SIZE:name_end].lower()
    if count == 0:
        qname = "."
    else:
        # Fast text: with short labels, length bytes (1..32) become dots in one translate; it
        # is exact when the dot count matches and only plain characters remain.
        text = qname_wire[1:-1].translate(_LENGTHS_TO_DOTS)
        if (
            short_labels
            and text.count(b".") == count - 1
            and not text.translate(None, _PLAIN_OR_DOT)
        ):
            qname = text.decode("ascii")
        else:
            qname = name_to_text(qname_wire)

    if arcount == 0:
        if qend != n and not allow_trailing:
            raise FormErr("trailing octets", query_id=qid, flags=flags, question=question)
        return Query(
            qid,
            flags,
            qname,
            qname_wire,
            question,
            qtype,
            qclass,
            False,
            EDNS_MIN_UDP_SIZE,
            False,
            0,
            _NO_EDNS,
        )

    # The one additional record must be an OPT owned by the root (RFC 6891 §6.1.1).
    if qend + 11 > n or packet[qend] != 0:
        raise FormErr(
            "additional record is not an OPT", query_id=qid, flags=flags, question=question
        )
    rtype, udp_size, ttl, rdlength = _OPT_FIXED.unpack_from(packet, qend + 1)
    if rtype != TYPE_OPT:
        raise FormErr(
            "additional record is not an OPT", query_id=qid, flags=flags, question=question
        )
    do = bool(ttl & EDNS_DO)
    version = (ttl >> 16) & 0xFF
    rd_start = qend + 11
    rd_end = rd_start + rdlength
    if rd_end > n:
        raise FormErr("OPT RDATA truncated", query_id=qid, flags=flags, question=question)
    if version != EDNS_VERSION:
        raise BadVers(
            "EDNS version not supported",
            query_id=qid,
            flags=flags,
            question=question,
            edns=True,
            do=do,
        )
    options = packet[rd_start:rd_end] if rdlength else _NO_EDNS
    if options:
        reason = check_options(options)
        if reason is not None:
            raise FormErr(reason, query_id=qid, flags=flags, question=question, edns=True, do=do)
    if rd_end != n and not allow_trailing:
        raise FormErr(
            "trailing octets", query_id=qid, flags=flags, question=question, edns=True, do=do
        )
    return Query(
        qid,
        flags,
        qname,
        qname_wire,
        question,
        qtype,
        qclass,
        True,
        max(udp_size, EDNS_MIN_UDP_SIZE),
        do,
        version,
        options,
    )
