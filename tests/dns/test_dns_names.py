"""Wire names: compression rules, limits, presentation text (checked against dnspython)."""

from __future__ import annotations

import dns.name
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.dns.errors import DnsWireError, NameFormatError
from ramparts.dns.wire.names import (
    labels_to_wire,
    name_from_text,
    name_to_text,
    read_name,
    skip_name,
)

HEADER = bytes(12)


def test_read_plain_name_keeps_case_and_reports_end() -> None:
    buf = HEADER + b"\x03WwW\x07example\x03com\x00" + b"rest"
    name, end = read_name(buf, 12)
    assert name == b"\x03WwW\x07example\x03com\x00"
    assert buf[end:] == b"rest"


def test_read_compressed_name_follows_backward_pointer() -> None:
    buf = HEADER + b"\x07example\x03com\x00" + b"\x03www\xc0\x0c"
    second = 12 + 13
    name, end = read_name(buf, second)
    assert name == b"\x03www\x07example\x03com\x00"
    assert end == len(buf)
    assert skip_name(buf, second) == len(buf)


def test_pointer_to_itself_is_rejected() -> None:
    buf = HEADER + b"\x01a\xc0\x0c"
    with pytest.raises(NameFormatError):
        read_name(buf, 12)


def test_pointer_loop_between_two_names_is_rejected() -> None:
    # name at 12 points forward to 16, name at 16 points back to 12: a loop.
    buf = HEADER + b"\x01a\xc0\x10" + b"\x01b\xc0\x0c"
    with pytest.raises(NameFormatError):
        read_name(buf, 12)
    with pytest.raises(NameFormatError):
        read_name(buf, 16)


def test_forward_pointer_is_rejected() -> None:
    buf = HEADER + b"\xc0\x0e" + b"\x01a\x00"
    with pytest.raises(NameFormatError):
        read_name(buf, 12)
    with pytest.raises(NameFormatError):
        skip_name(buf, 12)


def test_pointer_into_header_is_rejected() -> None:
    buf = HEADER + b"\x01a\x00" + b"\xc0\x02"
    with pytest.raises(NameFormatError):
        read_name(buf, 15)


def test_label_type_0x40_is_rejected() -> None:
    with pytest.raises(NameFormatError):
        read_name(HEADER + b"\x41" + b"x" * 70 + b"\x00", 12)


def test_name_of_255_octets_passes_and_256_fails() -> None:
    labels = [b"a" * 63] * 3 + [b"b" * 61]  # 4 * 64 - 2 + 1 = 255 octets with the root
    wire = b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"
    assert len(wire) == 255
    assert read_name(HEADER + wire, 12)[0] == wire
    too_long = b"".join(bytes([len(x)]) + x for x in [*labels[:3], b"b" * 62]) + b"\x00"
    with pytest.raises(NameFormatError):
        read_name(HEADER + too_long, 12)
    with pytest.raises(NameFormatError):
        skip_name(HEADER + too_long, 12)


def test_name_too_long_through_pointers_is_rejected() -> None:
    part = b"\x3f" + b"a" * 63
    buf = HEADER + part + part + b"\x00"  # 129 octets at 12
    # 2 labels + pointer to 12 -> 4 labels of 63 + root = 257 octets.
    buf += part + part + b"\xc0\x0c"
    with pytest.raises(NameFormatError):
        read_name(buf, 12 + 129)


def test_truncated_names_are_rejected() -> None:
    for buf in (HEADER + b"\x05abc", HEADER + b"\x01a", HEADER + b"\xc0"):
        with pytest.raises(NameFormatError):
            read_name(buf, 12)


@pytest.mark.parametrize(
    "text",
    ["www.example.com", "a\\.b.example", 'we"ird.(x)', "x\\000y.z", "UPPER.Case", "_srv._tcp.x"],
)
def test_text_matches_dnspython(text: str) -> None:
    wire = dns.name.from_text(text).to_wire()
    assert wire is not None
    assert name_to_text(wire) == dns.name.from_wire(wire, 0)[0].to_text(omit_final_dot=True)
    assert name_from_text(text) == wire
    assert name_from_text(text + ".") == wire


def test_root_name() -> None:
    assert name_to_text(b"\x00") == "."
    assert name_from_text(".") == b"\x00"
    assert name_from_text("") == b"\x00"


@pytest.mark.parametrize("bad", ["a..b", ".a", "x" * 64 + ".com", "a\\", "a\\300.b"])
def test_name_from_text_rejects(bad: str) -> None:
    with pytest.raises(NameFormatError):
        name_from_text(bad)


def test_idna_names_are_encoded() -> None:
    assert name_from_text("bücher.example") == dns.name.from_text("xn--bcher-kva.example").to_wire()


def test_labels_to_wire_limits() -> None:
    with pytest.raises(NameFormatError):
        labels_to_wire([b"a" * 63] * 4)
    assert labels_to_wire([b"a"]) == b"\x01a\x00"


@given(st.lists(st.binary(min_size=1, max_size=63), max_size=4))
def test_text_roundtrip_against_dnspython(labels: list[bytes]) -> None:
    wire = b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"
    if len(wire) > 255:
        return
    ours = name_to_text(wire)
    theirs = dns.name.from_wire(wire, 0)[0].to_text(omit_final_dot=True)
    assert ours == theirs
    assert name_from_text(ours) == wire


@settings(max_examples=300)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=300))
def test_read_name_never_crashes(buf: bytes, offset: int) -> None:
    try:
        name, end = read_name(buf, offset)
    except DnsWireError:
        return
    assert name.endswith(b"\x00")
    assert len(name) <= 255
    assert offset < end <= len(buf)


def test_pointed_to_labels_must_end_before_the_pointing_name() -> None:
    # The name at 14 points back to 12, whose run "\x05..." would read into the pointing name.
    buf = HEADER + b"\x05a" + b"\x01b\xc0\x0c" + b"\x00"
    with pytest.raises(NameFormatError):
        read_name(buf, 14)
