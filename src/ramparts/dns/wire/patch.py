"""Cached answers served by patching bytes: no re-parsing on a cache hit.

``prepare_answer`` turns an upstream response into a ``PatchableAnswer``: the message without
its OPT record (EDNS is hop-by-hop, RFC 6891 §6.1.1), AA and TC cleared, TTLs clamped, and the
offset of every TTL field. ``serve_answer`` copies it, writes the query's ID, RD and CD bits and
question (the client's case), counts each TTL down by the entry's age (floor 0), and appends
our own OPT only for EDNS clients.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ramparts.dns.constants import (
    FLAG_AA,
    FLAG_AD,
    FLAG_CD,
    FLAG_RA,
    FLAG_RD,
    FLAG_TC,
    HEADER_SIZE,
    SERVER_UDP_SIZE,
)
from ramparts.dns.wire.edns import build_opt
from ramparts.dns.wire.query import Query
from ramparts.dns.wire.response import ParsedResponse

_ID_FLAGS = struct.Struct("!HH")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_ARCOUNT_OFFSET = 10

_OPT_PLAIN = build_opt(SERVER_UDP_SIZE, do=False)
_OPT_DO = build_opt(SERVER_UDP_SIZE, do=True)


@dataclass(frozen=True, slots=True)
class PatchableAnswer:
    """A response ready to be served many times.

    ``flags`` are the stored header flags with RD and CD cleared (the query supplies them);
    ``ttls`` are the clamped TTLs written at ``ttl_offsets`` when the answer was stored;
    ``ext_rcode`` the upper rcode bits of the stripped OPT (nearly always 0).
    """

    wire: bytes
    flags: int
    arcount: int
    question_length: int
    ttl_offsets: tuple[int, ...]
    ttls: tuple[int, ...]
    ext_rcode: int

    @property
    def size(self) -> int:
        return len(self.wire)


def prepare_answer(
    packet: bytes, parsed: ParsedResponse, *, min_ttl: int = 0, max_ttl: int = 0x7FFFFFFF
) -> PatchableAnswer:
    """Make ``packet`` (validated as ``parsed``) servable; each TTL is clamped to
    [``min_ttl``, ``max_ttl``] and written back."""
    opt = parsed.opt
    records = parsed.records
    end = max((r.end for r in records), default=HEADER_SIZE + len(parsed.question))
    arcount = _U16.unpack_from(packet, _ARCOUNT_OFFSET)[0]
    ext_rcode = 0
    if opt is not None:
        # Cut the OPT and whatever additional records follow it: those may hold compression
        # pointers into each other, and additional data is optional for a stub.
        kept = tuple(r for r in records if r.offset < opt.offset)
        arcount -= 1 + (len(records) - len(kept))
        records = kept
        end = opt.offset
        ext_rcode = opt.ttl >> 24
    buf = bytearray(packet[:end])  # also drops any trailing octets
    _U16.pack_into(buf, _ARCOUNT_OFFSET, arcount)
    offsets = [r.ttl_offset for r in records]
    ttls = tuple(min(max(r.ttl, min_ttl), max_ttl) for r in records)
    for offset, ttl in zip(offsets, ttls, strict=True):
        _U32.pack_into(buf, offset, ttl)
    flags = (parsed.flags & ~(FLAG_AA | FLAG_TC | FLAG_RD | FLAG_CD)) | FLAG_RA
    _ID_FLAGS.pack_into(buf, 0, 0, flags)
    return PatchableAnswer(
        bytes(buf), flags, arcount, len(parsed.question), tuple(offsets), ttls, ext_rcode
    )


def serve_answer(answer: PatchableAnswer, query: Query, age: int) -> bytes:
    """The stored answer for ``query``, ``age`` whole seconds after it was stored.

    The question must be the one the answer was stored for (same lower-case name, type and
    class; the cache key guarantees it). AD is kept only for clients that sent DO or AD
    (RFC 6840 §5.7/§5.8).
    """
    buf = bytearray(answer.wire)
    qflags = query.flags
    flags = answer.flags | (qflags & (FLAG_RD | FLAG_CD))
    if not (query.do or qflags & FLAG_AD):
        flags &= ~FLAG_AD
    _ID_FLAGS.pack_into(buf, 0, query.id, flags)
    question = query.question
    if answer.question_length == len(question):
        buf[HEADER_SIZE : HEADER_SIZE + len(question)] = question
    if age > 0:
        pack = _U32.pack_into
        for offset, ttl in zip(answer.ttl_offsets, answer.ttls):  # noqa: B905 - same length
            pack(buf, offset, ttl - age if ttl > age else 0)
    if query.edns:
        if answer.ext_rcode:
            buf += build_opt(SERVER_UDP_SIZE, do=query.do, ext_rcode=answer.ext_rcode)
        else:
            buf += _OPT_DO if query.do else _OPT_PLAIN
        _U16.pack_into(buf, _ARCOUNT_OFFSET, answer.arcount + 1)
    return bytes(buf)
