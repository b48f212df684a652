"""ClientConnection: request framing, response framing by method and status, reuse."""

from __future__ import annotations

import pytest

from http1.http1_pump import drain, merged
from ramparts.http1 import (
    CONNECTION_CLOSED,
    NEED_DATA,
    ClientConnection,
    InformationalResponse,
    Limits,
    LocalProtocolError,
    RemoteProtocolError,
    Response,
)

HOST = [(b"Host", b"origin.internal")]


def exchange(
    response: bytes, method: bytes = b"GET", eof: bool = False
) -> tuple[ClientConnection, list[object]]:
    conn = ClientConnection()
    conn.send_request(method, b"/", HOST)
    conn.send_end()
    conn.feed(response)
    events = drain(conn)
    if eof:
        conn.feed_eof()
        events += drain(conn)
    return conn, merged(events)


def test_get_and_reuse() -> None:
    conn = ClientConnection()
    assert conn.reusable
    head = conn.send_request(b"GET", b"/x?y", [*HOST, (b"Accept", b"*/*")])
    assert head == b"GET /x?y HTTP/1.1\r\nHost: origin.internal\r\nAccept: */*\r\n\r\n"
    assert not conn.reusable
    assert conn.send_end() == b""
    conn.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
    response, body, end = merged(drain(conn))
    assert isinstance(response, Response)
    assert (response.status, response.reason, response.version) == (200, b"OK", b"1.1")
    assert response.headers == [(b"content-length", b"5"), (b"content-type", b"text/plain")]
    assert response.raw_headers[0] == (b"Content-Length", b"5")
    assert response.content_length == 5 and response.keep_alive
    assert body == b"hello" and end == ("end", [])
    assert conn.reusable and not conn.must_close


@pytest.mark.parametrize(
    ("method", "status"),
    [(b"HEAD", 200), (b"GET", 204), (b"GET", 304), (b"HEAD", 404)],
)
def test_responses_without_content(method: bytes, status: int) -> None:
    conn, events = exchange(b"HTTP/1.1 %d X\r\nContent-Length: 100\r\n\r\n" % status, method)
    assert len(events) == 2 and events[1] == ("end", [])
    assert conn.reusable
    response = events[0]
    assert isinstance(response, Response) and response.content_length == 0


def test_body_until_close() -> None:
    conn, events = exchange(b"HTTP/1.1 200 OK\r\n\r\nsome", eof=False)
    assert isinstance(events[0], Response) and events[0].content_length is None
    assert not events[0].keep_alive
    conn.feed(b" more")
    conn.feed_eof()
    assert merged(drain(conn)) == [b" more", ("end", []), CONNECTION_CLOSED]
    assert not conn.reusable and conn.must_close


def test_chunked_response_with_trailers() -> None:
    _, events = exchange(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nWiki\r\n5\r\npedia\r\n0\r\nServer-Timing: db;dur=53\r\n\r\n"
    )
    assert events[1:] == [b"Wikipedia", ("end", [(b"server-timing", b"db;dur=53")])]
    assert isinstance(events[0], Response) and events[0].content_length is None


def test_informational_then_final() -> None:
    conn = ClientConnection()
    conn.send_request(
        b"PUT", b"/f", [*HOST, (b"Content-Length", b"4"), (b"Expect", b"100-continue")]
    )
    conn.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n")
    first, second = drain(conn)
    assert isinstance(first, InformationalResponse) and first.status == 100
    assert isinstance(second, InformationalResponse) and second.headers == [(b"link", b"</s.css>")]
    assert conn.send_data(b"body") == b"body"
    conn.send_end()
    conn.feed(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    assert [type(e).__name__ for e in drain(conn)] == ["Response", "EndOfMessage"]
    assert conn.reusable


def test_pipelined_requests() -> None:
    conn = ClientConnection()
    conn.send_request(b"HEAD", b"/a", HOST)
    conn.send_end()
    conn.send_request(b"GET", b"/b", HOST)
    conn.send_end()
    conn.feed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    )
    events = merged(drain(conn))
    assert [type(e).__name__ for e in events] == ["Response", "tuple", "Response", "bytes", "tuple"]
    assert conn.reusable


def test_upgrade() -> None:
    conn = ClientConnection()
    conn.send_request(
        b"GET", b"/ws", [*HOST, (b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")]
    )
    conn.send_end()
    with pytest.raises(LocalProtocolError):
        conn.send_request(b"GET", b"/", HOST)  # nothing may follow an upgrade request
    conn.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00")
    response = conn.next_event()
    assert isinstance(response, Response) and response.status == 101
    assert conn.switched and conn.must_close
    assert conn.take_trailing_data() == b"\x81\x00"


def test_101_without_upgrade_is_refused() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        exchange(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    assert caught.value.status_code == 502


def test_connect() -> None:
    conn = ClientConnection()
    conn.send_request(b"CONNECT", b"example.com:443", [(b"Host", b"example.com:443")])
    conn.send_end()
    conn.feed(b"HTTP/1.1 200 Connection established\r\n\r\nTLS")
    response = conn.next_event()
    assert isinstance(response, Response) and response.reason == b"Connection established"
    assert conn.switched and conn.take_trailing_data() == b"TLS"

    conn, events = exchange(
        b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno", b"CONNECT"
    )
    assert events[1:] == [b"no", ("end", [])] and not conn.switched and conn.reusable


def test_close_and_http10() -> None:
    conn, _ = exchange(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert not conn.reusable and conn.must_close
    with pytest.raises(LocalProtocolError):
        conn.send_request(b"GET", b"/", HOST)
    conn, _ = exchange(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert not conn.reusable
    conn, _ = exchange(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
    assert conn.reusable
    conn = ClientConnection()
    conn.send_request(b"GET", b"/", [*HOST, (b"Connection", b"close")])
    conn.send_end()
    conn.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    response = conn.next_event()
    assert isinstance(response, Response) and not response.keep_alive


def test_early_response_before_request_body_ends_the_connection() -> None:
    conn = ClientConnection()
    conn.send_request(b"POST", b"/up", [*HOST, (b"Content-Length", b"100")])
    conn.send_data(b"x" * 10)
    conn.feed(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n")
    assert len(drain(conn)) == 2
    assert not conn.reusable and conn.must_close


def test_request_framing() -> None:
    conn = ClientConnection()
    head = conn.send_request(b"POST", b"/", [*HOST, (b"Transfer-Encoding", b"chunked")])
    assert head.endswith(b"Transfer-Encoding: chunked\r\n\r\n")
    assert conn.send_data(b"a" * 26) == b"1a\r\n" + b"a" * 26 + b"\r\n"
    assert conn.send_end([(b"Digest", b"x")]) == b"0\r\nDigest: x\r\n\r\n"
    conn = ClientConnection()
    conn.send_request(b"GET", b"/", HOST)
    with pytest.raises(LocalProtocolError, match="no body"):
        conn.send_data(b"x")
    with pytest.raises(LocalProtocolError, match="not finished"):
        conn.send_request(b"GET", b"/", HOST)
    with pytest.raises(LocalProtocolError, match="Host"):
        ClientConnection().send_request(b"GET", b"/", [])
    with pytest.raises(LocalProtocolError, match="chunked"):
        ClientConnection().send_request(b"POST", b"/", [*HOST, (b"Transfer-Encoding", b"gzip")])
    with pytest.raises(LocalProtocolError, match="space"):
        ClientConnection().send_request(b"GET", b"/a b", HOST)
    fresh = ClientConnection()
    with pytest.raises(LocalProtocolError, match="CR or LF"):
        fresh.send_request(b"GET", b"/", [(b"Host", b"a\r\nX: y")])
    assert fresh.reusable  # a refused request leaves no trace


def test_unsolicited_and_missing_responses() -> None:
    conn = ClientConnection()
    conn.feed(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
    with pytest.raises(RemoteProtocolError, match="no request outstanding"):
        conn.next_event()
    conn = ClientConnection()
    conn.feed_eof()
    assert conn.next_event() is CONNECTION_CLOSED
    conn = ClientConnection()
    conn.send_request(b"GET", b"/", HOST)
    conn.send_end()
    assert conn.next_event() is NEED_DATA
    conn.feed_eof()
    with pytest.raises(RemoteProtocolError, match="closed before the response") as caught:
        conn.next_event()
    assert caught.value.status_code == 502


@pytest.mark.parametrize(
    ("response", "words"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "both"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "final"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "not supported"),
        (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting"),
        (b"HTTP/2 200\r\n\r\n", "malformed status line"),
        (b"HTTP/2.0 200 OK\r\n\r\n", "not supported"),
        (b"HTTP/1.1 20 OK\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 200 O\x00K\r\n\r\n", "malformed status line"),
        (b"ICY 200 OK\r\n\r\n", "not an HTTP/1 status line"),
        (b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare LF"),
        (b"HTTP/1.1 200 OK\r\nX : y\r\n\r\n", "whitespace"),
        (b"HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", "obs-fold"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab" + b"HTTP/1.1 200 OK\r\n\r\n", "no req"),
    ],
)
def test_response_refusals(response: bytes, words: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        exchange(response)
    assert caught.value.status_code == 502
    assert words in caught.value.message


def test_status_line_variants() -> None:
    for line, reason in [
        (b"HTTP/1.1 200 OK", b"OK"),
        (b"HTTP/1.1 200 ", b""),
        (b"HTTP/1.1 200", b""),
        (b"HTTP/1.1 299 Whatever it\tis \xe9", b"Whatever it\tis \xe9"),
    ]:
        _, events = exchange(line + b"\r\nContent-Length: 0\r\n\r\n")
        assert isinstance(events[0], Response) and events[0].reason == reason


def test_response_completing_before_send_end() -> None:
    conn = ClientConnection()
    conn.send_request(b"POST", b"/", [*HOST, (b"Content-Length", b"2")])
    conn.send_data(b"ab")
    conn.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert len(drain(conn)) == 2
    assert conn.send_end() == b""  # the driver finishes the request it started
    assert conn.must_close and not conn.reusable  # the request ended after its response


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nhello",
    ],
)
def test_response_body_limit(response: bytes) -> None:
    conn = ClientConnection(Limits(max_body=4))
    conn.send_request(b"GET", b"/", HOST)
    conn.send_end()
    conn.feed(response)
    with pytest.raises(RemoteProtocolError, match="too large") as caught:
        drain(conn)
    assert caught.value.status_code == 502
    ok = ClientConnection(Limits(max_body=5))
    ok.send_request(b"GET", b"/", HOST)
    ok.send_end()
    ok.feed(response)
    ok.feed_eof()
    assert merged(drain(ok))[1] == b"hello"
