"""Streams: open, response head, data both ways, half-close, reset, reject, limits."""

from __future__ import annotations

import random
import struct

import pytest

from ramparts.tunnel.protocol import (
    DataReceived,
    DialMeta,
    ErrorCode,
    HttpRequestMeta,
    ResponseHead,
    ResponseMeta,
    Settings,
    StreamClosed,
    StreamEnded,
    StreamIdsExhausted,
    StreamKind,
    StreamOpened,
    StreamRejected,
    StreamReset,
    TooManyStreams,
    TunnelProtocolError,
    TunnelUsageError,
)
from ramparts.tunnel.protocol.frames import FLAG_FIN, FrameType, encode_frame
from ramparts.tunnel.protocol.metadata import encode_stream_open

REQUEST = HttpRequestMeta(
    "POST",
    "https",
    "app.example.com",
    "/upload?x=1",
    ((b"content-type", b"application/json"), (b"cookie", b"a=1"), (b"cookie", b"b=2")),
    "req-1",
    "203.0.113.9",
    {"trace": "on"},
)


def _data(events, stream_id):
    return b"".join(
        e.data for e in events if isinstance(e, DataReceived) and e.stream_id == stream_id
    )


def test_http_request_and_response_round_trip(pair):
    sid = pair.edge.open_stream(REQUEST)
    pair.edge.send_data(sid, b'{"a": 1}', end_stream=True)
    pair.pump()
    _, conn = pair.take()
    assert conn == [
        StreamOpened(sid, REQUEST, False),
        DataReceived(sid, b'{"a": 1}'),
        StreamEnded(sid),
    ]
    head = ResponseMeta(201, ((b"location", b"/items/7"),), {"origin": "10.0.0.5:8080"})
    pair.connector.respond(sid, head)
    pair.connector.send_data(sid, b"created")
    pair.connector.end_stream(sid)
    pair.pump()
    edge, _ = pair.take()
    assert edge == [ResponseHead(sid, head, False), DataReceived(sid, b"created"), StreamEnded(sid)]
    assert pair.edge.open_stream_count == pair.connector.open_stream_count == 0
    # the closed stream's 8 unacknowledged bytes can still be acknowledged, exactly
    with pytest.raises(TunnelUsageError):
        pair.connector.acknowledge_received(sid, 9)
    pair.connector.acknowledge_received(sid, 8)
    pair.connector.acknowledge_received(sid, 1)  # all returned: now unknown, ignored


@pytest.mark.parametrize("kind", [StreamKind.TCP, StreamKind.UDP, StreamKind.IP_DIAL])
def test_dial_streams_carry_destination(pair, kind):
    meta = DialMeta(kind, "10.1.2.3", 5432, "req-9", "198.51.100.1")
    sid = pair.edge.open_stream(meta)
    pair.pump()
    _, conn = pair.take()
    assert conn == [StreamOpened(sid, meta, False)]


def test_head_only_request_and_response(pair):
    sid = pair.edge.open_stream(HttpRequestMeta("GET", "https", "h", "/"), end_stream=True)
    pair.pump()
    _, conn = pair.take()
    assert [type(e) for e in conn] == [StreamOpened, StreamEnded]
    assert conn[0].end_stream
    pair.connector.respond(sid, ResponseMeta(204), end_stream=True)
    pair.pump()
    edge, _ = pair.take()
    assert [type(e) for e in edge] == [ResponseHead, StreamEnded]
    assert pair.edge.open_stream_count == pair.connector.open_stream_count == 0


def test_many_concurrent_streams_interleave(pair):
    rng = random.Random(7)
    bodies = {}
    for i in range(40):
        sid = pair.edge.open_stream(DialMeta(StreamKind.TCP, f"host{i}.example"))
        bodies[sid] = rng.randbytes(rng.randrange(0, 300_000))
    pair.pump()
    _, conn = pair.take()
    assert [e.stream_id for e in conn if isinstance(e, StreamOpened)] == list(bodies)
    for sid in bodies:
        pair.connector.respond(sid, ResponseMeta())
    offsets = dict.fromkeys(bodies, 0)
    received_conn: list = []
    received_edge: list = []
    while any(offsets[s] < len(bodies[s]) for s in bodies):
        for sid in rng.sample(list(bodies), len(bodies)):
            body, at = bodies[sid], offsets[sid]
            n = min(rng.randrange(1, 70_000), len(body) - at, pair.edge.max_send(sid))
            if at < len(body) and n > 0:
                pair.edge.send_data(sid, body[at : at + n], end_stream=at + n == len(body))
                offsets[sid] = at + n
                # echo back whatever the connector has, with the same chunking
            elif at == len(body) == 0 and pair.edge.max_send(sid):
                pair.edge.end_stream(sid)
        wire = pair.edge.data_to_send()
        # deliver in random read sizes, as sockets do
        pos = 0
        while pos < len(wire):
            step = rng.randrange(1, 100_000)
            for event in pair.connector.receive_data(wire[pos : pos + step]):
                received_conn.append(event)
                if isinstance(event, DataReceived):
                    pair.connector.acknowledge_received(event.stream_id, len(event.data))
                    pair.connector.send_data(event.stream_id, event.data[::-1])
            pos += step
        for event in pair.edge.receive_data(pair.connector.data_to_send()):
            received_edge.append(event)
            if isinstance(event, DataReceived):
                pair.edge.acknowledge_received(event.stream_id, len(event.data))
    pair.pump()
    edge, conn = pair.take()
    received_conn += conn
    received_edge += edge
    for sid, body in bodies.items():
        assert _data(received_conn, sid) == body
        assert sum(
            len(e.data) for e in received_edge if isinstance(e, DataReceived) and e.stream_id == sid
        ) == len(body)
        ends = [e for e in received_conn if isinstance(e, StreamEnded) and e.stream_id == sid]
        assert len(ends) == 1


def test_half_close_both_ways(pair):
    sid = pair.edge.open_stream(DialMeta(StreamKind.TCP, "ssh.example"))
    pair.pump()
    pair.connector.respond(sid, ResponseMeta())
    pair.edge.send_data(sid, b"request", end_stream=True)
    pair.pump()
    _, conn = pair.take()
    assert conn[-1] == StreamEnded(sid)
    with pytest.raises(StreamClosed):
        pair.edge.send_data(sid, b"more")
    assert pair.edge.max_send(sid) == 0
    # the other direction still flows after the edge's half-close
    pair.connector.send_data(sid, b"reply 1")
    pair.connector.send_data(sid, b"reply 2", end_stream=True)
    pair.pump()
    edge, _ = pair.take()
    assert edge == [DataReceived(sid, b"reply 1"), DataReceived(sid, b"reply 2"), StreamEnded(sid)]
    assert pair.edge.open_stream_count == 0


def test_connector_half_closes_first(pair):
    sid = pair.edge.open_stream(DialMeta(StreamKind.TCP, "ssh.example"))
    pair.pump()
    pair.connector.respond(sid, ResponseMeta(), end_stream=True)
    pair.pump()
    edge, _ = pair.take()
    assert edge[-1] == StreamEnded(sid)
    pair.edge.send_data(sid, b"still sending", end_stream=True)
    pair.pump()
    _, conn = pair.take()
    assert conn == [DataReceived(sid, b"still sending"), StreamEnded(sid)]


def test_reset_by_edge_discards_later_data_and_returns_credit(pair):
    sid = pair.edge.open_stream(DialMeta(StreamKind.TCP, "db"))
    pair.pump()
    pair.take()
    pair.connector.respond(sid, ResponseMeta())
    pair.connector.send_data(sid, b"x" * 1000)
    pair.edge.reset_stream(sid, ErrorCode.CANCEL)
    pair.pump()
    edge, conn = pair.take()
    assert conn == [StreamReset(sid, ErrorCode.CANCEL, remote=True)]
    assert edge == []  # data raced the reset and was discarded silently
    with pytest.raises(StreamClosed):
        pair.connector.send_data(sid, b"late")
    pair.edge.reset_stream(sid)  # already gone: no-op
    # the connection window is intact: a new stream can use all of it
    sid2 = pair.edge.open_stream(DialMeta(StreamKind.TCP, "db"))
    assert pair.edge.max_send(sid2) == Settings().stream_window


def test_reset_by_connector(pair):
    sid = pair.edge.open_stream(DialMeta(StreamKind.TCP, "db"))
    pair.edge.send_data(sid, b"hello")
    pair.pump()
    pair.take()
    pair.connector.reset_stream(sid, ErrorCode.INTERNAL_ERROR)
    pair.pump()
    edge, _ = pair.take()
    assert edge == [StreamReset(sid, ErrorCode.INTERNAL_ERROR, remote=True)]
    assert pair.edge.open_stream_count == 0
    assert pair.connector.open_stream_count == 0
    with pytest.raises(StreamClosed):
        pair.edge.send_data(sid, b"x")


def test_reject_stream_reports_code_and_reason(pair):
    sid = pair.edge.open_stream(REQUEST)
    pair.edge.send_data(sid, b"body that will be dropped")
    pair.pump()
    pair.take()
    pair.connector.reject_stream(
        sid, ErrorCode.ORIGIN_UNREACHABLE, "dial tcp 127.0.0.1:8000: refused"
    )
    pair.pump()
    edge, _ = pair.take()
    assert edge == [
        StreamRejected(sid, ErrorCode.ORIGIN_UNREACHABLE, "dial tcp 127.0.0.1:8000: refused")
    ]
    assert pair.edge.open_stream_count == 0
    assert pair.connector.open_stream_count == 0
    with pytest.raises(StreamClosed):
        pair.connector.respond(sid, ResponseMeta())


def test_connector_must_respond_before_data(pair):
    sid = pair.edge.open_stream(REQUEST)
    pair.pump()
    assert pair.connector.max_send(sid) == 0
    with pytest.raises(TunnelUsageError):
        pair.connector.send_data(sid, b"early")
    pair.connector.respond(sid, ResponseMeta())
    with pytest.raises(TunnelUsageError):
        pair.connector.respond(sid, ResponseMeta())


def test_edge_resets_a_stream_whose_data_comes_before_the_head(pair, parse_frames):
    sid = pair.edge.open_stream(REQUEST)
    pair.edge.data_to_send()
    events = pair.edge.receive_data(encode_frame(FrameType.DATA, 0, sid, b"early"))
    assert events == [StreamReset(sid, ErrorCode.PROTOCOL_ERROR, remote=False)]
    [(ftype, _, rsid, payload)] = parse_frames(pair.edge.data_to_send())
    assert (ftype, rsid, payload) == (
        FrameType.RESET,
        sid,
        struct.pack(">I", ErrorCode.PROTOCOL_ERROR),
    )
    assert pair.edge.is_registered  # stream error only


def test_data_after_fin_resets_only_the_stream(pair, parse_frames):
    sid = pair.edge.open_stream(DialMeta(StreamKind.TCP, "db"), end_stream=False)
    pair.edge.send_data(sid, b"a", end_stream=True)
    pair.pump()
    pair.take()
    events = pair.connector.receive_data(encode_frame(FrameType.DATA, 0, sid, b"b"))
    assert events == [StreamReset(sid, ErrorCode.STREAM_CLOSED, remote=False)]
    frames = parse_frames(pair.connector.data_to_send())
    assert (FrameType.RESET, 0, sid, struct.pack(">I", ErrorCode.STREAM_CLOSED)) in frames
    assert pair.connector.is_registered


def test_too_many_streams_locally(make_pair):
    pair = make_pair(connector_settings=Settings(max_concurrent_streams=3))
    for _ in range(3):
        pair.edge.open_stream(DialMeta(StreamKind.TCP, "db"))
    with pytest.raises(TooManyStreams):
        pair.edge.open_stream(DialMeta(StreamKind.TCP, "db"))
    pair.pump()
    pair.connector.reset_stream(1)
    pair.pump()
    assert pair.edge.open_stream(DialMeta(StreamKind.TCP, "db")) == 7


def test_too_many_streams_on_the_wire_is_refused(make_pair, parse_frames):
    pair = make_pair(connector_settings=Settings(max_concurrent_streams=2))
    payload = encode_stream_open(DialMeta(StreamKind.TCP, "db"))
    wire = b"".join(encode_frame(FrameType.STREAM_OPEN, 0, sid, payload) for sid in (1, 3, 5))
    events = pair.connector.receive_data(wire + encode_frame(FrameType.DATA, FLAG_FIN, 5, b"zz"))
    assert [e.stream_id for e in events if isinstance(e, StreamOpened)] == [1, 3]
    frames = parse_frames(pair.connector.data_to_send())
    assert frames == [(FrameType.RESET, 0, 5, struct.pack(">I", ErrorCode.REFUSED_STREAM))]
    assert pair.connector.is_registered


def test_malformed_stream_open_resets_that_stream(pair, parse_frames):
    events = pair.connector.receive_data(encode_frame(FrameType.STREAM_OPEN, 0, 1, b"\x09junk"))
    assert events == []
    frames = parse_frames(pair.connector.data_to_send())
    assert frames == [(FrameType.RESET, 0, 1, struct.pack(">I", ErrorCode.PROTOCOL_ERROR))]
    assert pair.connector.is_registered


@pytest.mark.parametrize(
    "frame",
    [
        encode_frame(FrameType.DATA, 0, 9, b"x"),
        encode_frame(FrameType.DATA, FLAG_FIN, 9, b""),
        encode_frame(FrameType.RESET, 0, 9, bytes(4)),
        encode_frame(FrameType.WINDOW_UPDATE, 0, 9, b"\x00\x00\x00\x01"),
    ],
)
def test_frame_for_never_opened_stream_is_a_connection_error(pair, parse_frames, frame):
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(frame)
    assert info.value.code is ErrorCode.PROTOCOL_ERROR
    assert parse_frames(pair.connector.data_to_send())[-1][0] == FrameType.GOAWAY
    assert pair.connector.is_closed


def test_ack_for_never_opened_stream_is_a_connection_error(pair):
    with pytest.raises(TunnelProtocolError) as info:
        pair.edge.receive_data(
            encode_frame(FrameType.STREAM_OPEN_ACK, 0, 3, b"\x00\xc8" + bytes(4))
        )
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


@pytest.mark.parametrize("sid", [2, 1])  # even id; then a reused id
def test_stream_ids_must_be_odd_and_increasing(pair, sid):
    payload = encode_stream_open(DialMeta(StreamKind.TCP, "db"))
    pair.connector.receive_data(encode_frame(FrameType.STREAM_OPEN, 0, 1, payload))
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(encode_frame(FrameType.STREAM_OPEN, 0, sid, payload))
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


def test_stream_frames_need_a_stream_id(pair):
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(encode_frame(FrameType.RESET, 0, 0, bytes(4)))
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


def test_oversized_frame_is_a_frame_size_error(pair):
    header = struct.pack(">BBII", FrameType.DATA, 0, 1, (1 << 20) + 1)
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(header)  # rejected on the header alone
    assert info.value.code is ErrorCode.FRAME_SIZE_ERROR


@pytest.mark.parametrize(
    ("ftype", "length"),
    [
        (FrameType.PING, 7),
        (FrameType.RESET, 5),
        (FrameType.STREAM_OPEN, 200_000),
        (FrameType.DATAGRAM, 70_000),
    ],
)
def test_wrong_control_frame_sizes(pair, ftype, length):
    header = struct.pack(">BBII", ftype, 0, 1 if ftype != FrameType.PING else 0, length)
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(header)
    assert info.value.code is ErrorCode.FRAME_SIZE_ERROR


def test_unknown_frame_type(pair):
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(encode_frame(0x7F, 0, 0, b""))
    assert info.value.code is ErrorCode.PROTOCOL_ERROR
    assert "unknown frame type" in info.value.message


def test_large_writes_are_split_into_frames(make_pair, parse_frames):
    pair = make_pair()
    sid = pair.edge.open_stream(DialMeta(StreamKind.TCP, "db"))
    pair.pump()
    pair.edge.send_data(sid, bytes(200_000), end_stream=True)
    frames = parse_frames(pair.edge.data_to_send())
    assert [len(f[3]) for f in frames] == [65536, 65536, 65536, 200_000 - 3 * 65536]
    assert [f[1] & FLAG_FIN for f in frames] == [0, 0, 0, FLAG_FIN]


def test_stream_ids_run_out_with_a_clear_error(pair):
    pair.edge._highest = 0xFFFF_FFFF  # white-box: 2**31 streams later
    with pytest.raises(StreamIdsExhausted):
        pair.edge.open_stream(DialMeta(StreamKind.TCP, "db"))
