"""Sans-IO edge<->connector tunnel protocol: registration, multiplexed streams, flow control.

``TunnelConnection`` is the state machine (one per side); ``metadata`` and ``control`` hold
the payload codecs that the QUIC transport reuses; ``frames`` is the TCP mux framing.
"""

from .connection import TunnelConnection
from .control import ConfigAck, GoAway, RegisteredInfo, RegisterRefusal, RegisterRequest
from .core import Role, State
from .errors import (
    ConnectionClosed,
    ErrorCode,
    FlowControlBlocked,
    StreamClosed,
    StreamIdsExhausted,
    TooManyStreams,
    TunnelError,
    TunnelProtocolError,
    TunnelUsageError,
)
from .events import (
    ConfigAcknowledged,
    ConfigPushed,
    ConnectionTerminated,
    DatagramReceived,
    DataReceived,
    Event,
    GoAwayReceived,
    PingReceived,
    PongReceived,
    Registered,
    RegisterReceived,
    RegistrationRefused,
    ResponseHead,
    StreamEnded,
    StreamOpened,
    StreamRejected,
    StreamReset,
    WindowUpdated,
)
from .metadata import DialMeta, HttpRequestMeta, ResponseMeta, StreamKind, StreamMeta
from .settings import Settings

__all__ = [
    "ConfigAck",
    "ConfigAcknowledged",
    "ConfigPushed",
    "ConnectionClosed",
    "ConnectionTerminated",
    "DataReceived",
    "DatagramReceived",
    "DialMeta",
    "ErrorCode",
    "Event",
    "FlowControlBlocked",
    "GoAway",
    "GoAwayReceived",
    "HttpRequestMeta",
    "PingReceived",
    "PongReceived",
    "RegisterReceived",
    "RegisterRefusal",
    "RegisterRequest",
    "Registered",
    "RegisteredInfo",
    "RegistrationRefused",
    "ResponseHead",
    "ResponseMeta",
    "Role",
    "Settings",
    "State",
    "StreamClosed",
    "StreamEnded",
    "StreamIdsExhausted",
    "StreamKind",
    "StreamMeta",
    "StreamOpened",
    "StreamRejected",
    "StreamReset",
    "TooManyStreams",
    "TunnelConnection",
    "TunnelError",
    "TunnelProtocolError",
    "TunnelUsageError",
    "WindowUpdated",
]
