"""TCP mux framing: frame types, flags and the fixed 10-byte header.

Every frame is ``type u8 | flags u8 | stream id u32 | length u32`` (big-endian) followed by
``length`` payload bytes. Payload codecs of the messages that the QUIC transport will reuse
live in ``metadata`` and ``control``; only this module knows the mux header.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from .limits import FRAME_HEADER_SIZE


class FrameType(IntEnum):
    """Frame types with their direction (E = edge, C = connector) and stream id use."""

    REGISTER = 0x01  # C->E, stream 0: mux version, settings, credentials
    REGISTERED = 0x02  # E->C, stream 0: settings, connection info
    REGISTER_FAILED = 0x03  # E->C, stream 0: code, retry-after (no free text)
    STREAM_OPEN = 0x10  # E->C, odd stream id: request metadata; FIN = no body
    STREAM_OPEN_ACK = 0x11  # C->E: response head, or an error with FLAG_ERROR
    DATA = 0x12  # both: flow-controlled bytes; FIN = half-close
    RESET = 0x13  # both: error code u32, stream is gone both ways
    WINDOW_UPDATE = 0x14  # both: increment u32; stream 0 = connection window
    PING = 0x20  # both, stream 0: 8 opaque bytes
    PONG = 0x21  # both, stream 0: the PING's 8 bytes
    GOAWAY = 0x22  # both, stream 0: last stream id, code, reason
    DATAGRAM = 0x30  # both: unreliable payload; stream id = flow id (not a stream)
    CONFIG_PUSH = 0x40  # E->C, stream 0: version u64 + fragment; FLAG_MORE = more fragments
    CONFIG_ACK = 0x41  # C->E, stream 0: version, applied, reason


FLAG_FIN = 0x01
"""DATA, STREAM_OPEN, STREAM_OPEN_ACK: the sender will send no more DATA on this stream."""
FLAG_ERROR = 0x02
"""STREAM_OPEN_ACK: the open failed; the payload is an error, the stream is gone."""
FLAG_MORE = 0x04
"""CONFIG_PUSH: further fragments of the same snapshot follow."""

HEADER = struct.Struct(">BBII")
assert HEADER.size == FRAME_HEADER_SIZE

U16 = struct.Struct(">H")
U32 = struct.Struct(">I")
U64 = struct.Struct(">Q")
RESET_PAYLOAD = U32  # error code
WINDOW_UPDATE_PAYLOAD = U32  # increment

EDGE_SENDS = frozenset(
    {
        FrameType.REGISTERED,
        FrameType.REGISTER_FAILED,
        FrameType.STREAM_OPEN,
        FrameType.CONFIG_PUSH,
    }
)
"""Frame types only the edge may send."""

CONNECTOR_SENDS = frozenset({FrameType.REGISTER, FrameType.STREAM_OPEN_ACK, FrameType.CONFIG_ACK})
"""Frame types only the connector may send."""

STREAM_FRAMES = frozenset(
    {
        FrameType.STREAM_OPEN,
        FrameType.STREAM_OPEN_ACK,
        FrameType.DATA,
        FrameType.RESET,
    }
)
"""Frame types that need a non-zero stream id."""

KNOWN_TYPES = frozenset(t.value for t in FrameType)


def frame_header(frame_type: int, flags: int, stream_id: int, length: int) -> bytes:
    """Pack one frame header."""
    return HEADER.pack(frame_type, flags, stream_id, length)


def encode_frame(frame_type: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One whole frame as bytes (tests and control frames; DATA avoids the copy)."""
    return HEADER.pack(frame_type, flags, stream_id, len(payload)) + payload
