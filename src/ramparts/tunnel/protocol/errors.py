"""Wire error codes and the error hierarchy of the tunnel protocol."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ErrorCode(IntEnum):
    """Error codes carried by RESET, GOAWAY, REGISTER_FAILED and failed stream opens (u32)."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    STREAM_CLOSED = 0x4
    FRAME_SIZE_ERROR = 0x5
    REFUSED_STREAM = 0x6  # not processed at all: safe to retry on another connection
    CANCEL = 0x7
    LIMIT_EXCEEDED = 0x8  # a named limit was exceeded (streams, config size, ...)
    # registration
    UNAUTHORIZED = 0x10  # tunnel id, secret or connector: deliberately not saying which
    UNSUPPORTED_VERSION = 0x11
    TRY_AGAIN_LATER = 0x12  # edge overloaded or draining; see retry_after
    # stream open failures reported by the connector
    ORIGIN_UNREACHABLE = 0x20
    ORIGIN_TIMEOUT = 0x21
    NO_INGRESS_RULE = 0x22
    DESTINATION_DENIED = 0x23  # dial target not allowed by the connector
    ACCESS_DENIED = 0x24  # Access JWT checked at the connector failed
    UNKNOWN = 0xFF  # a code this version does not know (forward compatibility)

    @classmethod
    def from_wire(cls, value: int) -> ErrorCode:
        """Map a received code to a member; codes from newer peers become UNKNOWN."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


class TunnelError(Exception):
    """Base of every error raised by the tunnel protocol package."""


class TunnelProtocolError(TunnelError):
    """The peer broke the protocol; ``code`` is the wire code sent in GOAWAY.

    ``events`` holds what ``receive_data`` decoded before the fault (the driver may still
    deliver them, e.g. a response that completed in the same read).
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.events: list[Any] = []


class TunnelUsageError(TunnelError):
    """The local application called the API in a way the protocol does not allow."""


class ConnectionClosed(TunnelUsageError):
    """The connection is closed, closing (GOAWAY) or not registered for this call."""


class StreamClosed(TunnelUsageError):
    """The stream is unknown, reset, or already half-closed in this direction."""

    def __init__(self, stream_id: int, message: str = "stream is closed") -> None:
        super().__init__(f"stream {stream_id}: {message}")
        self.stream_id = stream_id


class FlowControlBlocked(TunnelUsageError):
    """More bytes than ``max_send`` allows were offered; wait for WindowUpdated."""


class TooManyStreams(TunnelUsageError):
    """Opening a stream would exceed the peer's max_concurrent_streams."""


class StreamIdsExhausted(TunnelUsageError):
    """Every stream id of this connection is used; GOAWAY and let the connector redial."""
