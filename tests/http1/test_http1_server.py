"""ServerConnection: keep-alive, pipelining, bodies, 100-continue, upgrades, CONNECT, limits."""

from __future__ import annotations

import pytest

from http1.http1_pump import drain, merged, server_events
from ramparts.http1 import (
    CONNECTION_CLOSED,
    NEED_DATA,
    PAUSED,
    Data,
    EndOfMessage,
    Limits,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    ServerConnection,
)

GET = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"


def post(body: bytes, extra: bytes = b"") -> bytes:
    return b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


def chunked(chunks: bytes) -> bytes:
    return b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks


def test_keep_alive_cycles() -> None:
    conn = ServerConnection()
    for _ in range(3):
        conn.feed(GET)
        events = drain(conn)
        assert [type(e).__name__ for e in events] == ["Request", "EndOfMessage"]
        head = conn.send_response(200, [(b"Content-Length", b"2")])
        assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
        assert conn.send_data(b"ok") == b"ok"
        assert conn.send_end() == b""
        assert not conn.must_close
    assert conn.next_event() is NEED_DATA


def test_pipelined_requests_in_one_read() -> None:
    data = (
        GET + post(b"hello") + chunked(b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 9\r\n\r\n")
    )
    events = server_events(data)
    assert [type(e).__name__ if not isinstance(e, bytes | tuple) else e for e in events] == [
        "Request",
        ("end", []),
        "Request",
        b"hello",
        ("end", []),
        "Request",
        b"hello world",
        ("end", [(b"x-sum", b"9")]),
    ]
    assert [e.target for e in events if isinstance(e, Request)] == [b"/", b"/p", b"/c"]


def test_responses_follow_request_order() -> None:
    conn = ServerConnection()
    conn.feed(GET + b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
    drain(conn)
    out = conn.send_response(200, [])  # no framing field: chunked is added for HTTP/1.1
    assert out == b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    assert conn.send_data(b"abc") == b"3\r\nabc\r\n"
    assert conn.send_data(b"") == b""
    assert conn.send_end([(b"X-T", b"1")]) == b"0\r\nX-T: 1\r\n\r\n"
    out = conn.send_response(200, [(b"content-length", b"10")])  # to HEAD: no body follows
    with pytest.raises(LocalProtocolError):
        conn.send_data(b"x")
    assert conn.send_end() == b""
    with pytest.raises(LocalProtocolError, match="no request"):
        conn.send_response(200, [])


def test_http10_client_gets_close_delimited_body() -> None:
    conn = ServerConnection()
    conn.feed(b"GET / HTTP/1.0\r\n\r\n")
    drain(conn)
    assert conn.send_response(100, []) == b""  # no 1xx to HTTP/1.0 clients
    head = conn.send_response(200, [(b"Content-Type", b"text/plain")])
    assert head == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nconnection: close\r\n\r\n"
    assert conn.send_data(b"raw") == b"raw"
    conn.send_end()
    assert conn.must_close


def test_http10_keep_alive_is_confirmed() -> None:
    conn = ServerConnection()
    conn.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    drain(conn)
    head = conn.send_response(204, [])
    assert head == b"HTTP/1.1 204 No Content\r\nconnection: keep-alive\r\n\r\n"
    conn.send_end()
    assert not conn.must_close


def test_connection_close_stops_parsing() -> None:
    conn = ServerConnection()
    conn.feed(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" + GET)
    events = drain(conn)
    assert len(events) == 2
    assert conn.next_event() is PAUSED  # the pipelined GET is never processed
    head = conn.send_response(200, [(b"content-length", b"0")])
    assert head.endswith(b"connection: close\r\n\r\n")
    conn.send_end()
    assert conn.must_close
    with pytest.raises(LocalProtocolError):
        conn.send_response(200, [])


def test_response_close_ends_the_connection() -> None:
    conn = ServerConnection()
    conn.feed(GET + GET)
    assert len(drain(conn)) == 4
    head = conn.send_response(200, [(b"Connection", b"close"), (b"content-length", b"0")])
    assert head.count(b"close") == 1
    conn.send_end()
    assert conn.must_close


def test_expect_100_continue() -> None:
    conn = ServerConnection()
    conn.feed(post(b"", b"Expect: 100-continue\r\n").replace(b"Length: 0", b"Length: 4"))
    request = conn.next_event()
    assert isinstance(request, Request) and request.expect_continue
    assert conn.next_event() is NEED_DATA
    assert conn.send_response(100, []) == b"HTTP/1.1 100 Continue\r\n\r\n"
    conn.feed(b"body")
    assert merged(drain(conn)) == [b"body", ("end", [])]
    head = conn.send_response(200, [(b"content-length", b"0")])
    assert b"close" not in head
    conn.send_end()
    assert not conn.must_close


def test_expect_refused_without_reading_body_closes() -> None:
    conn = ServerConnection()
    conn.feed(post(b"", b"Expect: 100-continue\r\n").replace(b"Length: 0", b"Length: 4"))
    conn.next_event()
    head = conn.send_response(413, [(b"content-length", b"0")])
    assert head.endswith(b"connection: close\r\n\r\n")  # the client may never send the body
    conn.send_end()
    assert conn.must_close


def test_upgrade_switches_and_hands_back_bytes() -> None:
    conn = ServerConnection()
    conn.feed(
        b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        b"\x81\x05hello"
    )
    request = conn.next_event()
    assert isinstance(request, Request) and request.upgrade == b"websocket"
    assert isinstance(conn.next_event(), EndOfMessage)
    assert conn.next_event() is PAUSED  # the bytes after it are not HTTP (yet)
    head = conn.send_response(101, [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade")])
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert conn.switched
    assert conn.take_trailing_data() == b"\x81\x05hello"
    with pytest.raises(LocalProtocolError):
        conn.next_event()
    with pytest.raises(LocalProtocolError):
        conn.feed(b"more")


def test_declined_upgrade_continues_http() -> None:
    conn = ServerConnection()
    conn.feed(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n" + GET)
    assert len(drain(conn)) == 2
    assert conn.next_event() is PAUSED
    conn.send_response(200, [(b"content-length", b"0")])
    conn.send_end()
    assert [type(e).__name__ for e in drain(conn)] == ["Request", "EndOfMessage"]


def test_101_needs_an_upgrade_request() -> None:
    conn = ServerConnection()
    conn.feed(GET)
    drain(conn)
    with pytest.raises(LocalProtocolError):
        conn.send_response(101, [])


def test_connect_tunnel() -> None:
    conn = ServerConnection()
    conn.feed(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01")
    request = conn.next_event()
    assert isinstance(request, Request) and request.method == b"CONNECT"
    # the driver may answer before pulling EndOfMessage
    assert conn.send_response(200, []) == b"HTTP/1.1 200 OK\r\n\r\n"
    assert conn.switched
    assert conn.take_trailing_data() == b"\x16\x03\x01"


def test_connect_refused_keeps_http() -> None:
    conn = ServerConnection()
    conn.feed(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" + GET)
    assert len(drain(conn)) == 2
    assert conn.next_event() is PAUSED
    head = conn.send_response(407, [(b"Proxy-Authenticate", b"Basic"), (b"content-length", b"0")])
    assert head.startswith(b"HTTP/1.1 407 ")
    conn.send_end()
    assert not conn.switched
    assert [type(e).__name__ for e in drain(conn)] == ["Request", "EndOfMessage"]


def test_end_of_input() -> None:
    assert server_events(GET, eof=True)[-1] is CONNECTION_CLOSED
    for partial in (b"GET / HTTP/1.1\r\nHo", post(b"hel")[:-1], chunked(b"5\r\nhel")):
        conn = ServerConnection()
        conn.feed(partial)
        drain(conn)
        conn.feed_eof()
        with pytest.raises(RemoteProtocolError) as caught:
            drain(conn)
        assert caught.value.status_code == 400
    conn = ServerConnection()
    conn.feed_eof()
    with pytest.raises(LocalProtocolError):
        conn.feed(b"x")


def test_empty_lines_before_a_request_are_ignored() -> None:
    events = server_events(b"\r\n\r\n" + GET + b"\r\n" + GET)
    assert sum(isinstance(e, Request) for e in events) == 2


def test_pipelining_limit_pauses() -> None:
    conn = ServerConnection(Limits(max_pipelined=2))
    conn.feed(GET * 3)
    assert len(drain(conn)) == 4
    assert conn.next_event() is PAUSED
    conn.send_response(204, [])
    conn.send_end()
    assert len(drain(conn)) == 2


def test_errors_are_sticky() -> None:
    conn = ServerConnection()
    conn.feed(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n")
    with pytest.raises(RemoteProtocolError) as first:
        conn.next_event()
    with pytest.raises(RemoteProtocolError) as again:
        conn.next_event()
    assert again.value is first.value


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare LF"),
        (b"GET /" + b"a" * 9000, 414, "start line too long"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 40000, 431, "head too large"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 40000 + b"\r\n\r\n", 431, "too large"),
        (chunked(b"x\r\n"), 400, "invalid chunk size"),
        (chunked(b"-1\r\n"), 400, "invalid chunk size"),
        (chunked(b"0x5\r\n"), 400, "invalid chunk size"),
        (chunked(b" 5\r\n"), 400, "invalid chunk size"),
        (chunked(b"5 \r\n"), 400, "invalid chunk size"),
        (chunked(b"5;\r\n"), 400, "invalid chunk size"),
        (chunked(b"5;a=\r\n"), 400, "invalid chunk size"),
        (chunked(b'5;a="b\r\n'), 400, "invalid chunk size"),
        (chunked(b"5\nhello"), 400, "bare LF"),
        (chunked(b"1" * 17 + b"\r\n"), 400, "chunk size too large"),
        (chunked(b"5;" + b"a" * 5000), 400, "chunk size line too long"),
        (chunked(b"5\r\nhelloX"), 400, "not followed by CRLF"),
        (chunked(b"5\r\nhello\rX"), 400, "not followed by CRLF"),
        (chunked(b"0\r\nX: 1\n\n"), 400, "bare LF"),
        (chunked(b"0\r\nBad Name: 1\r\n\r\n"), 400, "field name"),
    ],
)
def test_stream_refusals(data: bytes, status: int, words: str) -> None:
    conn = ServerConnection()
    conn.feed(data)
    with pytest.raises(RemoteProtocolError) as caught:
        drain(conn)
    assert caught.value.status_code == status
    assert words in caught.value.message


def test_chunk_extensions_and_quoted_strings_are_accepted() -> None:
    body = b'3 ; name = "v\\"x" ;flag\r\nabc\r\n0;last\r\n\r\n'
    assert server_events(chunked(body))[1:] == [b"abc", ("end", [])]


def test_chunked_body_limit() -> None:
    conn = ServerConnection(Limits(max_body=8))
    conn.feed(chunked(b"5\r\nhello\r\n4\r\nmore\r\n0\r\n\r\n"))
    with pytest.raises(RemoteProtocolError) as caught:
        drain(conn)
    assert caught.value.status_code == 413


def test_large_bodies_are_not_copied() -> None:
    conn = ServerConnection()
    conn.feed(post(b"").replace(b"Length: 0", b"Length: 200000"))
    assert isinstance(conn.next_event(), Request)
    piece = b"x" * 100000
    conn.feed(piece)
    event = conn.next_event()
    assert isinstance(event, Data) and event.data is piece  # the very object received
    conn.feed(piece + GET)
    event = conn.next_event()
    assert isinstance(event, Data) and isinstance(event.data, memoryview)
    assert event.data.obj is not None and len(event.data) == 100000
    assert isinstance(conn.next_event(), EndOfMessage)
    assert isinstance(conn.next_event(), Request)


def test_head_split_into_single_bytes() -> None:
    data = post(b"hello", b"X-A: b\r\n")
    conn = ServerConnection()
    events = []
    for i in range(len(data)):
        conn.feed(data[i : i + 1])
        events += drain(conn)
    assert merged(events)[1:] == [b"hello", ("end", [])]


def test_send_side_misuse() -> None:
    conn = ServerConnection()
    with pytest.raises(LocalProtocolError):
        conn.send_data(b"x")
    conn.feed(GET)
    drain(conn)
    conn.send_response(200, [(b"content-length", b"3")])
    with pytest.raises(LocalProtocolError, match="more body"):
        conn.send_data(b"toolong")
    conn.send_data(b"ab")
    with pytest.raises(LocalProtocolError, match="shorter"):
        conn.send_end()
    with pytest.raises(LocalProtocolError, match="trailers"):
        conn.send_end([(b"x", b"y")])
    with pytest.raises(LocalProtocolError, match="not finished"):
        conn.send_response(200, [])
    conn.send_data(b"c")
    conn.send_end()
    conn.feed(GET)
    drain(conn)
    with pytest.raises(LocalProtocolError, match="CR or LF"):
        conn.send_response(302, [(b"Location", b"/x\r\nSet-Cookie: evil=1")])
    with pytest.raises(LocalProtocolError, match="chunked"):
        conn.send_response(200, [(b"Transfer-Encoding", b"gzip")])


def test_repeated_fields_are_parsed_once_and_stay_independent() -> None:
    conn = ServerConnection()
    fields = b"Host: a\r\nX: 1\r\n"
    conn.feed(b"GET /1 HTTP/1.1\r\n" + fields + b"\r\nGET /2 HTTP/1.1\r\n" + fields + b"\r\n")
    first, _, second, _ = drain(conn)
    assert conn._memo is not None and conn._memo.block == fields  # remembered from the 2nd on
    assert isinstance(first, Request) and isinstance(second, Request)
    second.headers.append((b"y", b"2"))  # events are the caller's to change
    second.raw_headers.clear()
    conn.feed(b"GET /3 HTTP/1.1\r\n" + fields + b"\r\n")
    third = conn.next_event()
    assert isinstance(third, Request)
    assert third.headers == first.headers == [(b"host", b"a"), (b"x", b"1")]
    assert third.raw_headers == [(b"Host", b"a"), (b"X", b"1")]
    assert third.target == b"/3"


def test_no_chunked_to_http10_clients() -> None:
    conn = ServerConnection()
    conn.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    drain(conn)
    head = conn.send_response(200, [(b"Transfer-Encoding", b"chunked"), (b"X", b"y")])
    assert head == b"HTTP/1.1 200 OK\r\nX: y\r\nconnection: close\r\n\r\n"
    assert conn.send_data(b"abc") == b"abc"  # raw bytes, the close ends the body
    conn.send_end()
    assert conn.must_close
