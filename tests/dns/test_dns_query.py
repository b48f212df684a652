"""The query fast path: fields against dnspython, the validation rules, and fuzzing."""

from __future__ import annotations

import contextlib
import ipaddress
import struct
from collections.abc import Callable

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.dns.constants import RCODE_BADVERS, RCODE_FORMERR, RCODE_NOTIMP
from ramparts.dns.errors import BadVers, Drop, FormErr, NotImp, QueryError
from ramparts.dns.wire.build import error_response
from ramparts.dns.wire.edns import client_subnet, find_option, has_padding, iter_options
from ramparts.dns.wire.query import Query, parse_query

MakeQuery = Callable[..., bytes]


def test_plain_query_fields(make_query: MakeQuery) -> None:
    q = parse_query(make_query("WwW.Example.COM", "AAAA", qid=0xBEEF))
    assert q.id == 0xBEEF
    assert q.qname == "www.example.com"
    assert q.qname_wire == b"\x03www\x07example\x03com\x00"
    assert q.qname_raw == b"\x03WwW\x07Example\x03COM\x00"
    assert q.qtype == 28
    assert q.qclass == 1
    assert q.rd
    assert not q.cd
    assert not q.ad
    assert q.opcode == 0
    assert not q.edns
    assert q.udp_size == 512
    assert not q.do
    assert q.edns_options == b""


def test_edns_query_fields(make_query: MakeQuery) -> None:
    options = [
        dns.edns.ECSOption("192.0.2.0", 24),
        dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 8),
    ]
    wire = make_query("example.org", "MX", use_edns=0, want_dnssec=True, payload=4096,
                           options=options)  # fmt: skip
    q = parse_query(wire)
    assert q.edns
    assert q.do
    assert q.udp_size == 4096
    assert q.edns_version == 0
    assert [code for code, _ in iter_options(q.edns_options)] == [8, 12]
    assert has_padding(q.edns_options)
    ecs = client_subnet(q.edns_options)
    assert ecs is not None
    assert ecs.network == ipaddress.IPv4Network("192.0.2.0/24")
    assert ecs.scope_prefix == 0
    assert find_option(q.edns_options, 10) is None


def test_small_advertised_udp_size_counts_as_512(make_query: MakeQuery) -> None:
    assert parse_query(make_query(use_edns=0, payload=100)).udp_size == 512


def test_cd_and_ad_flags(make_query: MakeQuery) -> None:
    flags = dns.flags.RD | dns.flags.CD | dns.flags.AD
    q = parse_query(make_query(flags=flags))
    assert q.cd
    assert q.ad
    assert q.rd


def test_root_query(make_query: MakeQuery) -> None:
    q = parse_query(make_query(".", "NS"))
    assert q.qname == "."
    assert q.qname_wire == b"\x00"


def test_escaped_name_text_matches_dnspython(make_query: MakeQuery) -> None:
    wire = make_query("we\\.ird\\032name.Example", "TXT")
    q = parse_query(wire)
    assert q.qname == dns.message.from_wire(wire).question[0].name.to_text(True).lower()


def _header(flags: int = 0x0100, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!6H", 0x1234, flags, qd, an, ns, ar)


QUESTION = b"\x07example\x03com\x00\x00\x01\x00\x01"


@pytest.mark.parametrize(
    ("packet", "error"),
    [
        (b"\x12\x34\x01", Drop),
        (_header(flags=0x8100) + QUESTION, Drop),
        (_header(flags=0x0300) + QUESTION, FormErr),  # TC on a query
        (_header(flags=0x2100) + QUESTION, NotImp),  # opcode 4 NOTIFY
        (_header(flags=0x2900) + QUESTION, NotImp),  # opcode 5 UPDATE
        (_header(qd=0), FormErr),
        (_header(qd=2) + QUESTION + QUESTION, FormErr),
        (_header(an=1) + QUESTION, FormErr),
        (_header(ns=1) + QUESTION, FormErr),
        (_header(ar=2) + QUESTION, FormErr),
        (_header() + QUESTION[:-1], FormErr),
        (_header() + QUESTION + b"\x00", FormErr),  # trailing octet
        (_header() + b"\xc0\x0c\x00\x01\x00\x01", FormErr),  # pointer in the question
        (_header() + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01", FormErr),
        (_header() + b"\x3fa" + b"a" * 62 + b"\x00" * 100, FormErr),  # label runs off
        (_header() + b"\x00\x00\x29\x00\x01", FormErr),  # QTYPE OPT
        (_header() + b"\x00\x00\xfa\x00\x01", FormErr),  # QTYPE TSIG
    ],
)
def test_rejections(packet: bytes, error: type[QueryError]) -> None:
    with pytest.raises(error):
        parse_query(packet)


def test_name_longer_than_255_is_formerr() -> None:
    name = (b"\x3f" + b"a" * 63) * 4 + b"\x00"
    with pytest.raises(FormErr):
        parse_query(_header() + name + b"\x00\x01\x00\x01")


def _opt(version: int = 0, rdata: bytes = b"", owner: bytes = b"\x00", rtype: int = 41) -> bytes:
    ttl = (version << 16) | 0x8000
    return owner + struct.pack("!HHIH", rtype, 1232, ttl, len(rdata)) + rdata


@pytest.mark.parametrize(
    ("additional", "error"),
    [
        (_opt(version=1), BadVers),
        (_opt(rdata=b"\x00\x0a\x00\x08abc"), FormErr),  # option longer than the RDATA
        (_opt(rdata=b"\x00\x0a\x00"), FormErr),  # truncated option header
        (_opt(owner=b"\x01a\x00"), FormErr),  # OPT not owned by the root
        (_opt(rtype=250), FormErr),  # TSIG alone: not an OPT
        (_opt()[:-1], FormErr),
        (_opt() + b"junk", FormErr),
        (_opt(rdata=b"\x00\x08\x00\x04\x00\x03\x00\x00"), FormErr),  # ECS family 3
        (_opt(rdata=b"\x00\x08\x00\x05\x00\x01\x21\x00\x0a"), FormErr),  # ECS prefix 33
        (_opt(rdata=b"\x00\x08\x00\x05\x00\x01\x18\x00\x0a"), FormErr),  # ECS address too short
        (_opt(rdata=b"\x00\x08\x00\x05\x00\x01\x04\x00\x0f"), FormErr),  # bits past prefix
        (_opt(rdata=b"\x00\x08\x00\x05\x00\x01\x08\x08\x0a"), FormErr),  # scope set in query
    ],
)
def test_edns_rejections(additional: bytes, error: type[QueryError]) -> None:
    with pytest.raises(error) as info:
        parse_query(_header(ar=1) + QUESTION + additional)
    assert info.value.question == QUESTION


def test_trailing_octets_can_be_allowed() -> None:
    q = parse_query(_header() + QUESTION + b"\x00\x00", allow_trailing=True)
    assert q.qname == "example.com"
    q = parse_query(_header(ar=1) + QUESTION + _opt() + b"xx", allow_trailing=True)
    assert q.edns
    assert q.do


def test_error_replies_parse_with_dnspython() -> None:
    with pytest.raises(BadVers) as badvers:
        parse_query(_header(ar=1) + QUESTION + _opt(version=1))
    reply = error_response(badvers.value)
    assert reply is not None
    message = dns.message.from_wire(reply)
    assert message.rcode() == RCODE_BADVERS
    assert message.edns == 0
    assert message.id == 0x1234
    assert message.question[0].name.to_text() == "example.com."

    with pytest.raises(NotImp) as notimp:
        parse_query(_header(flags=0x2900) + QUESTION)
    reply = error_response(notimp.value)
    assert reply is not None
    message = dns.message.from_wire(reply)
    assert message.rcode() == RCODE_NOTIMP
    assert message.opcode() == dns.opcode.UPDATE
    assert not message.question
    assert message.edns == -1

    with pytest.raises(FormErr) as formerr:
        parse_query(_header() + QUESTION + b"!")
    reply = error_response(formerr.value)
    assert reply is not None
    message = dns.message.from_wire(reply)
    assert message.rcode() == RCODE_FORMERR
    assert len(message.question) == 1
    assert message.flags & dns.flags.QR
    assert message.flags & dns.flags.RD

    with pytest.raises(Drop) as drop:
        parse_query(_header(flags=0x8000) + QUESTION)
    assert error_response(drop.value) is None


# --- fuzzing ------------------------------------------------------------------------------

NAMES = st.lists(
    st.text(alphabet="abcXYZ019-_.\\ \x00é", min_size=1, max_size=12), min_size=0, max_size=4
)


@st.composite
def valid_queries(draw: st.DrawFn) -> bytes:
    labels = [label.encode("utf-8")[:63] for label in draw(NAMES)]
    labels = [x for x in labels if x]
    name = dns.name.Name([*labels, b""])
    rdtype = draw(st.sampled_from(["A", "AAAA", "MX", "TXT", "HTTPS", "ANY", "PTR", "NS"]))
    use_edns = draw(st.sampled_from([None, 0]))
    options: list[dns.edns.Option] = []
    if use_edns == 0 and draw(st.booleans()):
        options.append(dns.edns.ECSOption("198.51.100.0", draw(st.integers(0, 24))))
    if use_edns == 0 and draw(st.booleans()):
        options.append(dns.edns.GenericOption(dns.edns.OptionType.PADDING, b"\x00" * 5))
    message = dns.message.make_query(
        name, rdtype, use_edns=use_edns, want_dnssec=draw(st.booleans()), options=options
    )
    message.id = draw(st.integers(0, 0xFFFF))
    return message.to_wire()


@given(valid_queries())
def test_valid_queries_match_dnspython(wire: bytes) -> None:
    q = parse_query(wire)
    _assert_agrees_with_dnspython(q, wire)


def _assert_agrees_with_dnspython(q: Query, wire: bytes) -> None:
    message = dns.message.from_wire(wire)
    question = message.question[0]
    assert q.id == message.id
    assert q.qname == question.name.to_text(omit_final_dot=True).lower() or (
        q.qname == "." and question.name == dns.name.root
    )
    assert q.qname_wire == question.name.to_wire().lower()  # type: ignore[union-attr]
    assert q.qtype == question.rdtype
    assert q.qclass == question.rdclass
    assert q.edns == (message.edns >= 0)
    if q.edns:
        assert q.do == bool(message.ednsflags & dns.flags.DO)
        assert q.udp_size == max(512, message.payload)


def _mutate(wire: bytes, data: st.DataObject) -> bytes:
    buf = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "set", "cut", "insert", "append"]))
        if action in ("flip", "set") and buf:
            i = data.draw(st.integers(0, len(buf) - 1))
            if action == "flip":
                buf[i] ^= 1 << data.draw(st.integers(0, 7))
            else:
                buf[i] = data.draw(st.integers(0, 255))
        elif action == "cut" and buf:
            del buf[data.draw(st.integers(0, len(buf) - 1)) :]
        elif action == "insert":
            i = data.draw(st.integers(0, len(buf)))
            buf[i:i] = data.draw(st.binary(min_size=1, max_size=4))
        else:
            buf += data.draw(st.binary(min_size=1, max_size=8))
    return bytes(buf)


def _outcome(packet: bytes) -> Query | QueryError:
    """The parse result or the ``QueryError``; any other exception propagates (a failure)."""
    try:
        return parse_query(packet)
    except QueryError as exc:
        return exc


def _check_error_reply(error: QueryError) -> None:
    reply = error_response(error)
    if error.rcode is None:
        assert reply is None
        return
    assert reply is not None
    message = dns.message.from_wire(reply)
    assert message.rcode() == error.rcode
    assert message.id == error.query_id


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(valid_queries(), st.data())
def test_mutated_queries_never_crash(wire: bytes, data: st.DataObject) -> None:
    mutated = _mutate(wire, data)
    outcome = _outcome(mutated)
    if isinstance(outcome, QueryError):
        _check_error_reply(outcome)
        return
    try:
        dns.message.from_wire(mutated)
    except dns.exception.DNSException:
        return  # dnspython is stricter about some option contents (cookies, EDE...)
    _assert_agrees_with_dnspython(outcome, mutated)


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash(packet: bytes) -> None:
    outcome = _outcome(packet)
    if isinstance(outcome, QueryError):
        _check_error_reply(outcome)
    else:
        assert outcome.question == packet[12 : 12 + len(outcome.question)]


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_header_plus_random_bytes_never_crash(tail: bytes) -> None:
    with contextlib.suppress(QueryError):
        parse_query(_header(ar=len(tail) % 3) + tail)


def test_long_label_and_control_byte_do_not_fool_the_fast_text() -> None:
    # A 48-octet label has length byte "0"; a 0x05 byte in another label would look like a
    # length byte: the text must still be exact.
    name = dns.name.Name([b"a" * 48, b"x\x05y", b"example", b""])
    wire = dns.message.make_query(name, "A").to_wire()
    assert parse_query(wire).qname == "a" * 48 + ".x\\005y.example"


@given(st.lists(st.binary(min_size=1, max_size=63), max_size=4))
def test_qname_text_matches_dnspython_for_any_labels(labels: list[bytes]) -> None:
    if sum(len(x) + 1 for x in labels) + 1 > 255:
        return
    name = dns.name.Name([*labels, b""])
    q = parse_query(dns.message.make_query(name, "A").to_wire())
    expected = "." if not labels else name.to_text(omit_final_dot=True).lower()
    assert q.qname == expected
    assert q.qname_wire == name.to_wire().lower()  # type: ignore[union-attr]


def test_question_name_of_exactly_255_octets_is_accepted() -> None:
    labels = [b"a" * 63] * 3 + [b"b" * 61]
    wire = b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"
    assert len(wire) == 255
    assert parse_query(_header() + wire + b"\x00\x01\x00\x01").qname_wire == wire
    with pytest.raises(FormErr):
        parse_query(_header() + b"\x01a" * 30_000)  # stops early, whatever the packet size
