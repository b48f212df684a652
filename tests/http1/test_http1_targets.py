"""Absolute-form targets and authorities: pieces, defaults, refusals, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.http1 import RemoteProtocolError, split_absolute, split_authority


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"http://example.com/a?b=c", (b"http", b"example.com", b"/a?b=c")),
        (b"HTTPS://Example.com:8443", (b"https", b"Example.com:8443", b"/")),
        (b"http://example.com?x", (b"http", b"example.com", b"/?x")),
        (b"http://[2001:db8::1]:80/p#frag", (b"http", b"[2001:db8::1]:80", b"/p")),
        (b"ws://h/", (b"ws", b"h", b"/")),
    ],
)
def test_split_absolute(target: bytes, expected: tuple[bytes, bytes, bytes]) -> None:
    assert split_absolute(target) == expected


@pytest.mark.parametrize(
    "target", [b"/a", b"example.com:80", b"http:/x", b"http://user:pw@evil.example/", b"1http://a/"]
)
def test_split_absolute_refusals(target: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        split_absolute(target)


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        (b"Example.COM", (b"example.com", None)),
        (b"example.com:8080", (b"example.com", 8080)),
        (b"example.com:", (b"example.com", None)),
        (b"[::1]:443", (b"[::1]", 443)),
        (b"192.0.2.1:65535", (b"192.0.2.1", 65535)),
        (b"", (b"", None)),
    ],
)
def test_split_authority(authority: bytes, expected: tuple[bytes, int | None]) -> None:
    assert split_authority(authority) == expected


@pytest.mark.parametrize(
    "authority", [b"a:65536", b"a:000001", b"a:b", b"a b", b"a/b", b"[::1", b"a@b:1", b"a:1:2"]
)
def test_split_authority_refusals(authority: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        split_authority(authority)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_target_helpers_only_raise_their_error(data: bytes) -> None:
    try:
        scheme, authority, path = split_absolute(data)
    except RemoteProtocolError:
        pass
    else:
        assert (
            path.startswith(b"/")
            and b"@" not in authority
            and scheme.islower() | (not scheme.isalpha())
        )
    try:
        host, port = split_authority(data)
    except RemoteProtocolError:
        pass
    else:
        assert port is None or 0 <= port <= 65535
        assert b" " not in host and b"/" not in host
