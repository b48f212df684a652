"""PING/PONG, datagrams, config snapshots, GOAWAY and close."""

from __future__ import annotations

import json
import struct

import pytest

from ramparts.tunnel.protocol import (
    ConfigAcknowledged,
    ConfigPushed,
    ConnectionClosed,
    ConnectionTerminated,
    DatagramReceived,
    DataReceived,
    DialMeta,
    ErrorCode,
    GoAwayReceived,
    PingReceived,
    PongReceived,
    ResponseMeta,
    StreamEnded,
    StreamKind,
    StreamReset,
    TunnelProtocolError,
    TunnelUsageError,
)
from ramparts.tunnel.protocol.frames import FLAG_MORE, FrameType, encode_frame
from ramparts.tunnel.protocol.limits import MAX_CONFIG_SNAPSHOT, MAX_FRAME_PAYLOAD
from ramparts.tunnel.protocol.metadata import encode_stream_open


def test_ping_is_answered_with_the_same_payload(pair):
    pair.connector.ping(b"\x00\x00\x01\x02\x03\x04\x05\x06")
    pair.pump()
    edge, conn = pair.take()
    assert edge == [PingReceived(b"\x00\x00\x01\x02\x03\x04\x05\x06")]
    assert conn == [PongReceived(b"\x00\x00\x01\x02\x03\x04\x05\x06")]
    with pytest.raises(TunnelUsageError):
        pair.edge.ping(b"short")


def test_datagrams_both_ways(pair):
    pair.edge.send_datagram(7, b"\x45\x00 an ip packet")
    pair.connector.send_datagram(0, b"")
    pair.pump()
    edge, conn = pair.take()
    assert conn == [DatagramReceived(7, b"\x45\x00 an ip packet")]
    assert edge == [DatagramReceived(0, b"")]
    with pytest.raises(TunnelUsageError):
        pair.edge.send_datagram(1, bytes(65536))


def test_config_push_and_ack(pair):
    snapshot = json.dumps({"ingress": [{"service": "http_status:404"}]}).encode()
    pair.edge.push_config(3, snapshot)
    pair.pump()
    _, conn = pair.take()
    assert conn == [ConfigPushed(3, snapshot)]
    pair.connector.ack_config(3, applied=False, reason="rule 1: bad service")
    pair.pump()
    edge, _ = pair.take()
    assert edge == [ConfigAcknowledged(3, False, "rule 1: bad service")]
    with pytest.raises(TunnelUsageError):
        pair.connector.push_config(4, b"{}")
    with pytest.raises(TunnelUsageError):
        pair.edge.ack_config(3, True)


def test_large_config_is_fragmented_and_reassembled(pair, parse_frames):
    snapshot = bytes(range(256)) * (3 * MAX_FRAME_PAYLOAD // 256)
    pair.edge.push_config(2**40, snapshot)
    wire = pair.edge.data_to_send()
    frames = parse_frames(wire)
    assert len(frames) == 4
    assert [f[1] & FLAG_MORE for f in frames] == [FLAG_MORE] * 3 + [0]
    events = pair.connector.receive_data(wire)
    assert events == [ConfigPushed(2**40, snapshot)]


def test_empty_config_push(pair):
    pair.edge.push_config(1, b"")
    pair.pump()
    assert pair.take()[1] == [ConfigPushed(1, b"")]


def test_config_fragments_of_two_versions_are_an_error(pair):
    wire = encode_frame(FrameType.CONFIG_PUSH, FLAG_MORE, 0, struct.pack(">Q", 1) + b"{")
    wire += encode_frame(FrameType.CONFIG_PUSH, 0, 0, struct.pack(">Q", 2) + b"}")
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(wire)
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


def test_oversized_config_is_a_limit_error(pair):
    fragment = encode_frame(FrameType.CONFIG_PUSH, FLAG_MORE, 0, bytes(MAX_FRAME_PAYLOAD))
    fragments = MAX_CONFIG_SNAPSHOT // (MAX_FRAME_PAYLOAD - 8)
    for _ in range(fragments):
        assert pair.connector.receive_data(fragment) == []
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(fragment)
    assert info.value.code is ErrorCode.LIMIT_EXCEEDED
    with pytest.raises(TunnelUsageError):
        pair.edge.push_config(1, bytes(MAX_CONFIG_SNAPSHOT + 1))


def test_connector_goaway_drains_in_flight_streams(pair):
    first = pair.edge.open_stream(DialMeta(StreamKind.TCP, "a"))
    pair.pump()
    pair.take()
    second = pair.edge.open_stream(DialMeta(StreamKind.TCP, "b"))  # crosses the GOAWAY
    pair.connector.goaway("shutting down")
    pair.pump()
    edge, conn = pair.take()
    assert conn == []  # stream 3 arrived after the GOAWAY: ignored, never opened
    assert edge == [
        GoAwayReceived(first, ErrorCode.NO_ERROR, "shutting down"),
        StreamReset(second, ErrorCode.REFUSED_STREAM),  # safe to retry elsewhere
    ]
    assert pair.edge.is_draining
    assert not pair.edge.is_drained
    with pytest.raises(ConnectionClosed):
        pair.edge.open_stream(DialMeta(StreamKind.TCP, "c"))
    # the in-flight stream finishes normally
    pair.connector.respond(first, ResponseMeta())
    pair.connector.send_data(first, b"bye", end_stream=True)
    pair.edge.send_data(first, b"hi", end_stream=True)
    pair.pump()
    edge, conn = pair.take()
    assert edge[-2:] == [DataReceived(first, b"bye"), StreamEnded(first)]
    assert conn == [DataReceived(first, b"hi"), StreamEnded(first)]
    assert pair.edge.is_drained
    assert pair.connector.is_drained


def test_edge_goaway_forbids_streams_above_last(pair):
    sid = pair.edge.open_stream(DialMeta(StreamKind.TCP, "a"))
    pair.edge.goaway("edge restarting")
    pair.pump()
    _, conn = pair.take()
    assert conn[-1] == GoAwayReceived(sid, ErrorCode.NO_ERROR, "edge restarting")
    with pytest.raises(ConnectionClosed):
        pair.edge.open_stream(DialMeta(StreamKind.TCP, "b"))
    payload = encode_stream_open(DialMeta(StreamKind.TCP, "b"))
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(encode_frame(FrameType.STREAM_OPEN, 0, sid + 2, payload))
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


def test_goaway_may_not_raise_last_stream_id(pair):
    def goaway(last):
        return encode_frame(FrameType.GOAWAY, 0, 0, struct.pack(">IIH", last, 0, 0))

    pair.edge.receive_data(goaway(5))
    pair.edge.receive_data(goaway(3))
    with pytest.raises(TunnelProtocolError):
        pair.edge.receive_data(goaway(7))


def test_close_with_error_terminates_peer(pair):
    pair.edge.open_stream(DialMeta(StreamKind.TCP, "a"))
    pair.pump()
    pair.take()
    pair.connector.close(ErrorCode.INTERNAL_ERROR, "out of memory")
    assert pair.connector.is_closed
    assert pair.connector.open_stream_count == 0
    pair.pump()
    edge, _ = pair.take()
    assert edge == [
        GoAwayReceived(1, ErrorCode.INTERNAL_ERROR, "out of memory"),
        ConnectionTerminated(ErrorCode.INTERNAL_ERROR, "out of memory"),
    ]
    assert pair.edge.is_closed
    with pytest.raises(ConnectionClosed):
        pair.edge.send_data(1, b"x")
    assert pair.edge.receive_data(b"anything") == []


def test_goaway_reason_is_bounded(pair, parse_frames):
    pair.edge.goaway("é" * 5000)
    [(_, _, _, payload)] = parse_frames(pair.edge.data_to_send())
    assert len(payload) <= 4 + 4 + 2 + 1024
    events = pair.connector.receive_data(encode_frame(FrameType.GOAWAY, 0, 0, payload))
    assert events[0].reason == "é" * 512
