"""Property tests: any input yields events or RemoteProtocolError; read splits do not matter;
the fast field path agrees with the careful one; h11 reads valid messages as we do."""

from __future__ import annotations

import os
from typing import Any

import h11
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from http1.http1_pump import feed_in_pieces, merged
from ramparts.http1 import (
    CLIENT_LIMITS,
    CONNECTION_CLOSED,
    NEED_DATA,
    PAUSED,
    SERVER_LIMITS,
    ClientConnection,
    Limits,
    RemoteProtocolError,
    Request,
    ServerConnection,
    parse_request_head,
    parse_response_head,
    write_request_head,
)
from ramparts.http1.fields import parse_fields, parse_fields_careful
from ramparts.http1.memo import FieldMemo
from ramparts.http1.response_head import _status_line

FUZZ = settings(
    max_examples=int(os.environ.get("HTTP1_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SMALL = Limits(
    max_request_line=200, max_head=600, max_fields=12, max_chunk_line=40, max_pipelined=4
)

TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(alphabet=TCHARS, min_size=1, max_size=12).map(str.encode)
value_bytes = st.binary(max_size=30).map(
    lambda b: bytes(c for c in b if c == 9 or 0x20 <= c <= 0x7E or c >= 0x80).strip(b" \t")
)
targets = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~%!$&'()*+,;=:@/?", max_size=30
).map(lambda t: b"/" + t.encode())
field_lists = st.lists(st.tuples(tokens, value_bytes), max_size=10).map(
    lambda fields: [
        (n, v)
        for n, v in fields
        if n.lower()
        not in (
            b"host",
            b"content-length",
            b"transfer-encoding",
            b"connection",
            b"expect",
            b"upgrade",
        )
    ]
)

VALID = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
    b"GET http://e.com/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"CONNECT e.com:443 HTTP/1.1\r\nHost: e.com:443\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
]
RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nuntil close",
]
ALPHABET = b'\r\n \t:;,="\\0123456789abcdefxHTP/.-\x00\x7f\x80\xff'


def outcome(conn: Any, data: bytes, cuts: list[int], eof: bool) -> tuple[list[Any], int | None]:
    """Merged events, and the status of the error that ended them (None: no error)."""
    events: list[Any] = []

    def pull() -> None:
        while True:
            event = conn.next_event()
            if event is NEED_DATA or event is PAUSED:
                return
            events.append(event)
            if event is CONNECTION_CLOSED:
                return

    try:
        last = 0
        for cut in sorted(set(cuts)):
            if 0 < cut < len(data):
                conn.feed(data[last:cut])
                pull()
                last = cut
        conn.feed(data[last:])
        pull()
        if eof:
            conn.feed_eof()
            pull()
    except RemoteProtocolError as exc:
        return merged(events), exc.status_code
    return merged(events), None


def client_for(method: bytes) -> ClientConnection:
    conn = ClientConnection(Limits(max_head=600, max_fields=12, max_chunk_line=40))
    conn.send_request(method, b"/", [(b"Host", b"a")])
    conn.send_end()
    return conn


@FUZZ
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=5), st.booleans())
def test_server_arbitrary_bytes(data: bytes, cuts: list[int], eof: bool) -> None:
    outcome(ServerConnection(SMALL), data, cuts, eof)


@FUZZ
@given(
    st.sampled_from([b"GET", b"HEAD", b"CONNECT"]),
    st.binary(max_size=400),
    st.lists(st.integers(0, 400), max_size=5),
    st.booleans(),
)
def test_client_arbitrary_bytes(method: bytes, data: bytes, cuts: list[int], eof: bool) -> None:
    outcome(client_for(method), b"HTTP/1.1 " + data, cuts, eof)


mutations = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.sampled_from(["insert", "delete", "replace"]),
        st.integers(0, len(ALPHABET) - 1),
    ),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, edits: list[tuple[int, str, int]]) -> bytes:
    buf = bytearray(data)
    for where, how, which in edits:
        at = where % (len(buf) + 1)
        byte = ALPHABET[which : which + 1]
        if how == "insert":
            buf[at:at] = byte
        elif buf and at < len(buf):
            buf[at : at + 1] = b"" if how == "delete" else byte
    return bytes(buf)


@FUZZ
@given(
    st.lists(st.sampled_from(VALID), min_size=1, max_size=3),
    mutations,
    st.lists(st.integers(0, 400), max_size=4),
    st.booleans(),
)
def test_server_mutated_messages_and_splits(
    messages: list[bytes], edits: list[tuple[int, str, int]], cuts: list[int], eof: bool
) -> None:
    data = mutate(b"".join(messages), edits)
    whole = outcome(ServerConnection(SMALL), data, [], eof)
    split = outcome(ServerConnection(SMALL), data, cuts, eof)
    assert split[0] == whole[0]
    assert (split[1] is None) == (whole[1] is None)


@FUZZ
@given(
    st.sampled_from(RESPONSES),
    st.sampled_from([b"GET", b"HEAD"]),
    mutations,
    st.lists(st.integers(0, 200), max_size=4),
)
def test_client_mutated_messages_and_splits(
    response: bytes, method: bytes, edits: list[tuple[int, str, int]], cuts: list[int]
) -> None:
    data = mutate(response, edits)
    whole = outcome(client_for(method), data, [], True)
    split = outcome(client_for(method), data, cuts, True)
    assert split[0] == whole[0]
    assert (split[1] is None) == (whole[1] is None)


@FUZZ
@given(
    st.lists(st.sampled_from(VALID), min_size=1, max_size=4),
    st.lists(st.integers(0, 600), max_size=8),
)
def test_valid_streams_parse_identically_in_any_split(
    messages: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(messages)
    if b"CONNECT" in data:  # nothing after CONNECT is HTTP until it is answered
        data = data[: data.index(b"CONNECT")] or VALID[0]
    whole = merged(feed_in_pieces(ServerConnection(), data, [], True))
    assert merged(feed_in_pieces(ServerConnection(), data, cuts, True)) == whole
    assert sum(isinstance(e, Request) for e in whole) == data.count(b" HTTP/1.")


@FUZZ
@given(st.binary(max_size=120))
def test_fast_and_careful_field_paths_agree(block: bytes) -> None:
    block = block + b"\r\n" if not block.endswith(b"\r\n") else block
    try:
        fast = parse_fields(b"\n" + block, 0, 1000, 400, 431)[1]
    except RemoteProtocolError:
        fast = None
    try:
        careful = parse_fields_careful(block, 400)
    except RemoteProtocolError:
        careful = None
    assert fast == careful


@FUZZ
@given(st.lists(st.tuples(tokens, value_bytes), max_size=6))
def test_fast_and_careful_agree_on_valid_fields(fields: list[tuple[bytes, bytes]]) -> None:
    block = b"".join(b"%s:%s%s \r\n" % (n, b" " * (len(v) % 3), v) for n, v in fields)
    fast = parse_fields(b"\n" + block, 0, 1000, 400, 431)[1]
    assert fast == parse_fields_careful(block, 400) == fields


@FUZZ
@given(st.sampled_from([b"GET", b"POST", b"DELETE", b"PROPFIND"]), targets, field_lists)
def test_round_trip_and_h11_agree(
    method: bytes, target: bytes, fields: list[tuple[bytes, bytes]]
) -> None:
    headers = [(b"Host", b"example.com"), *fields]
    wire = write_request_head(method, target, headers)
    ours = parse_request_head(wire[:-2], SERVER_LIMITS)
    assert (ours.method, ours.target, ours.raw_headers) == (method, target, headers)
    theirs = h11.Connection(h11.SERVER)
    theirs.receive_data(wire)
    event = theirs.next_event()
    assert isinstance(event, h11.Request)
    assert (event.method, event.target) == (method, target)
    assert list(event.headers) == ours.headers


@FUZZ
@given(st.binary(max_size=20), st.sampled_from([b"GET", b"HEAD"]))
def test_status_line_fast_path_agrees_with_grammar(rest: bytes, method: bytes) -> None:
    line = b"HTTP/1.1 " + rest
    if b"\r\n" in line:
        return
    head = line + b"\r\n"
    try:
        event, _ = parse_response_head(head, method, CLIENT_LIMITS)
        fast: tuple[bytes, int, bytes] | None = (event.version, event.status, event.reason)
    except RemoteProtocolError:
        fast = None
    try:
        careful: tuple[bytes, int, bytes] | None = _status_line(head, len(line))
    except RemoteProtocolError:
        careful = None
    assert fast == careful


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([b"GET", b"HEAD", b"CONNECT"]))
def test_head_parsers_on_arbitrary_bytes(data: bytes, method: bytes) -> None:
    for head in (data, data + b"\r\n", b"GET / HTTP/1.1\r\n" + data, b"HTTP/1.1 200 OK\r\n" + data):
        statuses: list[int] = []
        try:
            request = parse_request_head(head, SMALL)
            assert request.version in (b"1.0", b"1.1")
        except RemoteProtocolError as exc:
            statuses.append(exc.status_code)
        try:
            response, _ = parse_response_head(head, method, CLIENT_LIMITS)
            assert 100 <= response.status <= 999
        except RemoteProtocolError as exc:
            statuses.append(exc.status_code)
        assert set(statuses) <= {400, 413, 414, 431, 501, 502, 505}


heads = st.lists(
    st.tuples(
        st.sampled_from([b"GET / HTTP/1.1", b"POST /x HTTP/1.0", b"PUT /y HTTP/1.1"]),
        st.sampled_from(
            [
                b"",
                b"Host: a\r\n",
                b"Host: a\r\nContent-Length: 3\r\n",
                b"Host: a\r\nX:  padded \r\n",
                b"Host: a\r\nConnection: close\r\n",
                b"Host: a\r\nTransfer-Encoding: chunked\r\n",
                b"Host: b\r\nHost: b\r\n",
                b"Host: a\r\nBad Name: 1\r\n",
            ]
        ),
    ),
    min_size=1,
    max_size=6,
)


@FUZZ
@given(heads)
def test_field_memo_changes_nothing(sequence: list[tuple[bytes, bytes]]) -> None:
    memo = FieldMemo()
    for line, fields in sequence:
        head = line + b"\r\n" + fields
        try:
            plain: Request | int = parse_request_head(head, SERVER_LIMITS)
        except RemoteProtocolError as exc:
            plain = exc.status_code
        try:
            remembered: Request | int = parse_request_head(head, SERVER_LIMITS, memo)
        except RemoteProtocolError as exc:
            remembered = exc.status_code
        assert remembered == plain
        if isinstance(remembered, Request):
            remembered.headers.append((b"mutated", b"1"))  # must not leak into the memo
            remembered.raw_headers.clear()
