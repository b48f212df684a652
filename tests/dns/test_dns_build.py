"""Synthesized replies, read back with dnspython."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from ramparts.dns.constants import EDE_FILTERED, RCODE_NXDOMAIN, RCODE_REFUSED, RCODE_SERVFAIL
from ramparts.dns.wire.build import (
    BlockAnswer,
    block_response,
    fit_udp,
    override_response,
    rcode_response,
    udp_limit,
)
from ramparts.dns.wire.names import name_from_text
from ramparts.dns.wire.query import parse_query

MakeQuery = Callable[..., bytes]


def _read(wire: bytes) -> dns.message.Message:
    return dns.message.from_wire(wire)


@pytest.mark.parametrize("rcode", [RCODE_REFUSED, RCODE_SERVFAIL, RCODE_NXDOMAIN, 1, 4])
def test_rcode_replies_echo_the_question(make_query: MakeQuery, rcode: int) -> None:
    query = parse_query(make_query("MiXeD.example", "A", qid=99))
    reply = _read(rcode_response(query, rcode))
    assert reply.id == 99
    assert reply.rcode() == rcode
    assert reply.flags & dns.flags.QR
    assert reply.flags & dns.flags.RA
    assert reply.flags & dns.flags.RD
    assert str(reply.question[0].name) == "MiXeD.example."  # the client's case (0x20)
    assert reply.edns == -1
    assert not reply.answer


def test_reply_copies_cd_and_opcode_bits(make_query: MakeQuery) -> None:
    query = parse_query(make_query(flags=dns.flags.CD))
    reply = _read(rcode_response(query, 0))
    assert reply.flags & dns.flags.CD
    assert not reply.flags & dns.flags.RD


def test_block_a_and_aaaa_with_ede(make_query: MakeQuery) -> None:
    for rdtype, expected in (("A", "0.0.0.0"), ("AAAA", "::")):
        query = parse_query(make_query("ads.example", rdtype, use_edns=0, want_dnssec=True))
        reply = _read(block_response(query))
        assert reply.rcode() == 0
        (rrset,) = reply.answer
        assert rrset.ttl == 60
        assert [r.to_text() for r in rrset] == [expected]
        assert rrset.name.to_text() == "ads.example."
        assert reply.edns == 0
        assert reply.ednsflags & dns.flags.DO
        (ede,) = reply.options
        assert isinstance(ede, dns.edns.EDEOption)
        assert ede.code == 15


def test_block_with_block_page_ip_and_filtered_code(make_query: MakeQuery) -> None:
    block = BlockAnswer(
        ipv4=ipaddress.IPv4Address("192.0.2.10"), ttl=30, ede_code=EDE_FILTERED, ede_text="policy 7"
    )
    query = parse_query(make_query("ads.example", "A", use_edns=0))
    reply = _read(block_response(query, block))
    assert [r.to_text() for r in reply.answer[0]] == ["192.0.2.10"]
    assert reply.answer[0].ttl == 30
    (ede,) = reply.options
    assert isinstance(ede, dns.edns.EDEOption)
    assert ede.code == EDE_FILTERED
    assert ede.text == "policy 7"


def test_block_other_types_refused_and_no_ede_without_edns(make_query: MakeQuery) -> None:
    query = parse_query(make_query("ads.example", "MX"))
    reply = _read(block_response(query))
    assert reply.rcode() == dns.rcode.REFUSED
    assert not reply.answer
    assert reply.edns == -1


def test_override_addresses_by_type(make_query: MakeQuery) -> None:
    v4 = [ipaddress.IPv4Address("10.0.0.1"), ipaddress.IPv4Address("10.0.0.2")]
    v6 = [ipaddress.IPv6Address("fd00::1")]
    a = _read(override_response(parse_query(make_query("x.test", "A")), ipv4=v4, ipv6=v6))
    assert sorted(r.to_text() for r in a.answer[0]) == ["10.0.0.1", "10.0.0.2"]
    aaaa = _read(override_response(parse_query(make_query("x.test", "AAAA")), ipv4=v4, ipv6=v6))
    assert [r.to_text() for r in aaaa.answer[0]] == ["fd00::1"]
    txt = _read(override_response(parse_query(make_query("x.test", "TXT")), ipv4=v4))
    assert txt.rcode() == 0
    assert not txt.answer


def test_override_cname(make_query: MakeQuery) -> None:
    query = parse_query(make_query("www.google.com", "A", use_edns=0))
    target = name_from_text("forcesafesearch.google.com")
    reply = _read(override_response(query, cname=target, ttl=120))
    (rrset,) = reply.answer
    assert rrset.rdtype == dns.rdatatype.CNAME
    assert rrset.ttl == 120
    assert rrset[0].to_text() == "forcesafesearch.google.com."


def test_udp_limits(make_query: MakeQuery) -> None:
    assert udp_limit(parse_query(make_query())) == 512
    assert udp_limit(parse_query(make_query(use_edns=0, payload=4096))) == 1232
    assert udp_limit(parse_query(make_query(use_edns=0, payload=4096)), 4096) == 4096
    assert udp_limit(parse_query(make_query(use_edns=0, payload=800))) == 800


@pytest.mark.parametrize(("use_edns", "payload"), [(None, 512), (0, 1232), (0, 600)])
def test_fit_udp_truncates_only_when_needed(
    make_query: MakeQuery, use_edns: int | None, payload: int
) -> None:
    query = parse_query(make_query("Many.example", "A", use_edns=use_edns, payload=payload))
    many = [ipaddress.IPv4Address(f"10.0.{i // 256}.{i % 256}") for i in range(200)]
    small = override_response(query, ipv4=many[:3])
    assert fit_udp(small, query) is small
    big = override_response(query, ipv4=many)
    assert len(big) > 1232
    truncated = fit_udp(big, query)
    assert len(truncated) <= payload
    reply = _read(truncated)
    assert reply.flags & dns.flags.TC
    assert not reply.answer
    assert reply.id == query.id
    assert str(reply.question[0].name) == "Many.example."
    assert (reply.edns == 0) == (use_edns == 0)


def test_fit_udp_honours_a_larger_configured_maximum(make_query: MakeQuery) -> None:
    query = parse_query(make_query("many.example", "A", use_edns=0, payload=4096))
    many = [ipaddress.IPv4Address(f"10.0.0.{i}") for i in range(100)]
    big = override_response(query, ipv4=many)
    assert 1232 < len(big) < 4096
    assert fit_udp(big, query, max_udp_size=4096) is big
    assert _read(fit_udp(big, query)).flags & dns.flags.TC
