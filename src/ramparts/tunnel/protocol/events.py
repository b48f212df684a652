"""Events returned by ``TunnelConnection.receive_data``."""

from __future__ import annotations

from dataclasses import dataclass

from .control import RegisteredInfo, RegisterRequest
from .errors import ErrorCode
from .metadata import ResponseMeta, StreamMeta


@dataclass(slots=True)
class RegisterReceived:
    """Edge: a connector asks to register; answer with accept_ or refuse_registration."""

    request: RegisterRequest


@dataclass(slots=True)
class Registered:
    """Connector: the edge accepted the connection."""

    info: RegisteredInfo


@dataclass(slots=True)
class RegistrationRefused:
    """Connector: the edge refused; the connection is closed."""

    code: ErrorCode
    message: str
    retry_after: int


@dataclass(slots=True)
class StreamOpened:
    """Connector: the edge opened a stream; answer with respond() or reject_stream()."""

    stream_id: int
    meta: StreamMeta
    end_stream: bool


@dataclass(slots=True)
class ResponseHead:
    """Edge: the connector answered a stream open."""

    stream_id: int
    meta: ResponseMeta
    end_stream: bool


@dataclass(slots=True)
class StreamRejected:
    """Edge: the connector could not open the stream (the stream is gone)."""

    stream_id: int
    code: ErrorCode
    reason: str


@dataclass(slots=True)
class DataReceived:
    """Bytes of a stream; pass len(data) to acknowledge_received once consumed."""

    stream_id: int
    data: bytes


@dataclass(slots=True)
class StreamEnded:
    """The peer half-closed the stream: no more DataReceived for it."""

    stream_id: int


@dataclass(slots=True)
class StreamReset:
    """The stream is gone: reset by the peer (remote) or by this side on a stream error."""

    stream_id: int
    code: ErrorCode
    remote: bool = True


@dataclass(slots=True)
class WindowUpdated:
    """The peer returned send credit; stream_id 0 is the connection window."""

    stream_id: int
    delta: int


@dataclass(slots=True)
class PingReceived:
    """The peer pinged; the PONG is already queued."""

    payload: bytes


@dataclass(slots=True)
class PongReceived:
    """The answer to a ping() (the driver matches payloads to measure RTT)."""

    payload: bytes


@dataclass(slots=True)
class GoAwayReceived:
    """The peer opens/accepts no stream above last_stream_id; lower ones finish."""

    last_stream_id: int
    code: ErrorCode
    reason: str


@dataclass(slots=True)
class DatagramReceived:
    """An unreliable datagram of flow ``flow_id``."""

    flow_id: int
    payload: bytes


@dataclass(slots=True)
class ConfigPushed:
    """Connector: a config snapshot (JSON bytes); answer with ack_config()."""

    version: int
    snapshot: bytes


@dataclass(slots=True)
class ConfigAcknowledged:
    """Edge: the connector applied (or refused) a config snapshot."""

    version: int
    applied: bool
    reason: str


@dataclass(slots=True)
class ConnectionTerminated:
    """The peer closed the connection with an error GOAWAY; nothing more will happen."""

    code: ErrorCode
    reason: str


Event = (
    RegisterReceived
    | Registered
    | RegistrationRefused
    | StreamOpened
    | ResponseHead
    | StreamRejected
    | DataReceived
    | StreamEnded
    | StreamReset
    | WindowUpdated
    | PingReceived
    | PongReceived
    | GoAwayReceived
    | DatagramReceived
    | ConfigPushed
    | ConfigAcknowledged
    | ConnectionTerminated
)
