"""API fuzzing: any sequence of calls raises only the package's errors, and a client and a
server pumped together agree on every message, whatever the read splits."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.http1 import (
    NEED_DATA,
    PAUSED,
    ClientConnection,
    Data,
    EndOfMessage,
    HttpError,
    InformationalResponse,
    Request,
    Response,
    ServerConnection,
)

FUZZ = settings(
    max_examples=int(os.environ.get("HTTP1_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

HEADER_SETS = [
    [],
    [(b"Host", b"a")],
    [(b"Host", b"a"), (b"Content-Length", b"3")],
    [(b"Host", b"a"), (b"Transfer-Encoding", b"chunked")],
    [(b"Host", b"a"), (b"Connection", b"close")],
    [(b"Host", b"a"), (b"Upgrade", b"websocket"), (b"Connection", b"upgrade")],
    [(b"Host", b"a"), (b"Expect", b"100-continue"), (b"Content-Length", b"2")],
    [(b"Content-Length", b"x")],
    [(b"X", b"a\r\nY: b")],
]
WIRE = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
    b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
    b"garbage\r\n\r\n",
    b"",
]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("feed"), st.sampled_from(WIRE)),
        st.tuples(st.just("eof"), st.none()),
        st.tuples(st.just("next"), st.integers(1, 4)),
        st.tuples(
            st.just("request"),
            st.tuples(
                st.sampled_from([b"GET", b"HEAD", b"CONNECT", b"POST"]),
                st.sampled_from(HEADER_SETS),
            ),
        ),
        st.tuples(
            st.just("respond"),
            st.tuples(
                st.sampled_from([100, 101, 200, 204, 304, 404, 500]), st.sampled_from(HEADER_SETS)
            ),
        ),
        st.tuples(st.just("data"), st.sampled_from([b"", b"a", b"abc", b"x" * 10])),
        st.tuples(st.just("end"), st.sampled_from([(), ((b"T", b"1"),)])),
        st.tuples(st.just("trailing"), st.none()),
    ),
    max_size=25,
)


def apply(conn: ServerConnection | ClientConnection, ops: list[tuple[str, Any]]) -> None:
    for op, arg in ops:
        try:
            if op == "feed":
                conn.feed(arg)
            elif op == "eof":
                conn.feed_eof()
            elif op == "next":
                for _ in range(arg):
                    if conn.next_event() in (NEED_DATA, PAUSED):
                        break
            elif op == "request" and isinstance(conn, ClientConnection):
                conn.send_request(arg[0], b"/", arg[1])
            elif op == "respond" and isinstance(conn, ServerConnection):
                conn.send_response(arg[0], arg[1])
            elif op == "data":
                conn.send_data(arg)
            elif op == "end":
                conn.send_end(list(arg))
            elif op == "trailing":
                conn.take_trailing_data()
        except HttpError:
            pass
        _ = (conn.switched, conn.must_close)
        if isinstance(conn, ClientConnection):
            _ = conn.reusable


@FUZZ
@given(operations)
def test_server_api_raises_only_its_errors(ops: list[tuple[str, Any]]) -> None:
    apply(ServerConnection(), ops)


@FUZZ
@given(operations)
def test_client_api_raises_only_its_errors(ops: list[tuple[str, Any]]) -> None:
    apply(ClientConnection(), ops)


exchanges = st.lists(
    st.tuples(
        st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT"]),
        st.sampled_from([None, 0, 5]),  # request body: chunked (None) or Content-Length
        st.sampled_from([200, 204, 404]),
        st.sampled_from([None, 3, 0]),  # response body framing
        st.binary(min_size=1, max_size=40),
    ),
    min_size=1,
    max_size=4,
)


def pump(source: bytes, sink: ServerConnection | ClientConnection, cuts: list[int]) -> list[Any]:
    events: list[Any] = []
    last = 0
    for cut in [*sorted({c % (len(source) + 1) for c in cuts}), len(source)]:
        sink.feed(source[last:cut])
        last = cut
        while True:
            event = sink.next_event()
            if event is NEED_DATA or event is PAUSED:
                break
            events.append(event)
    return events


def split_bodies(events: list[Any]) -> list[bytes]:
    """The body of each message, in order."""
    bodies: list[bytes] = []
    current = b""
    for event in events:
        if isinstance(event, Data):
            current += bytes(event.data)
        elif isinstance(event, EndOfMessage):
            bodies.append(current)
            current = b""
    return bodies


@FUZZ
@given(exchanges, st.lists(st.integers(0, 10_000), max_size=6))
def test_client_and_server_agree(plan: list[tuple[Any, ...]], cuts: list[int]) -> None:
    client, server = ClientConnection(), ServerConnection()
    wire = b""
    for method, req_len, _, _, body in plan:  # pipelined requests
        headers = [(b"Host", b"origin"), (b"X-Body", b"%d" % len(body))]
        if method in (b"POST", b"PUT"):
            headers.append(
                (b"Transfer-Encoding", b"chunked")
                if req_len is None
                else (b"Content-Length", b"%d" % len(body))
            )
        wire += client.send_request(method, b"/p", headers)
        if method in (b"POST", b"PUT"):
            wire += bytes(client.send_data(body[:3])) + bytes(client.send_data(body[3:]))
        wire += client.send_end()
    received = pump(wire, server, cuts)
    requests = [e for e in received if isinstance(e, Request)]
    assert [r.method for r in requests] == [p[0] for p in plan]
    assert split_bodies(received) == [
        body if method in (b"POST", b"PUT") else b"" for method, _, _, _, body in plan
    ]
    answer = b""
    for method, _, status, resp_len, body in plan:
        headers = [(b"Server", b"t")]
        if resp_len is not None and status != 204:
            headers.append((b"Content-Length", b"%d" % len(body)))
        answer += server.send_response(status, headers)
        if status != 204 and method != b"HEAD":
            answer += bytes(server.send_data(body))
        answer += server.send_end()
    replies = pump(answer, client, cuts)
    responses = [e for e in replies if isinstance(e, Response)]
    assert [r.status for r in responses] == [p[2] for p in plan]
    assert not any(isinstance(e, InformationalResponse) for e in replies)
    assert sum(isinstance(e, EndOfMessage) for e in replies) == len(plan)
    per_message = split_bodies(replies)
    expected = [
        b"" if status == 204 or method == b"HEAD" else body for method, _, status, _, body in plan
    ]
    assert per_message == expected
    assert client.reusable and not server.must_close
