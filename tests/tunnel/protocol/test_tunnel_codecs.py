"""Payload codecs (shared with the QUIC transport): round trips and hostile input."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.tunnel.protocol import (
    ConfigAck,
    DialMeta,
    ErrorCode,
    GoAway,
    HttpRequestMeta,
    RegisteredInfo,
    RegisterRefusal,
    RegisterRequest,
    ResponseMeta,
    StreamKind,
    TunnelProtocolError,
    TunnelUsageError,
    control,
    metadata,
)
from ramparts.tunnel.protocol.settings import Settings, decode_settings, encode_settings

texts = st.text(max_size=40)
headers = st.lists(st.tuples(st.binary(max_size=30), st.binary(max_size=60)), max_size=12).map(
    tuple
)
extensions = st.dictionaries(texts, texts, max_size=4)
http_meta = st.builds(
    HttpRequestMeta, texts, texts, texts, texts, headers, texts, texts, extensions
)
dial_meta = st.builds(
    DialMeta,
    st.sampled_from([StreamKind.TCP, StreamKind.UDP, StreamKind.IP_DIAL]),
    texts,
    st.integers(0, 65535),
    texts,
    texts,
    extensions,
)
response_meta = st.builds(ResponseMeta, st.integers(0, 65535), headers, extensions)
register = st.builds(
    RegisterRequest,
    st.uuids(),
    st.binary(max_size=64),
    st.uuids(),
    st.integers(0, 255),
    texts,
    st.lists(texts, max_size=5).map(tuple),
    extensions,
)
registered = st.builds(
    RegisteredInfo, st.uuids(), texts, st.lists(texts, max_size=5).map(tuple), extensions
)

DECODERS = [
    metadata.decode_stream_open,
    metadata.decode_response,
    metadata.decode_open_error,
    control.decode_register,
    control.decode_registered,
    control.decode_refusal,
    control.decode_goaway,
    control.decode_config_ack,
    decode_settings,
]


@given(st.one_of(http_meta, dial_meta))
def test_stream_open_round_trip(meta):
    assert metadata.decode_stream_open(metadata.encode_stream_open(meta)) == meta


@given(response_meta)
def test_response_round_trip(meta):
    assert metadata.decode_response(metadata.encode_response(meta)) == meta


@given(register)
def test_register_round_trip(req):
    assert control.decode_register(control.encode_register(req)) == req


@given(registered)
def test_registered_round_trip(info):
    assert control.decode_registered(control.encode_registered(info)) == info


@given(st.integers(0, 2**32 - 1), st.sampled_from(list(ErrorCode)), texts)
def test_goaway_round_trip(last, code, reason):
    goaway = GoAway(last, code, reason)
    assert control.decode_goaway(control.encode_goaway(goaway)) == goaway


@given(st.integers(0, 2**64 - 1), st.booleans(), texts)
def test_config_ack_round_trip(version, applied, reason):
    ack = ConfigAck(version, applied, reason)
    assert control.decode_config_ack(control.encode_config_ack(ack)) == ack


def test_refusal_and_settings_round_trip():
    refusal = RegisterRefusal(ErrorCode.TRY_AGAIN_LATER, 15)
    assert control.decode_refusal(control.encode_refusal(refusal)) == refusal
    assert decode_settings(encode_settings(Settings())) == Settings()


@pytest.mark.parametrize("decode", DECODERS)
@given(data=st.binary(max_size=200))
def test_decoders_return_or_raise_protocol_error(decode, data):
    with contextlib.suppress(TunnelProtocolError):
        decode(data)


@given(st.one_of(http_meta, dial_meta), st.data())
def test_truncated_stream_open_raises_protocol_error(meta, data):
    wire = metadata.encode_stream_open(meta)
    cut = data.draw(st.integers(0, len(wire) - 1))
    with pytest.raises(TunnelProtocolError):
        metadata.decode_stream_open(wire[:cut])


def test_unknown_error_codes_are_tolerated():
    code, reason = metadata.decode_open_error(b"\x00\x00\x12\x34\x00\x02ok")
    assert code is ErrorCode.UNKNOWN
    assert reason == "ok"


def test_invalid_utf8_is_a_protocol_error():
    wire = bytearray(metadata.encode_stream_open(DialMeta(StreamKind.TCP, "ab")))
    wire[3] = 0xFF
    with pytest.raises(TunnelProtocolError):
        metadata.decode_stream_open(bytes(wire))


def test_encoders_reject_out_of_range_fields():
    with pytest.raises(TunnelUsageError):
        metadata.encode_stream_open(DialMeta(StreamKind.TCP, "h", 70000))
    with pytest.raises(TunnelUsageError):
        metadata.encode_stream_open(DialMeta(StreamKind.HTTP, "h"))
    with pytest.raises(TunnelUsageError):
        metadata.encode_response(ResponseMeta(200, ((b"x" * 70000, b""),)))
    with pytest.raises(TunnelUsageError):
        metadata.encode_response(ResponseMeta(200, ((b"x", b"y" * 60000),) * 3))  # > head limit
    with pytest.raises(TunnelUsageError):
        control.encode_register(RegisterRequest(uuid.uuid4(), b"s", uuid.uuid4(), 256, "v"))
