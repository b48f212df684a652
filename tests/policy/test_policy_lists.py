"""Lists: validation, file formats (plain, hosts, adblock), IP sets, fuzzing of the parsers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.policy import ListFormatError, ListKind, make_list
from ramparts.policy.domainset import DomainSet, domain_suffixes, normalize_domain
from ramparts.policy.ipset import RangeSet, parse_address_key, parse_ip_entry
from ramparts.policy.list_formats import (
    MAX_LIST_BYTES,
    ListFormat,
    load_list,
    load_list_file,
    parse_list,
    sniff_format,
)


def test_normalize_domain() -> None:
    assert normalize_domain("WWW.Example.COM.") == "www.example.com"
    assert normalize_domain("bücher.example") == "xn--bcher-kva.example"
    assert normalize_domain("_dmarc.example.com") == "_dmarc.example.com"
    for bad in ("", ".", "a..b", "-a.com", "a b.com", "a" * 64 + ".com", "x." * 127 + "com"):
        assert normalize_domain(bad) is None, bad


def test_domain_suffixes_and_set() -> None:
    assert domain_suffixes("a.b.c") == ("a.b.c", "b.c", "c")
    assert domain_suffixes("") == ()
    ds = DomainSet.of(["example.com"])
    assert ds.matches("deep.a.example.com")
    assert ds.matches("example.com")
    assert not ds.matches("badexample.com")
    assert "a.example.com" not in ds


def test_make_list_is_strict() -> None:
    assert make_list("d", ListKind.DOMAIN, ["*.Example.com", "b.org."]).values == {
        "example.com",
        "b.org",
    }
    with pytest.raises(ListFormatError) as info:
        make_list("d", ListKind.DOMAIN, ["ok.org", "not a domain"])
    assert info.value.line == 2
    with pytest.raises(ListFormatError):
        make_list("i", ListKind.IP, ["10.0.0.0/8", "10.0.0.300"])
    with pytest.raises(ListFormatError):
        make_list("e", ListKind.EMAIL, ["nobody"])
    urls = make_list("u", ListKind.URL, ["HTTPS://user@Ex.com:8080/a/b/?x=1#f"])
    assert urls.values == {"ex.com:8080/a/b"}


def test_ip_entries_and_ranges() -> None:
    assert parse_ip_entry("10.0.0.0/30") == (
        parse_address_key("10.0.0.0"),
        parse_address_key("10.0.0.3"),
    )
    rs = RangeSet.of([(1, 3), (4, 6), (10, 12), (2, 2), (20, 19)])
    assert rs.ranges == ((1, 6), (10, 12))
    assert 6 in rs
    assert 10 in rs
    assert 7 not in rs
    assert 0 not in rs
    assert 13 not in rs
    with pytest.raises(ValueError, match="bad address range"):
        parse_ip_entry("10.0.0.9-10.0.0.1")
    with pytest.raises(ValueError, match="bad address range"):
        parse_ip_entry("10.0.0.1-::1")
    ips = make_list("i", ListKind.IP, ["192.168.0.0/16", "::1", "1.2.3.4-1.2.3.8"])
    assert parse_address_key("192.168.4.4") in ips
    assert parse_address_key("::ffff:192.168.4.4") in ips
    assert parse_address_key("::1") in ips
    assert parse_address_key("::2") not in ips
    assert parse_address_key("1.2.3.9") not in ips


PLAIN = b"""\xef\xbb\xbf# a comment
Example.COM
*.wild.org   # trailing comment
sub.domain.net.

not_valid..name
! adblock-style comment in a plain list
"""

HOSTS = b"""# hosts file
127.0.0.1 localhost
::1 localhost ip6-localhost
0.0.0.0 0.0.0.0
0.0.0.0 ads.example.com tracker.example.net # two names
127.0.0.1\tmetrics.example.org
garbage line here
"""

ADBLOCK = b"""[Adblock Plus 2.0]
! Title: test
||ads.example.com^
||banner.example.org^$important
||third.example^$third-party
||path.example/ads.js
||*.wild.example^
@@||good.example.com^
||good.example.com^
example.com##.ad-banner
example.com#@#.ad
plain.example
0.0.0.0 hostsline.example
/banner[0-9]+/
|https://scheme.example^
"""


def test_plain_format() -> None:
    parsed = parse_list(PLAIN, ListKind.DOMAIN)
    assert parsed.format is ListFormat.PLAIN
    assert parsed.values == {"example.com", "wild.org", "sub.domain.net"}
    assert parsed.skipped == 1


def test_hosts_format() -> None:
    parsed = parse_list(HOSTS, ListKind.DOMAIN)
    assert parsed.format is ListFormat.HOSTS
    assert parsed.values == {"ads.example.com", "tracker.example.net", "metrics.example.org"}
    assert parsed.skipped == 1


def test_adblock_format() -> None:
    parsed = parse_list(ADBLOCK, ListKind.DOMAIN)
    assert parsed.format is ListFormat.ADBLOCK
    assert parsed.values == {
        "ads.example.com",
        "banner.example.org",
        "wild.example",
        "plain.example",
        "hostsline.example",
    }
    assert parsed.exceptions == {"good.example.com"}
    # $third-party, paths, regexes and |scheme rules are not whole-domain rules.
    assert parsed.skipped == 4


def test_sniffing_and_forced_format() -> None:
    assert sniff_format(["# c", "0.0.0.0 a.b"]) is ListFormat.HOSTS
    assert sniff_format(["! c", "||a.b^"]) is ListFormat.ADBLOCK
    assert sniff_format(["! c", "a.b"]) is ListFormat.PLAIN
    assert sniff_format(["a.b", "c.d"]) is ListFormat.PLAIN
    forced = parse_list(b"||x.example^\nplain.example\n", ListKind.DOMAIN, ListFormat.PLAIN)
    assert forced.values == {"plain.example"}
    assert forced.skipped == 1


def test_other_kinds_and_errors(tmp_path: Path) -> None:
    ips = parse_list(b"# nets\n10.0.0.0/8\n\n::1 # me\nnope\n", ListKind.IP)
    assert ips.ranges.ranges[0][0] == parse_address_key("10.0.0.0")
    assert ips.skipped == 1
    urls = load_list("u", ListKind.URL, b"https://a.example/x\nbad url\n")
    assert urls.values == {"a.example/x"}
    emails = load_list("e", ListKind.EMAIL, b"A@B.example\n")
    assert "a@b.example" in emails
    with pytest.raises(ListFormatError, match="UTF-8"):
        parse_list(b"\xff\xfe\xfa", ListKind.DOMAIN)
    with pytest.raises(ListFormatError, match="larger"):
        parse_list(b" " * (MAX_LIST_BYTES + 1), ListKind.DOMAIN)
    path = tmp_path / "l.txt"
    path.write_bytes(HOSTS)
    assert len(load_list_file(path, "h", ListKind.HOST)) == 3


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(list(ListKind)), st.sampled_from(list(ListFormat)))
def test_fuzz_list_bytes(data: bytes, kind: ListKind, fmt: ListFormat) -> None:
    try:
        parsed = parse_list(data, kind, fmt)
    except ListFormatError:
        return
    assert parsed.skipped >= 0


_LINES = st.sampled_from(
    [
        "||a.example^",
        "@@||a.example^",
        "0.0.0.0 b.example",
        "c.example",
        "# x",
        "! y",
        "",
        "##.ad",
        "||d.example^$important",
        "10.0.0.0/8",
        "::1",
        "1.2.3.4-1.2.3.5",
        "bücher.de",
        "*.e.example",
        "http://f.example/p?q",
        "g@h.example",
        "|",
        "||",
        "@@",
        "$",
        "\t",
        "é" * 3,
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_LINES, max_size=20).map("\n".join),
    st.sampled_from(list(ListKind)),
    st.sampled_from(list(ListFormat)),
)
def test_fuzz_list_lines(text: str, kind: ListKind, fmt: ListFormat) -> None:
    parsed = parse_list(text.encode(), kind, fmt)
    # Every accepted value is already normalised: re-normalising changes nothing.
    if kind in (ListKind.DOMAIN, ListKind.HOST):
        assert all(normalize_domain(v) == v for v in parsed.values)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.ip_addresses(), st.text(max_size=20)))
def test_address_key_fast_path_agrees_with_ipaddress(value: object) -> None:
    import ipaddress

    from ramparts.policy.ipset import address_key

    text = str(value)
    try:
        expected: int | None = address_key(ipaddress.ip_address(text.strip()))
    except ValueError:
        expected = None
    try:
        got: int | None = parse_address_key(text)
    except ValueError:
        got = None
    assert got == expected
