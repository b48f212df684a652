"""Registration handshake: REGISTER -> REGISTERED / REGISTER_FAILED, and ordering rules."""

from __future__ import annotations

import struct
import uuid

import pytest

from ramparts.tunnel.protocol import (
    ConnectionClosed,
    ErrorCode,
    HttpRequestMeta,
    Registered,
    RegisteredInfo,
    RegisterReceived,
    RegistrationRefused,
    Role,
    Settings,
    TunnelConnection,
    TunnelProtocolError,
    TunnelUsageError,
)
from ramparts.tunnel.protocol.frames import FrameType, encode_frame
from ramparts.tunnel.protocol.limits import MIN_WINDOW


def test_registration_carries_request_and_settings(make_pair, register_request):
    pair = make_pair(register=False, connector_settings=Settings(stream_window=1 << 20))
    pair.connector.register(register_request())
    pair.pump()
    edge_events, _ = pair.take()
    [received] = edge_events
    assert isinstance(received, RegisterReceived)
    assert received.request == register_request()
    assert pair.edge.peer_settings == Settings(stream_window=1 << 20)
    assert not pair.edge.is_registered

    conn_id = uuid.uuid4()
    pair.edge.accept_registration(RegisteredInfo(conn_id, "edge-a", ("datagrams",), {"k": "v"}))
    pair.pump()
    _, conn_events = pair.take()
    assert conn_events == [
        Registered(RegisteredInfo(conn_id, "edge-a", ("datagrams",), {"k": "v"}))
    ]
    assert pair.edge.is_registered
    assert pair.connector.is_registered
    assert pair.connector.peer_settings == Settings()


def test_secret_is_not_in_repr(register_request):
    assert b"s3cret" not in repr(register_request()).encode()


@pytest.mark.parametrize(
    "code", [ErrorCode.UNAUTHORIZED, ErrorCode.TRY_AGAIN_LATER, ErrorCode.UNSUPPORTED_VERSION]
)
def test_refusal_carries_only_code_and_retry_after(make_pair, register_request, parse_frames, code):
    pair = make_pair(register=False)
    pair.connector.register(register_request())
    pair.pump()
    pair.edge.refuse_registration(code, retry_after=30)
    wire = pair.edge.data_to_send()
    [(ftype, _, _, payload)] = parse_frames(wire)
    assert ftype == FrameType.REGISTER_FAILED
    assert payload == struct.pack(">II", code, 30)  # nothing else can leak
    events = pair.connector.receive_data(wire)
    assert len(events) == 1
    assert isinstance(events[0], RegistrationRefused)
    assert events[0].code is code
    assert events[0].retry_after == 30
    assert events[0].message  # fixed text chosen by the receiver
    assert pair.edge.is_closed
    assert pair.connector.is_closed


def test_refusal_code_must_be_a_registration_code(make_pair, register_request):
    pair = make_pair(register=False)
    pair.connector.register(register_request())
    pair.pump()
    with pytest.raises(TunnelUsageError):
        pair.edge.refuse_registration(ErrorCode.INTERNAL_ERROR)


def test_unknown_refusal_code_reads_as_unauthorized(make_pair, register_request):
    pair = make_pair(register=False)
    pair.connector.register(register_request())
    pair.pump()
    frame = encode_frame(FrameType.REGISTER_FAILED, 0, 0, struct.pack(">II", 0x99, 0))
    [event] = pair.connector.receive_data(frame)
    assert isinstance(event, RegistrationRefused)
    assert event.code is ErrorCode.UNAUTHORIZED


def test_wrong_mux_version_is_refused(register_request, parse_frames):
    connector = TunnelConnection(Role.CONNECTOR)
    connector.register(register_request())
    wire = bytearray(connector.data_to_send())
    wire[10:12] = b"\x00\x63"  # mux version 99 (first payload field)
    edge = TunnelConnection(Role.EDGE)
    with pytest.raises(TunnelProtocolError) as info:
        edge.receive_data(bytes(wire))
    assert info.value.code is ErrorCode.UNSUPPORTED_VERSION
    [(ftype, _, _, payload)] = parse_frames(edge.data_to_send())
    assert ftype == FrameType.REGISTER_FAILED
    assert payload[:4] == struct.pack(">I", ErrorCode.UNSUPPORTED_VERSION)
    [event] = connector.receive_data(encode_frame(ftype, 0, 0, payload))
    assert isinstance(event, RegistrationRefused)
    assert event.code is ErrorCode.UNSUPPORTED_VERSION


def test_bad_settings_in_register_are_a_protocol_error(register_request):
    connector = TunnelConnection(Role.CONNECTOR)
    connector.register(register_request())
    wire = bytearray(connector.data_to_send())
    wire[12:16] = struct.pack(">I", MIN_WINDOW - 1)  # stream window too small
    edge = TunnelConnection(Role.EDGE)
    with pytest.raises(TunnelProtocolError) as info:
        edge.receive_data(bytes(wire))
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


def _goaway_code(parse_frames, wire):
    frames = parse_frames(wire)
    assert frames[-1][0] == FrameType.GOAWAY
    return struct.unpack_from(">I", frames[-1][3], 4)[0]


@pytest.mark.parametrize(
    "frame",
    [
        encode_frame(FrameType.PING, 0, 0, b"12345678"),
        encode_frame(FrameType.DATA, 0, 1, b"x"),
        encode_frame(FrameType.STREAM_OPEN_ACK, 0, 1, b"\x00\xc8\x00\x00\x00\x00"),
        encode_frame(FrameType.CONFIG_ACK, 0, 0, b""),
    ],
)
def test_edge_accepts_nothing_before_register(parse_frames, frame):
    edge = TunnelConnection(Role.EDGE)
    with pytest.raises(TunnelProtocolError) as info:
        edge.receive_data(frame)
    assert info.value.code is ErrorCode.PROTOCOL_ERROR
    assert _goaway_code(parse_frames, edge.data_to_send()) == ErrorCode.PROTOCOL_ERROR
    assert edge.is_closed
    assert edge.receive_data(frame) == []  # closed: ignored from now on


def test_edge_accepts_nothing_while_deciding(make_pair, register_request):
    pair = make_pair(register=False)
    pair.connector.register(register_request())
    pair.pump()
    with pytest.raises(TunnelProtocolError):
        pair.edge.receive_data(encode_frame(FrameType.PING, 0, 0, b"12345678"))


def test_connector_accepts_no_stream_before_registered(make_pair, register_request):
    pair = make_pair(register=False)
    pair.connector.register(register_request())
    stream_open = encode_frame(FrameType.STREAM_OPEN, 0, 1, b"\x02\x00\x01a\x00\x16" + bytes(6))
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(stream_open)
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


def test_second_register_is_a_protocol_error(pair, register_request):
    other = TunnelConnection(Role.CONNECTOR)
    other.register(register_request())
    with pytest.raises(TunnelProtocolError) as info:
        pair.edge.receive_data(other.data_to_send())
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


def test_edge_only_frame_from_connector_is_rejected(pair):
    with pytest.raises(TunnelProtocolError) as info:
        pair.edge.receive_data(encode_frame(FrameType.CONFIG_PUSH, 0, 0, bytes(8)))
    assert info.value.code is ErrorCode.PROTOCOL_ERROR
    assert "not sent to the edge" in str(info.value)


def test_connector_only_frame_from_edge_is_rejected(pair):
    with pytest.raises(TunnelProtocolError) as info:
        pair.connector.receive_data(encode_frame(FrameType.CONFIG_ACK, 0, 0, bytes(11)))
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


def test_api_refuses_calls_out_of_order(register_request):
    edge = TunnelConnection(Role.EDGE)
    connector = TunnelConnection(Role.CONNECTOR)
    meta = HttpRequestMeta("GET", "https", "h", "/")
    with pytest.raises(ConnectionClosed):
        edge.open_stream(meta)
    with pytest.raises(ConnectionClosed):
        edge.accept_registration(RegisteredInfo(uuid.uuid4(), "e"))
    with pytest.raises(TunnelUsageError):
        edge.register(register_request())  # only connectors register
    connector.register(register_request())
    with pytest.raises(ConnectionClosed):
        connector.register(register_request())
    with pytest.raises(ConnectionClosed):
        connector.ping(b"12345678")


def test_local_settings_are_bounded():
    with pytest.raises(TunnelUsageError):
        TunnelConnection(Role.EDGE, Settings(max_concurrent_streams=0))
    with pytest.raises(TunnelUsageError):
        TunnelConnection(Role.EDGE, max_data_frame=0)
