"""Control messages between connector and edge: registration, GOAWAY, config snapshots.

Payload codecs only (no mux header), shared with the QUIC transport's control stream.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from .errors import ErrorCode, TunnelProtocolError, TunnelUsageError
from .metadata import truncate_reason
from .wire import Reader, Writer

REFUSAL_CODES = frozenset(
    {ErrorCode.UNAUTHORIZED, ErrorCode.UNSUPPORTED_VERSION, ErrorCode.TRY_AGAIN_LATER}
)
"""Codes an edge may refuse a registration with."""

REFUSAL_MESSAGES = {
    ErrorCode.UNAUTHORIZED: "tunnel credentials were not accepted",
    ErrorCode.UNSUPPORTED_VERSION: "connector protocol version is not supported by this edge",
    ErrorCode.TRY_AGAIN_LATER: "edge cannot take this connection now; retry later",
}
"""Fixed texts for refusals: the wire carries only the code, so no detail can leak (e.g.
whether the tunnel exists or only the secret was wrong)."""


@dataclass(frozen=True, slots=True)
class RegisterRequest:
    """What a connector presents to register one HA connection."""

    tunnel_id: uuid.UUID
    secret: bytes = field(repr=False)
    connector_id: uuid.UUID
    connection_index: int
    version: str
    features: tuple[str, ...] = ()
    extensions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RegisteredInfo:
    """The edge's acceptance of a connection."""

    connection_id: uuid.UUID
    edge_name: str
    features: tuple[str, ...] = ()
    extensions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RegisterRefusal:
    """The edge's refusal; ``message`` is the fixed text for ``code``."""

    code: ErrorCode
    retry_after: int = 0  # seconds; 0 = use the connector's own backoff

    @property
    def message(self) -> str:
        return REFUSAL_MESSAGES.get(self.code, "registration refused")


@dataclass(frozen=True, slots=True)
class GoAway:
    """No stream above ``last_stream_id`` exists or will exist on this connection."""

    last_stream_id: int
    code: ErrorCode = ErrorCode.NO_ERROR
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ConfigAck:
    """The connector's answer to a config snapshot."""

    version: int
    applied: bool
    reason: str = ""


def encode_register(req: RegisterRequest) -> bytes:
    w = Writer()
    w.uuid(req.tunnel_id)
    w.blob(req.secret)
    w.uuid(req.connector_id)
    w.u8(req.connection_index)
    w.text(req.version)
    w.texts(req.features)
    w.mapping(req.extensions)
    return bytes(w)


def decode_register(payload: bytes | memoryview) -> RegisterRequest:
    r = Reader(payload)
    return RegisterRequest(r.uuid(), r.blob(), r.uuid(), r.u8(), r.text(), r.texts(), r.mapping())


def encode_registered(info: RegisteredInfo) -> bytes:
    w = Writer()
    w.uuid(info.connection_id)
    w.text(info.edge_name)
    w.texts(info.features)
    w.mapping(info.extensions)
    return bytes(w)


def decode_registered(payload: bytes | memoryview) -> RegisteredInfo:
    r = Reader(payload)
    return RegisteredInfo(r.uuid(), r.text(), r.texts(), r.mapping())


def encode_refusal(refusal: RegisterRefusal) -> bytes:
    if refusal.code not in REFUSAL_CODES:
        raise TunnelUsageError(f"{refusal.code.name} is not a registration refusal code")
    w = Writer()
    w.u32(refusal.code)
    w.u32(refusal.retry_after)
    return bytes(w)


def decode_refusal(payload: bytes | memoryview) -> RegisterRefusal:
    r = Reader(payload)
    code = ErrorCode.from_wire(r.u32())
    if code not in REFUSAL_CODES:
        code = ErrorCode.UNAUTHORIZED
    return RegisterRefusal(code, r.u32())


def encode_goaway(goaway: GoAway) -> bytes:
    w = Writer()
    w.u32(goaway.last_stream_id)
    w.u32(goaway.code)
    w.blob(truncate_reason(goaway.reason))
    return bytes(w)


def decode_goaway(payload: bytes | memoryview) -> GoAway:
    r = Reader(payload)
    return GoAway(r.u32(), ErrorCode.from_wire(r.u32()), r.text())


def encode_config_ack(ack: ConfigAck) -> bytes:
    w = Writer()
    w.u64(ack.version)
    w.u8(1 if ack.applied else 0)
    w.blob(truncate_reason(ack.reason))
    return bytes(w)


def decode_config_ack(payload: bytes | memoryview) -> ConfigAck:
    r = Reader(payload)
    version = r.u64()
    applied = r.u8()
    if applied > 1:
        raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, "CONFIG_ACK applied flag not 0/1")
    return ConfigAck(version, applied == 1, r.text())
