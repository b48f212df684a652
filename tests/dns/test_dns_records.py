"""Splicing upstream records into our replies, and response padding."""

from __future__ import annotations

import struct
from collections.abc import Callable

import dns.edns
import dns.message
import dns.rdatatype
import pytest

from ramparts.dns.errors import MalformedResponse
from ramparts.dns.wire.build import block_response, build_reply, override_response, pad_response
from ramparts.dns.wire.names import name_from_text
from ramparts.dns.wire.query import parse_query
from ramparts.dns.wire.records import uncompressed_records
from ramparts.dns.wire.response import RecordInfo, parse_response

MakeQuery = Callable[..., bytes]
MakeResponse = Callable[..., bytes]
SOA = ["ns1.safe.example. hostmaster.safe.example. 1 7200 900 1209600 300"]


def test_target_records_spliced_after_cname_override(
    make_query: MakeQuery, make_response: MakeResponse
) -> None:
    upstream = make_response(
        "safe.example",
        "A",
        answers=[
            ("safe.example.", 300, "CNAME", ["edge.safe.example."]),
            ("edge.safe.example.", 60, "A", ["192.0.2.7"]),
            ("edge.safe.example.", 60, "MX", ["10 mail.safe.example."]),
        ],
        authority=[("safe.example.", 900, "SOA", SOA)],
    )
    parsed = parse_response(
        upstream, query_id=7, qname_wire=name_from_text("safe.example"), qtype=1, qclass=1
    )
    spliced = uncompressed_records(upstream, parsed.records)
    assert all(b"\xc0" not in record[:2] for record in spliced)
    query = parse_query(make_query("www.search.example", "A"))
    reply = dns.message.from_wire(
        override_response(query, cname=name_from_text("safe.example"), extra_answers=spliced[:3])
    )
    original = dns.message.from_wire(upstream)
    assert reply.answer[0].rdtype == dns.rdatatype.CNAME
    assert reply.answer[1:] == original.answer
    soa_only = dns.message.from_wire(build_reply(query, 0, spliced[3:]))
    assert soa_only.answer == original.authority


def test_malformed_rdata_is_reported() -> None:
    header = bytes.fromhex("0007818000010001 00000000")
    question = name_from_text("x.example") + b"\x00\x0f\x00\x01"
    bad_mx = b"\xc0\x0c\x00\x0f\x00\x01\x00\x00\x00\x3c\x00\x02\x00\x0a"
    wire = header + question + bad_mx
    with pytest.raises(MalformedResponse):
        parse_response(wire, query_id=7, qname_wire=name_from_text("x.example"), qtype=15, qclass=1)
    record = RecordInfo(0, b"", 15, 1, 60, len(header + question), 0, len(wire) - 2, 2)
    with pytest.raises(MalformedResponse):
        uncompressed_records(wire, [record])


@pytest.mark.parametrize(
    ("rtype", "rdata"),
    [
        (5, b"\x01a\x00\x00"),  # CNAME with a trailing octet
        (6, b"\x00\x00" + bytes(19)),  # SOA fixed fields one short
        (6, b"\x00"),  # SOA with one name only
        (1, b"\x01\x02\x03"),  # A of 3 octets
        (28, bytes(4)),  # AAAA of 4 octets
    ],
)
def test_bad_rdata_in_any_section_is_malformed(rtype: int, rdata: bytes) -> None:
    header = bytes.fromhex("0007818000010000 00000001")
    question = name_from_text("x.example") + b"\x00\x01\x00\x01"
    extra = b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata
    with pytest.raises(MalformedResponse):
        parse_response(
            header + question + extra,
            query_id=7,
            qname_wire=name_from_text("x.example"),
            qtype=1,
            qclass=1,
        )


@pytest.mark.parametrize("rdtype", ["A", "MX"])
def test_padding_to_468_blocks(make_query: MakeQuery, rdtype: str) -> None:
    options = [dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"")]
    query = parse_query(make_query("ads.example", rdtype, use_edns=0, options=options))
    reply = block_response(query)
    padded = pad_response(reply)
    assert len(padded) % 468 == 0
    message = dns.message.from_wire(padded)
    codes = [option.otype for option in message.options]
    assert codes == [dns.edns.OptionType.EDE, dns.edns.OptionType.PADDING]


def test_padding_needs_a_final_opt(make_query: MakeQuery) -> None:
    reply = block_response(parse_query(make_query("ads.example", "A")))
    assert pad_response(reply) is reply
    assert pad_response(b"\x00\x01") == b"\x00\x01"
