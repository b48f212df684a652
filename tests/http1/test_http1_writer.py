"""Writers and header helpers: exact bytes, injection refusals, hop-by-hop removal."""

from __future__ import annotations

import pytest

from ramparts.http1 import (
    SERVER_LIMITS,
    LocalProtocolError,
    encode_chunk,
    error_response,
    get_header,
    get_list_header,
    last_chunk,
    parse_request_head,
    remove_hop_by_hop,
    write_request_head,
    write_response_head,
)


def test_request_head() -> None:
    headers = [(b"Host", b"a.example"), (b"Accept", b"*/*")]
    out = write_request_head(b"GET", b"/p?q=1", headers)
    assert out == b"GET /p?q=1 HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\r\n"
    assert write_request_head(b"GET", b"/", []) == b"GET / HTTP/1.1\r\n\r\n"
    request = parse_request_head(out[:-2], SERVER_LIMITS)
    assert request.raw_headers == headers


def test_response_head() -> None:
    assert write_response_head(404, [(b"Content-Length", b"0")]) == (
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    )
    assert write_response_head(200, [], b"Fine") == b"HTTP/1.1 200 Fine\r\n\r\n"
    assert write_response_head(599, []) == b"HTTP/1.1 599 \r\n\r\n"
    for bad in (0, 99, 1000):
        with pytest.raises(LocalProtocolError):
            write_response_head(bad, [])
    with pytest.raises(LocalProtocolError):
        write_response_head(200, [], b"OK\r\nX: y")


@pytest.mark.parametrize(
    "header",
    [
        (b"X", b"a\r\nInjected: 1"),
        (b"X", b"a\nb"),
        (b"X", b"a\rb"),
        (b"X\r\nY", b"v"),
    ],
)
def test_injection_is_refused(header: tuple[bytes, bytes]) -> None:
    with pytest.raises(LocalProtocolError, match="CR or LF"):
        write_response_head(200, [header])
    with pytest.raises(LocalProtocolError, match="CR or LF"):
        write_request_head(b"GET", b"/", [(b"Host", b"a"), header])
    with pytest.raises(LocalProtocolError, match="CR or LF"):
        last_chunk([header])


def test_chunks() -> None:
    assert encode_chunk(b"") == b""
    assert encode_chunk(b"hello") == b"5\r\nhello\r\n"
    assert encode_chunk(memoryview(b"x" * 300)) == b"12c\r\n" + b"x" * 300 + b"\r\n"
    assert last_chunk() == b"0\r\n\r\n"
    assert last_chunk([(b"A", b"1"), (b"B", b"2")]) == b"0\r\nA: 1\r\nB: 2\r\n\r\n"


def test_error_response() -> None:
    assert error_response(400) == (
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )
    out = error_response(431, b"too big")
    assert out.endswith(b"content-type: text/plain; charset=utf-8\r\n\r\ntoo big")
    assert b"content-length: 7\r\n" in out


def test_remove_hop_by_hop() -> None:
    headers = [
        (b"Host", b"a"),
        (b"Connection", b"keep-alive, X-Secret"),
        (b"Keep-Alive", b"timeout=5"),
        (b"X-Secret", b"1"),
        (b"Proxy-Authorization", b"Basic x"),
        (b"Proxy-Foo", b"y"),
        (b"TE", b"trailers"),
        (b"Trailer", b"Digest"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Upgrade", b"websocket"),
        (b"connection", b"x-other"),
        (b"X-Other", b"2"),
        (b"Accept", b"*/*"),
        (b"X-Proxy", b"kept"),
    ]
    assert remove_hop_by_hop(headers) == [
        (b"Host", b"a"),
        (b"Accept", b"*/*"),
        (b"X-Proxy", b"kept"),
    ]
    assert remove_hop_by_hop([(b"a", b"1")]) == [(b"a", b"1")]


def test_lookups() -> None:
    headers = [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]
    assert get_header(headers, b"a") == b"1"
    assert get_header(headers, b"c") is None
    assert get_list_header(headers, b"a") == b"1, 3"
    assert get_list_header(headers, b"c") is None
