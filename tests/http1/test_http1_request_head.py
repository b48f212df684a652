"""Request heads: what is accepted, how it is read, and the status every refusal carries."""

from __future__ import annotations

import pytest

from ramparts.http1 import (
    SERVER_LIMITS,
    Limits,
    RemoteProtocolError,
    Request,
    TargetForm,
    parse_request_head,
)

BROWSER_HEAD = (
    b"GET /wiki/Special:Search?search=http&go=Go HTTP/1.1\r\n"
    b"Host: en.wikipedia.org\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Connection: keep-alive\r\n"
    b"Cookie: a=1; b=2\r\n"
)


def parse(head: bytes, limits: Limits = SERVER_LIMITS) -> Request:
    return parse_request_head(head, limits)


def test_browser_request() -> None:
    request = parse(BROWSER_HEAD)
    assert request.method == b"GET"
    assert request.target == b"/wiki/Special:Search?search=http&go=Go"
    assert request.version == b"1.1"
    assert request.form is TargetForm.ORIGIN
    assert request.host == b"en.wikipedia.org"
    assert request.keep_alive is True
    assert request.content_length == 0
    assert request.expect_continue is False
    assert request.upgrade is None
    assert request.headers[0] == (b"host", b"en.wikipedia.org")
    assert request.raw_headers[0] == (b"Host", b"en.wikipedia.org")
    assert [name for name, _ in request.headers] == [
        b"host",
        b"user-agent",
        b"accept",
        b"accept-language",
        b"accept-encoding",
        b"connection",
        b"cookie",
    ]
    assert request.headers[4] == (b"accept-encoding", b"gzip, deflate, br, zstd")


def test_values_lose_surrounding_whitespace_only() -> None:
    request = parse(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A:\t  inner  space \t \r\nX-B:\r\nX-C:   \r\n"
        b"X-D: \xc3\xa9t\xe9\r\n"
    )
    assert request.headers[1:] == [
        (b"x-a", b"inner  space"),
        (b"x-b", b""),
        (b"x-c", b""),
        (b"x-d", b"\xc3\xa9t\xe9"),  # obs-text is kept as bytes
    ]


def test_repeated_fields_are_kept_in_order() -> None:
    request = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nx: 2\r\nX: 3\r\n")
    assert request.headers[1:] == [(b"x", b"1"), (b"x", b"2"), (b"x", b"3")]
    assert request.raw_headers[1:] == [(b"X", b"1"), (b"x", b"2"), (b"X", b"3")]


@pytest.mark.parametrize(
    ("line", "form"),
    [
        (b"GET /a?b HTTP/1.1", TargetForm.ORIGIN),
        (b"GET http://example.com/x HTTP/1.1", TargetForm.ABSOLUTE),
        (b"GET https://example.com:8443 HTTP/1.1", TargetForm.ABSOLUTE),
        (b"CONNECT example.com:443 HTTP/1.1", TargetForm.AUTHORITY),
        (b"CONNECT [2001:db8::1]:443 HTTP/1.1", TargetForm.AUTHORITY),
        (b"CONNECT 192.0.2.1:8080 HTTP/1.1", TargetForm.AUTHORITY),
        (b"OPTIONS * HTTP/1.1", TargetForm.ASTERISK),
        (b"OPTIONS /x HTTP/1.1", TargetForm.ORIGIN),
    ],
)
def test_target_forms(line: bytes, form: TargetForm) -> None:
    assert parse(line + b"\r\nHost: example.com\r\n").form is form


@pytest.mark.parametrize(
    ("version", "expected", "keep_alive"),
    [
        (b"HTTP/1.1", b"1.1", True),
        (b"HTTP/1.0", b"1.0", False),
        (b"HTTP/1.2", b"1.1", True),  # RFC 9110 §2.5: a higher minor is handled as ours
    ],
)
def test_versions(version: bytes, expected: bytes, keep_alive: bool) -> None:
    request = parse(b"GET / " + version + b"\r\nHost: a\r\n")
    assert request.version == expected
    assert request.keep_alive is keep_alive


def test_http10_without_host_and_with_keep_alive() -> None:
    request = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n")
    assert request.host is None
    assert request.keep_alive is True


@pytest.mark.parametrize(
    ("connection", "keep_alive"),
    [(b"close", False), (b"Close", False), (b"keep-alive, close", False), (b"foo", True)],
)
def test_connection_close(connection: bytes, keep_alive: bool) -> None:
    request = parse(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: " + connection + b"\r\n")
    assert request.keep_alive is keep_alive


def test_content_length_and_chunked() -> None:
    assert parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n").content_length == 42
    assert parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n").content_length == 7
    chunked = parse(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n")
    assert chunked.content_length is None


@pytest.mark.parametrize(
    "fields",
    [
        b"Content-Length: 5\r\nContent-Length: 5\r\n",
        b"Content-Length: 5, 5\r\n",
        b"Content-Length: 5 ,5\r\n",
    ],
)
def test_identical_content_lengths_count_once(fields: bytes) -> None:
    assert parse(b"POST / HTTP/1.1\r\nHost: a\r\n" + fields).content_length == 5


def test_expect_and_upgrade() -> None:
    request = parse(b"PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\nExpect: 100-Continue\r\n")
    assert request.expect_continue is True
    ws = parse(b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
    assert ws.upgrade == b"websocket"
    ignored = parse(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n")
    assert ignored.upgrade is None  # not named in Connection
    old = parse(b"GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n")
    assert old.upgrade is None  # RFC 9110 §7.8: ignored in HTTP/1.0
    assert parse(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\n").expect_continue is False


def test_unknown_valid_methods_pass() -> None:
    assert parse(b"PROPFIND /dav HTTP/1.1\r\nHost: a\r\n").method == b"PROPFIND"
    assert parse(b"M-SEARCH /x HTTP/1.1\r\nHost: a\r\n").method == b"M-SEARCH"


BAD = b"GET / HTTP/1.1\r\nHost: a\r\n"


@pytest.mark.parametrize(
    ("head", "status", "words"),
    [
        # request line
        (b"GET  / HTTP/1.1\r\nHost: a\r\n", 400, "malformed request line"),
        (b"GET / HTTP/1.1 \r\nHost: a\r\n", 400, "malformed request line"),
        (b"GET /\r\nHost: a\r\n", 400, "malformed request line"),
        (b"G(T / HTTP/1.1\r\nHost: a\r\n", 400, "invalid method"),
        (b"GET /\x7f HTTP/1.1\r\nHost: a\r\n", 400, "request target"),
        (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n", 400, "request target"),
        (b"GET /\ra HTTP/1.1\r\nHost: a\r\n", 400, "request target"),
        (b"GET / HTTP/1.1\nHost: a\r\n", 400, "bare LF"),
        (b"GET / http/1.1\r\nHost: a\r\n", 400, "malformed HTTP version"),
        (b"GET / HTTP/1.10\r\nHost: a\r\n", 400, "malformed HTTP version"),
        (b"GET / HTTP/2.0\r\nHost: a\r\n", 505, "not supported"),
        (b"PRI * HTTP/2.0\r\n", 505, "not supported"),
        (b"GET / HTTP/0.9\r\nHost: a\r\n", 505, "not supported"),
        (b"GET example.com:80 HTTP/1.1\r\nHost: a\r\n", 400, "invalid request target"),
        (b"GET * HTTP/1.1\r\nHost: a\r\n", 400, "only for OPTIONS"),
        (b"CONNECT / HTTP/1.1\r\nHost: a\r\n", 400, "host:port"),
        (b"CONNECT example.com HTTP/1.1\r\nHost: a\r\n", 400, "host:port"),
        (b"CONNECT http://example.com:443 HTTP/1.1\r\nHost: a\r\n", 400, "host:port"),
        # fields
        (BAD + b" folded\r\n", 400, "obs-fold"),
        (BAD + b"X: a\r\n\tfolded\r\n", 400, "obs-fold"),
        (BAD + b"X : a\r\n", 400, "whitespace between field name and colon"),
        (BAD + b"X\t: a\r\n", 400, "whitespace between field name and colon"),
        (BAD + b"X a: b\r\n", 400, "invalid character in field name"),
        (BAD + b"X(: b\r\n", 400, "invalid character in field name"),
        (BAD + b"\xc3\xa9: b\r\n", 400, "invalid character in field name"),
        (BAD + b": b\r\n", 400, "empty field name"),
        (BAD + b"no colon\r\n", 400, "without a colon"),
        (BAD + b"X: a\x00b\r\n", 400, "invalid character in field value"),
        (BAD + b"X: a\x7fb\r\n", 400, "invalid character in field value"),
        (BAD + b"X: a\x0bb\r\n", 400, "invalid character in field value"),
        (BAD + b"X: a\rb\r\n", 400, "bare CR"),
        (BAD + b"X: a\nY: b\r\n", 400, "bare LF"),
        # Host
        (b"GET / HTTP/1.1\r\nX: y\r\n", 400, "missing Host"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n", 400, "more than one Host"),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n", 400, "invalid Host"),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n", 400, "invalid Host"),
        (b"GET / HTTP/1.1\r\nHost: a:b\r\n", 400, "invalid Host"),
        # framing (request smuggling defences)
        (BAD + b"Content-Length: 5\r\nContent-Length: 6\r\n", 400, "conflicting"),
        (BAD + b"Content-Length: 5, 6\r\n", 400, "conflicting"),
        (BAD + b"Content-Length: +5\r\n", 400, "invalid Content-Length"),
        (BAD + b"Content-Length: 0x5\r\n", 400, "invalid Content-Length"),
        (BAD + b"Content-Length: 5 5\r\n", 400, "invalid Content-Length"),
        (BAD + b"Content-Length: \r\n", 400, "invalid Content-Length"),
        (BAD + b"Content-Length: \xd9\xa5\r\n", 400, "invalid Content-Length"),
        (BAD + b"Content-Length: 1234567890123456789\r\n", 413, "too large"),
        (
            BAD + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
            400,
            "both Content-Length and Transfer-Encoding",
        ),
        (BAD + b"Transfer-Encoding: gzip\r\n", 400, "not the final"),
        (BAD + b"Transfer-Encoding: chunked, gzip\r\n", 400, "not the final"),
        (BAD + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", 400, "not the final"),
        (BAD + b"Transfer-Encoding: chunked, chunked\r\n", 400, "more than once"),
        (BAD + b"Transfer-Encoding: xchunked\r\n", 400, "not the final"),
        (BAD + b"Transfer-Encoding: chunked;q=1\r\n", 400, "not the final"),
        (BAD + b"Transfer-Encoding: \r\n", 400, "not the final"),
        (BAD + b"Transfer-Encoding: gzip, chunked\r\n", 501, "not supported"),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n", 400, "HTTP/1.0"),
        (b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n", 400, "CONNECT"),
        (b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n", 400, "CONNECT"),
    ],
)
def test_refusals(head: bytes, status: int, words: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse(head)
    assert caught.value.status_code == status
    assert words in caught.value.message


def test_limits() -> None:
    limits = Limits(max_request_line=24, max_fields=2, max_body=10)
    assert parse(b"GET /0123456789 HTTP/1.1\r\nHost: a\r\n", limits).target == b"/0123456789"
    with pytest.raises(RemoteProtocolError) as caught:
        parse(b"GET /01234567890 HTTP/1.1\r\nHost: a\r\n", limits)
    assert caught.value.status_code == 414
    with pytest.raises(RemoteProtocolError) as caught:
        parse(b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n", limits)
    assert caught.value.status_code == 431
    assert parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n", limits)
    with pytest.raises(RemoteProtocolError) as caught:
        parse(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n", limits)
    assert caught.value.status_code == 413
