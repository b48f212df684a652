"""Responses built directly as bytes: error rcodes, block and override answers, truncation.

Every reply copies the query's ID, opcode, RD and CD, sets QR and RA, echoes the question in
the client's case, and carries an OPT record exactly when the query did (RFC 6891 §7). Answer
records are owned by a compression pointer to the question name (``QNAME_POINTER``).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ramparts.dns.constants import (
    CLASS_IN,
    CLASSIC_UDP_SIZE,
    DEFAULT_MAX_UDP_SIZE,
    EDE_BLOCKED,
    FLAG_CD,
    FLAG_QR,
    FLAG_RA,
    FLAG_RD,
    FLAG_TC,
    HEADER_SIZE,
    OPCODE_MASK,
    RCODE_MASK,
    RCODE_NOERROR,
    RCODE_REFUSED,
    SERVER_UDP_SIZE,
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    TYPE_OPT,
)
from ramparts.dns.errors import NameFormatError, QueryError
from ramparts.dns.wire.edns import (
    PADDING_BLOCK_RESPONSE,
    build_opt,
    ede_option,
    padding_needed,
    padding_option,
)
from ramparts.dns.wire.names import skip_name
from ramparts.dns.wire.query import Query

_HEADER = struct.Struct("!6H")
_RR_FIXED = struct.Struct("!HHIH")
_U16 = struct.Struct("!H")

QNAME_POINTER = b"\xc0\x0c"
"""Compression pointer to the question name at offset 12 (RFC 1035 §4.1.4)."""

DEFAULT_BLOCK_TTL = 60
"""TTL of synthesized block answers: short, so lifting a block takes effect within a minute
(the brief's Gateway answers blocks with TTL 60)."""
DEFAULT_OVERRIDE_TTL = 60
"""TTL of override answers (same reason)."""
_COPIED_FLAGS = OPCODE_MASK | FLAG_RD | FLAG_CD


def reply_flags(query_flags: int, rcode: int) -> int:
    """Header flags of a reply we synthesize: QR, RA, the query's opcode/RD/CD, low rcode."""
    return FLAG_QR | FLAG_RA | (query_flags & _COPIED_FLAGS) | (rcode & RCODE_MASK)


def record(rtype: int, ttl: int, rdata: bytes, owner: bytes = QNAME_POINTER) -> bytes:
    """One class-IN resource record on the wire (owner defaults to the question name)."""
    return owner + _RR_FIXED.pack(rtype, CLASS_IN, ttl, len(rdata)) + rdata


def build_reply(
    query: Query,
    rcode: int,
    answers: Sequence[bytes] = (),
    *,
    ede_code: int | None = None,
    ede_text: str = "",
) -> bytes:
    """A reply to ``query`` with prebuilt answer records; EDE only goes out when the client
    sent EDNS (RFC 8914 §3)."""
    edns = query.edns
    header = _HEADER.pack(
        query.id, reply_flags(query.flags, rcode), 1, len(answers), 0, 1 if edns else 0
    )
    parts = [header, query.question, *answers]
    if edns:
        options = ede_option(ede_code, ede_text) if ede_code is not None else b""
        parts.append(build_opt(SERVER_UDP_SIZE, do=query.do, ext_rcode=rcode >> 4, options=options))
    return b"".join(parts)


def upstream_query(
    qname_wire: bytes, qtype: int, qclass: int, qid: int, *, do: bool = False, cd: bool = False
) -> bytes:
    """The query we send upstream: RD (and CD when the client set it), one question with the
    lower-case name, and an OPT advertising our UDP size with the client's DO bit."""
    flags = FLAG_RD | (FLAG_CD if cd else 0)
    return b"".join(
        (
            _HEADER.pack(qid, flags, 1, 0, 0, 1),
            qname_wire,
            struct.pack("!HH", qtype, qclass),
            build_opt(SERVER_UDP_SIZE, do=do),
        )
    )


def error_response(error: QueryError) -> bytes | None:
    """The reply a ``QueryError`` from ``parse_query`` calls for, or ``None`` to drop."""
    rcode = error.rcode
    if rcode is None:
        return None
    qdcount = 1 if error.question else 0
    parts = [
        _HEADER.pack(
            error.query_id, reply_flags(error.flags, rcode), qdcount, 0, 0, 1 if error.edns else 0
        ),
        error.question,
    ]
    if error.edns:
        parts.append(build_opt(SERVER_UDP_SIZE, do=error.do, ext_rcode=rcode >> 4))
    return b"".join(parts)


def rcode_response(
    query: Query, rcode: int, *, ede_code: int | None = None, ede_text: str = ""
) -> bytes:
    """An answer-less reply: REFUSED, SERVFAIL, NXDOMAIN, NOERROR/NODATA, NOTIMP..."""
    return build_reply(query, rcode, (), ede_code=ede_code, ede_text=ede_text)


UNSPECIFIED_IPV4 = ipaddress.IPv4Address("0.0.0.0")
UNSPECIFIED_IPV6 = ipaddress.IPv6Address("::")


@dataclass(frozen=True, slots=True)
class BlockAnswer:
    """How a blocked name is answered: A/AAAA get ``ipv4``/``ipv6`` (the unspecified
    addresses by default, or a block-page IP), other types get ``other_rcode``."""

    ipv4: ipaddress.IPv4Address = UNSPECIFIED_IPV4
    ipv6: ipaddress.IPv6Address = UNSPECIFIED_IPV6
    ttl: int = DEFAULT_BLOCK_TTL
    other_rcode: int = RCODE_REFUSED
    ede_code: int | None = EDE_BLOCKED
    ede_text: str = ""


DEFAULT_BLOCK = BlockAnswer()


def block_response(query: Query, block: BlockAnswer = DEFAULT_BLOCK) -> bytes:
    """A block answer for ``query`` (class IN assumed for the address records)."""
    if query.qtype == TYPE_A:
        answers = [record(TYPE_A, block.ttl, block.ipv4.packed)]
    elif query.qtype == TYPE_AAAA:
        answers = [record(TYPE_AAAA, block.ttl, block.ipv6.packed)]
    else:
        return rcode_response(
            query, block.other_rcode, ede_code=block.ede_code, ede_text=block.ede_text
        )
    return build_reply(
        query, RCODE_NOERROR, answers, ede_code=block.ede_code, ede_text=block.ede_text
    )


def override_response(
    query: Query,
    *,
    ipv4: Sequence[ipaddress.IPv4Address] = (),
    ipv6: Sequence[ipaddress.IPv6Address] = (),
    cname: bytes | None = None,
    ttl: int = DEFAULT_OVERRIDE_TTL,
    extra_answers: Sequence[bytes] = (),
) -> bytes:
    """An override answer: a CNAME to ``cname`` (a wire name, see ``name_from_text``) followed
    by ``extra_answers`` (the target's records, if the caller resolved it), or else the fixed
    addresses matching the query type (an empty NOERROR answer for other types)."""
    answers: list[bytes]
    if cname is not None:
        answers = [record(TYPE_CNAME, ttl, cname), *extra_answers]
    elif query.qtype == TYPE_A:
        answers = [record(TYPE_A, ttl, address.packed) for address in ipv4]
    elif query.qtype == TYPE_AAAA:
        answers = [record(TYPE_AAAA, ttl, address.packed) for address in ipv6]
    else:
        answers = []
    return build_reply(query, RCODE_NOERROR, answers)


def udp_limit(query: Query, max_udp_size: int = DEFAULT_MAX_UDP_SIZE) -> int:
    """Largest UDP reply for this client: 512 without EDNS (RFC 1035 §4.2.1), else its
    advertised size capped at ``max_udp_size`` (never below 512)."""
    if not query.edns:
        return CLASSIC_UDP_SIZE
    return max(CLASSIC_UDP_SIZE, min(query.udp_size, max_udp_size))


def fit_udp(response: bytes, query: Query, max_udp_size: int = DEFAULT_MAX_UDP_SIZE) -> bytes:
    """``response`` if it fits the client's UDP limit, else a TC=1 reply with only the
    question and (for EDNS clients) an OPT, so the client retries over TCP (RFC 7766 §5)."""
    if len(response) <= udp_limit(query, max_udp_size):
        return response
    (flags,) = struct.unpack_from("!H", response, 2)
    header = _HEADER.pack(query.id, flags | FLAG_TC, 1, 0, 0, 1 if query.edns else 0)
    if not query.edns:
        return header + query.question
    return header + query.question + build_opt(SERVER_UDP_SIZE, do=query.do)


def pad_response(response: bytes, block: int = PADDING_BLOCK_RESPONSE) -> bytes:
    """``response`` with a Padding option bringing it to a multiple of ``block`` octets (RFC
    7830, RFC 8467 §4.1), for encrypted transports when the client sent Padding. Only
    messages whose last record is the OPT (all replies built or served here) are padded;
    others come back unchanged."""
    try:
        _qid, _flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(response)
        if qdcount > 1:
            return response
        pos = skip_name(response, HEADER_SIZE) + 4 if qdcount else HEADER_SIZE
        last = -1
        for _ in range(ancount + nscount + arcount):
            last = pos
            pos = skip_name(response, pos) + 10
            pos += _U16.unpack_from(response, pos - 2)[0]
        if last < 0 or pos != len(response) or response[last] != 0:
            return response
        rtype = _U16.unpack_from(response, last + 1)[0]
        rdlength = _U16.unpack_from(response, last + 9)[0]
    except (NameFormatError, struct.error):
        return response
    if rtype != TYPE_OPT:
        return response
    size = padding_needed(len(response), block)
    padded = bytearray(response)
    _U16.pack_into(padded, last + 9, rdlength + 4 + size)
    padded += padding_option(size)
    return bytes(padded)
