"""Flow control: senders stop exactly at the peer's window and resume on WINDOW_UPDATE."""

from __future__ import annotations

import struct

import pytest

from ramparts.tunnel.protocol import (
    DataReceived,
    DialMeta,
    ErrorCode,
    FlowControlBlocked,
    ResponseMeta,
    Settings,
    StreamEnded,
    StreamKind,
    StreamReset,
    TunnelProtocolError,
    TunnelUsageError,
    WindowUpdated,
)
from ramparts.tunnel.protocol.frames import FLAG_FIN, FrameType, encode_frame
from ramparts.tunnel.protocol.limits import MAX_WINDOW

WINDOW = 64 * 1024
SMALL = Settings(stream_window=WINDOW, connection_window=4 * WINDOW)


def _open(pair, respond=True):
    sid = pair.edge.open_stream(DialMeta(StreamKind.TCP, "bulk"))
    pair.pump()
    if respond:
        pair.connector.respond(sid, ResponseMeta())
        pair.pump()
    pair.take()
    return sid


def _window_updates(parse_frames, wire):
    return [
        (sid, struct.unpack(">I", payload)[0])
        for ftype, _, sid, payload in parse_frames(wire)
        if ftype == FrameType.WINDOW_UPDATE
    ]


def test_sender_stalls_exactly_at_the_stream_window_and_resumes(make_pair, parse_frames):
    pair = make_pair(connector_settings=SMALL)
    sid = _open(pair)
    assert pair.edge.max_send(sid) == WINDOW
    pair.edge.send_data(sid, b"a" * (WINDOW - 1))
    assert pair.edge.max_send(sid) == 1
    with pytest.raises(FlowControlBlocked):
        pair.edge.send_data(sid, b"bb")
    pair.edge.send_data(sid, b"b")
    assert pair.edge.max_send(sid) == 0
    with pytest.raises(FlowControlBlocked):
        pair.edge.send_data(sid, b"c")
    events = pair.connector.receive_data(pair.edge.data_to_send())
    assert sum(len(e.data) for e in events if isinstance(e, DataReceived)) == WINDOW

    # consuming less than a quarter window returns no credit yet: the sender stays stalled
    pair.connector.acknowledge_received(sid, WINDOW // 4 - 1)
    assert pair.connector.data_to_send() == b""
    assert pair.edge.max_send(sid) == 0
    # the byte that completes the quarter sends WINDOW_UPDATEs for stream and connection
    pair.connector.acknowledge_received(sid, 1)
    wire = pair.connector.data_to_send()
    assert _window_updates(parse_frames, wire) == [(sid, WINDOW // 4)]  # conn: 1/4 of 256 KiB
    assert pair.edge.receive_data(wire) == [WindowUpdated(sid, WINDOW // 4)]
    assert pair.edge.max_send(sid) == WINDOW // 4


def test_connection_window_is_shared_by_streams(make_pair):
    pair = make_pair(connector_settings=SMALL)
    streams = [_open(pair) for _ in range(5)]
    for sid in streams[:4]:
        pair.edge.send_data(sid, bytes(pair.edge.max_send(sid)))
    assert pair.edge.max_send(streams[4]) == 0  # connection window (4 x WINDOW) spent
    events = pair.connector.receive_data(pair.edge.data_to_send())
    for event in events:
        pair.connector.acknowledge_received(event.stream_id, len(event.data))
    edge_events = pair.edge.receive_data(pair.connector.data_to_send())
    connection = [e.delta for e in edge_events if isinstance(e, WindowUpdated) and not e.stream_id]
    assert sum(connection) == 4 * WINDOW
    assert pair.edge.max_send(streams[4]) == WINDOW


def test_discarded_data_returns_connection_credit(make_pair):
    pair = make_pair(edge_settings=Settings(stream_window=WINDOW, connection_window=WINDOW))
    first = _open(pair)
    pair.connector.send_data(first, bytes(WINDOW))  # fills the edge's connection window
    pair.edge.receive_data(pair.connector.data_to_send())
    second = _open(pair)
    assert pair.connector.max_send(second) == 0
    pair.edge.reset_stream(first)  # never acknowledged: the reset gives the credit back
    pair.connector.receive_data(pair.edge.data_to_send())
    assert pair.connector.max_send(second) == WINDOW


def test_data_racing_a_reset_is_credited_back(make_pair):
    pair = make_pair(edge_settings=Settings(stream_window=WINDOW, connection_window=WINDOW))
    first = _open(pair)
    pair.edge.reset_stream(first)
    pair.connector.send_data(first, bytes(WINDOW))  # sent before the RESET arrived
    pair.pump()
    second = _open(pair)
    assert pair.connector.max_send(second) == WINDOW


def test_no_stream_credit_after_peer_fin(make_pair, parse_frames):
    pair = make_pair(connector_settings=SMALL)
    sid = _open(pair)
    pair.edge.send_data(sid, bytes(WINDOW), end_stream=True)
    events = pair.connector.receive_data(pair.edge.data_to_send())
    assert events[-1] == StreamEnded(sid)
    pair.connector.acknowledge_received(sid, WINDOW)
    assert _window_updates(parse_frames, pair.connector.data_to_send()) == [(0, WINDOW)]


def test_acknowledging_more_than_received_is_a_usage_error(make_pair):
    pair = make_pair()
    sid = _open(pair)
    pair.edge.send_data(sid, b"abc")
    pair.pump()
    with pytest.raises(TunnelUsageError):
        pair.connector.acknowledge_received(sid, 4)
    with pytest.raises(TunnelUsageError):
        pair.connector.acknowledge_received(sid, -1)


def test_split_data_frame_is_delivered_as_it_arrives(make_pair):
    pair = make_pair()
    sid = _open(pair)
    pair.edge.send_data(sid, bytes(range(256)) * 4, end_stream=True)
    wire = pair.edge.data_to_send()
    got = []
    for i in range(len(wire)):
        got += pair.connector.receive_data(wire[i : i + 1])
    data = [e for e in got if isinstance(e, DataReceived)]
    assert len(data) == 1024  # one event per byte read: no buffering of the frame
    assert b"".join(e.data for e in data) == bytes(range(256)) * 4
    assert got[-1] == StreamEnded(sid)


def test_peer_exceeding_the_stream_window_is_a_flow_control_error(make_pair, parse_frames):
    pair = make_pair(connector_settings=SMALL)
    sid = _open(pair)
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(encode_frame(FrameType.DATA, 0, sid, bytes(WINDOW + 1)))
    assert info.value.code is ErrorCode.FLOW_CONTROL_ERROR
    goaway = parse_frames(pair.connector.data_to_send())[-1]
    assert goaway[0] == FrameType.GOAWAY
    assert struct.unpack_from(">I", goaway[3], 4)[0] == ErrorCode.FLOW_CONTROL_ERROR


def test_peer_exceeding_the_connection_window_is_a_flow_control_error(make_pair):
    pair = make_pair(connector_settings=Settings(stream_window=WINDOW, connection_window=WINDOW))
    a, b = _open(pair), _open(pair)
    pair.connector.receive_data(encode_frame(FrameType.DATA, 0, a, bytes(WINDOW // 2)))
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(
            encode_frame(FrameType.DATA, FLAG_FIN, b, bytes(WINDOW // 2 + 1))
        )
    assert info.value.code is ErrorCode.FLOW_CONTROL_ERROR


def test_window_update_overflow_and_zero(make_pair):
    pair = make_pair()
    sid = _open(pair)
    too_much = struct.pack(">I", MAX_WINDOW)
    events = pair.edge.receive_data(encode_frame(FrameType.WINDOW_UPDATE, 0, sid, too_much))
    assert events == [StreamReset(sid, ErrorCode.FLOW_CONTROL_ERROR, remote=False)]
    sid = _open(pair)
    events = pair.edge.receive_data(encode_frame(FrameType.WINDOW_UPDATE, 0, sid, bytes(4)))
    assert events == [StreamReset(sid, ErrorCode.PROTOCOL_ERROR, remote=False)]
    assert pair.edge.is_registered
    with pytest.raises(TunnelProtocolError) as info:
        pair.edge.receive_data(encode_frame(FrameType.WINDOW_UPDATE, 0, 0, too_much))
    assert info.value.code is ErrorCode.FLOW_CONTROL_ERROR


def test_connection_window_update_of_zero_is_a_protocol_error(make_pair):
    pair = make_pair()
    with pytest.raises(TunnelProtocolError) as info:
        pair.edge.receive_data(encode_frame(FrameType.WINDOW_UPDATE, 0, 0, bytes(4)))
    assert info.value.code is ErrorCode.PROTOCOL_ERROR
