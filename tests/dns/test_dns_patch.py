"""Serving stored answers by patching bytes: ID, flags, question case, TTLs, OPT."""

from __future__ import annotations

import struct
from collections.abc import Callable

import dns.edns
import dns.flags
import dns.message
import dns.rrset
from hypothesis import given
from hypothesis import strategies as st

from ramparts.dns.wire.names import name_from_text
from ramparts.dns.wire.patch import prepare_answer, serve_answer
from ramparts.dns.wire.query import parse_query
from ramparts.dns.wire.response import parse_response

MakeQuery = Callable[..., bytes]
MakeResponse = Callable[..., bytes]


def _stored(wire: bytes, name: str = "www.example.com", qtype: int = 1, **clamp: int):  # type: ignore[no-untyped-def]
    parsed = parse_response(
        wire, query_id=7, qname_wire=name_from_text(name).lower(), qtype=qtype, qclass=1
    )
    return prepare_answer(wire, parsed, **clamp)


def _upstream(make_response: MakeResponse, **kwargs: object) -> bytes:
    return make_response(
        "www.example.com",
        "A",
        answers=[
            ("www.example.com.", 300, "CNAME", ["e.cdn.net."]),
            ("e.cdn.net.", 60, "A", ["192.0.2.1"]),
        ],
        authority=[("cdn.net.", 3600, "NS", ["ns1.cdn.net."])],
        additional=[("ns1.cdn.net.", 7200, "A", ["198.51.100.1"])],
        **kwargs,
    )


def test_serve_patches_id_ttls_and_question_case(
    make_query: MakeQuery, make_response: MakeResponse
) -> None:
    answer = _stored(_upstream(make_response))
    query = parse_query(make_query("WWW.example.COM", "A", qid=0x4321))
    reply = dns.message.from_wire(serve_answer(answer, query, age=25))
    assert reply.id == 0x4321
    assert str(reply.question[0].name) == "WWW.example.COM."
    assert str(reply.answer[0].name) == "WWW.example.COM."  # owner compressed to the question
    assert [rrset.ttl for rrset in reply.answer] == [275, 35]
    assert reply.authority[0].ttl == 3575
    assert reply.additional[0].ttl == 7175
    assert reply.edns == -1  # the client sent no EDNS: no OPT back


def test_ttls_floor_at_zero(make_query: MakeQuery, make_response: MakeResponse) -> None:
    answer = _stored(_upstream(make_response))
    reply = dns.message.from_wire(serve_answer(answer, parse_query(make_query()), age=100))
    assert [rrset.ttl for rrset in reply.answer] == [200, 0]


def test_age_zero_serves_stored_ttls(make_query: MakeQuery, make_response: MakeResponse) -> None:
    answer = _stored(_upstream(make_response))
    reply = dns.message.from_wire(serve_answer(answer, parse_query(make_query()), age=0))
    assert [rrset.ttl for rrset in reply.answer] == [300, 60]


def test_ttl_clamps_are_written(make_query: MakeQuery, make_response: MakeResponse) -> None:
    answer = _stored(_upstream(make_response), min_ttl=100, max_ttl=3600)
    reply = dns.message.from_wire(serve_answer(answer, parse_query(make_query()), age=0))
    assert [rrset.ttl for rrset in reply.answer] == [300, 100]
    assert reply.additional[0].ttl == 3600


def test_opt_is_stripped_and_ours_added_for_edns_clients(
    make_query: MakeQuery, make_response: MakeResponse
) -> None:
    answer = _stored(_upstream(make_response, use_edns=True))
    plain = dns.message.from_wire(serve_answer(answer, parse_query(make_query()), 0))
    assert plain.edns == -1
    assert len(plain.additional) == 1
    q = parse_query(make_query(use_edns=0, want_dnssec=True))
    edns = dns.message.from_wire(serve_answer(answer, q, 0))
    assert edns.edns == 0
    assert edns.payload == 1232
    assert edns.ednsflags & dns.flags.DO
    assert len(edns.additional) == 1


def test_rd_cd_from_query_and_ad_only_when_asked(
    make_query: MakeQuery, make_response: MakeResponse
) -> None:
    answer = _stored(_upstream(make_response, ad=True))
    no_rd = dns.message.from_wire(serve_answer(answer, parse_query(make_query(flags=0)), 0))
    assert not no_rd.flags & dns.flags.RD
    assert not no_rd.flags & dns.flags.AD
    assert no_rd.flags & dns.flags.RA
    assert not no_rd.flags & dns.flags.AA
    cd = parse_query(make_query(flags=dns.flags.RD | dns.flags.CD | dns.flags.AD))
    with_ad = dns.message.from_wire(serve_answer(answer, cd, 0))
    assert with_ad.flags & dns.flags.CD
    assert with_ad.flags & dns.flags.AD
    do = parse_query(make_query(use_edns=0, want_dnssec=True))
    assert dns.message.from_wire(serve_answer(answer, do, 0)).flags & dns.flags.AD


def test_opt_in_the_middle_of_additional_is_cut_with_what_follows(make_query: MakeQuery) -> None:
    # Build: question, one answer, additional = [OPT, A glue] (OPT not last).
    header = struct.pack("!6H", 7, 0x8180, 1, 1, 0, 2)
    question = name_from_text("x.example") + struct.pack("!HH", 1, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
    opt = b"\x00" + struct.pack("!HHIH", 41, 4096, 0, 0)
    glue = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 2])
    wire = header + question + answer + opt + glue
    stored = _stored(wire, "x.example")
    reply = dns.message.from_wire(serve_answer(stored, parse_query(make_query("x.example")), 5))
    assert [r.to_text() for r in reply.answer[0]] == ["192.0.2.1"]
    assert reply.answer[0].ttl == 55
    assert not reply.additional
    assert reply.edns == -1


@given(st.integers(0, 100_000), st.integers(0, 100_000))
def test_ttl_arithmetic(ttl: int, age: int) -> None:
    header = struct.pack("!6H", 7, 0x8180, 1, 1, 0, 0)
    question = name_from_text("x.example") + struct.pack("!HH", 1, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, ttl, 4) + bytes(4)
    stored = _stored(header + question + answer, "x.example")
    query = parse_query(struct.pack("!6H", 1, 0x0100, 1, 0, 0, 0) + question)
    served = serve_answer(stored, query, age)
    assert struct.unpack_from("!I", served, len(header) + len(question) + 6)[0] == max(0, ttl - age)
