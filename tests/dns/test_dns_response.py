"""Upstream response parsing: kinds, TTLs (RFC 2308), CNAME chains, addresses, validation."""

from __future__ import annotations

import contextlib
import ipaddress
import struct
from collections.abc import Callable

import dns.message
import dns.rcode
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.dns.constants import RCODE_BADVERS, TYPE_A, TYPE_AAAA, TYPE_MX
from ramparts.dns.errors import MalformedResponse, MismatchedResponse, ResponseError
from ramparts.dns.wire.names import name_from_text
from ramparts.dns.wire.response import AnswerKind, ParsedResponse, parse_response

MakeResponse = Callable[..., bytes]
SOA = ["ns1.example. hostmaster.example. 1 7200 900 1209600 300"]


def _parse(wire: bytes, name: str, qtype: int = TYPE_A, qid: int = 7) -> ParsedResponse:
    return parse_response(
        wire, query_id=qid, qname_wire=name_from_text(name).lower(), qtype=qtype, qclass=1
    )


def test_positive_answer_with_cname_chain(make_response: MakeResponse) -> None:
    wire = make_response(
        "www.Example.com",
        "A",
        answers=[
            ("www.example.com.", 300, "CNAME", ["Edge.CDN.net."]),
            ("edge.cdn.net.", 120, "CNAME", ["e1.cdn.net."]),
            ("e1.cdn.net.", 60, "A", ["192.0.2.1", "192.0.2.2"]),
            ("unrelated.example.", 10, "A", ["203.0.113.9"]),  # not on the chain
        ],
        authority=[("cdn.net.", 3600, "NS", ["ns1.cdn.net."])],
        additional=[("ns1.cdn.net.", 7200, "A", ["198.51.100.1"])],
    )
    parsed = _parse(wire, "www.example.com")
    assert parsed.kind is AnswerKind.ANSWER
    assert parsed.rcode == 0
    assert parsed.cnames == ("edge.cdn.net", "e1.cdn.net")
    assert tuple(sorted(parsed.addresses)) == (
        ipaddress.IPv4Address("192.0.2.1"),
        ipaddress.IPv4Address("192.0.2.2"),
    )
    assert parsed.min_ttl == 10
    assert parsed.negative_ttl is None
    assert parsed.opt is not None
    assert len(parsed.records) == 7
    for record in parsed.records:
        assert struct.unpack_from("!I", wire, record.ttl_offset)[0] == record.ttl


def test_aaaa_answer(make_response: MakeResponse) -> None:
    wire = make_response(
        "v6.example", "AAAA", answers=[("v6.example.", 30, "AAAA", ["2001:db8::1"])]
    )
    parsed = _parse(wire, "v6.example", TYPE_AAAA)
    assert parsed.addresses == (ipaddress.IPv6Address("2001:db8::1"),)


def test_nxdomain_negative_ttl_is_min_of_soa_ttl_and_minimum(make_response: MakeResponse) -> None:
    wire = make_response("nope.example", "A", rcode=3, authority=[("example.", 900, "SOA", SOA)])
    parsed = _parse(wire, "nope.example")
    assert parsed.kind is AnswerKind.NXDOMAIN
    assert parsed.negative_ttl == 300
    wire = make_response("nope.example", "A", rcode=3, authority=[("example.", 100, "SOA", SOA)])
    assert _parse(wire, "nope.example").negative_ttl == 100


def test_nodata_and_nodata_after_cname(make_response: MakeResponse) -> None:
    wire = make_response("mail.example", "MX", authority=[("example.", 900, "SOA", SOA)])
    parsed = _parse(wire, "mail.example", TYPE_MX)
    assert parsed.kind is AnswerKind.NODATA
    assert parsed.negative_ttl == 300
    wire = make_response(
        "alias.example",
        "AAAA",
        answers=[("alias.example.", 50, "CNAME", ["v4only.example."])],
        authority=[("example.", 900, "SOA", SOA)],
    )
    parsed = _parse(wire, "alias.example", TYPE_AAAA)
    assert parsed.kind is AnswerKind.NODATA
    assert parsed.cnames == ("v4only.example",)
    assert parsed.negative_ttl == 50  # never longer than the CNAME it hangs from


def test_negative_without_soa_has_no_negative_ttl(make_response: MakeResponse) -> None:
    parsed = _parse(make_response("x.example", "A", rcode=3), "x.example")
    assert parsed.kind is AnswerKind.NXDOMAIN
    assert parsed.negative_ttl is None


def test_referral_servfail_and_other_errors(make_response: MakeResponse) -> None:
    referral = make_response("x.example", "A", authority=[("example.", 60, "NS", ["ns.example."])])
    assert _parse(referral, "x.example").kind is AnswerKind.REFERRAL
    assert _parse(make_response("x.example", "A", rcode=2), "x.example").kind is AnswerKind.SERVFAIL
    assert _parse(make_response("x.example", "A", rcode=5), "x.example").kind is AnswerKind.ERROR


def test_extended_rcode_from_opt(make_response: MakeResponse) -> None:
    message = dns.message.from_wire(make_response("x.example", "A"))
    message.set_rcode(dns.rcode.Rcode(RCODE_BADVERS))
    parsed = _parse(message.to_wire(), "x.example")
    assert parsed.rcode == RCODE_BADVERS
    assert parsed.kind is AnswerKind.ERROR


def test_cname_loop_stops(make_response: MakeResponse) -> None:
    wire = make_response(
        "a.example",
        "A",
        answers=[
            ("a.example.", 60, "CNAME", ["b.example."]),
            ("b.example.", 60, "CNAME", ["a.example."]),
        ],
    )
    parsed = _parse(wire, "a.example")
    assert parsed.cnames == ("b.example",)
    assert parsed.kind is AnswerKind.NODATA


def test_mismatches(make_response: MakeResponse) -> None:
    wire = make_response("x.example", "A", answers=[("x.example.", 60, "A", ["192.0.2.1"])])
    with pytest.raises(MismatchedResponse):
        _parse(wire, "x.example", qid=8)
    with pytest.raises(MismatchedResponse):
        _parse(wire, "y.example")
    with pytest.raises(MismatchedResponse):
        _parse(wire, "x.example", TYPE_AAAA)
    query_bit_cleared = wire[:2] + bytes([wire[2] & 0x7F]) + wire[3:]
    with pytest.raises(MismatchedResponse):
        _parse(query_bit_cleared, "x.example")
    # An error reply without the question is accepted; a NOERROR one is not.
    refused = struct.pack("!6H", 7, 0x8185, 0, 0, 0, 0)
    assert _parse(refused, "x.example").kind is AnswerKind.ERROR
    with pytest.raises(MismatchedResponse):
        _parse(struct.pack("!6H", 7, 0x8180, 0, 0, 0, 0), "x.example")


def test_case_of_question_does_not_matter_but_is_kept(make_response: MakeResponse) -> None:
    wire = make_response("WwW.ExAmple", "A", answers=[("www.example.", 60, "A", ["192.0.2.1"])])
    parsed = _parse(wire, "www.example")
    assert parsed.question.startswith(b"\x03WwW")


def test_malformed_records() -> None:
    header = struct.pack("!6H", 7, 0x8180, 1, 1, 0, 0)
    question = name_from_text("x.example") + struct.pack("!HH", 1, 1)
    bad_a = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 3) + b"\x01\x02\x03"
    with pytest.raises(MalformedResponse):
        _parse(header + question + bad_a, "x.example")
    truncated = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01"
    with pytest.raises(MalformedResponse):
        _parse(header + question + truncated, "x.example")
    cname_overrun = b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 60, 2) + b"\x01a\x00"
    with pytest.raises(MalformedResponse):
        _parse(header + question + cname_overrun, "x.example")
    opt_in_answer = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    with pytest.raises(MalformedResponse):
        _parse(header + question + opt_in_answer, "x.example")


def test_ttl_with_top_bit_reads_as_zero() -> None:
    header = struct.pack("!6H", 7, 0x8180, 1, 1, 0, 0)
    question = name_from_text("x.example") + struct.pack("!HH", 1, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0x80000000, 4) + b"\x01\x02\x03\x04"
    parsed = _parse(header + question + answer, "x.example")
    assert parsed.records[0].ttl == 0
    assert parsed.min_ttl == 0


RESPONSE_SHAPES = st.sampled_from(["answer", "cname", "nxdomain", "nodata", "referral"])


@st.composite
def upstream_responses(draw: st.DrawFn) -> bytes:
    shape = draw(RESPONSE_SHAPES)
    query = dns.message.make_query("q.example", "A", use_edns=draw(st.sampled_from([None, 0])))
    query.id = 7
    response = dns.message.make_response(query)
    ttl = draw(st.integers(0, 10_000))
    if shape == "answer":
        response.answer.append(dns.rrset.from_text("q.example.", ttl, "IN", "A", "192.0.2.1"))
    elif shape == "cname":
        response.answer.append(dns.rrset.from_text("q.example.", ttl, "IN", "CNAME", "t.example."))
        response.answer.append(dns.rrset.from_text("t.example.", ttl, "IN", "A", "192.0.2.2"))
    elif shape in ("nxdomain", "nodata"):
        response.set_rcode(dns.rcode.Rcode(3 if shape == "nxdomain" else 0))
        response.authority.append(dns.rrset.from_text("example.", ttl, "IN", "SOA", *SOA))
    else:
        response.authority.append(dns.rrset.from_text("example.", ttl, "IN", "NS", "ns.example."))
        response.additional.append(dns.rrset.from_text("ns.example.", ttl, "IN", "A", "192.0.2.53"))
    return response.to_wire()


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(upstream_responses(), st.data())
def test_mutated_responses_never_crash(wire: bytes, data: st.DataObject) -> None:
    buf = bytearray(wire)
    for _ in range(data.draw(st.integers(0, 4))):
        i = data.draw(st.integers(0, len(buf) - 1))
        if data.draw(st.booleans()):
            buf[i] = data.draw(st.integers(0, 255))
        else:
            del buf[i:]
            if not buf:
                break
    try:
        parsed = _parse(bytes(buf), "q.example")
    except ResponseError:
        return
    assert parsed.kind in AnswerKind
    for record in parsed.records:
        assert record.end <= len(buf)


@settings(max_examples=400)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(packet: bytes) -> None:
    with contextlib.suppress(ResponseError):
        _parse(b"\x00\x07" + packet, "q.example")
