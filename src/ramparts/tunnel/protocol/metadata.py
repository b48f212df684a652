"""Stream metadata: what the edge asks a connector to open, and the connector's answer.

These payload codecs know nothing of the TCP mux header, so the QUIC transport can send the
same bytes at the start of each QUIC stream.

STREAM_OPEN payload: ``kind u8`` then, for ``http``: method, scheme, host, path, headers,
request id, client ip, extensions; for ``tcp``/``udp``/``ip_dial``: host, port u16, request
id, client ip, extensions. STREAM_OPEN_ACK payload: status u16, headers, extensions; or, with
FLAG_ERROR, code u32 and a reason text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from .errors import ErrorCode, TunnelProtocolError, TunnelUsageError
from .limits import MAX_HEAD_PAYLOAD, MAX_HEADER_COUNT, MAX_REASON_BYTES
from .wire import Headers, Reader, Writer


class StreamKind(IntEnum):
    """What a stream carries."""

    HTTP = 1  # one HTTP request/response (WebSocket upgrades included)
    TCP = 2  # a byte stream to the tcp:// or ssh:// service of a hostname's ingress rule
    UDP = 3  # one UDP flow: the stream is the session, payloads are DATAGRAMs (flow = stream id)
    IP_DIAL = 4  # a flow from a private-network route: dial host (an IP) and port


@dataclass(frozen=True, slots=True)
class HttpRequestMeta:
    """Request head of an ``http`` stream, as the edge received it from the client."""

    method: str
    scheme: str
    host: str
    path: str
    headers: Headers = ()
    request_id: str = ""
    client_ip: str = ""
    extensions: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> StreamKind:
        return StreamKind.HTTP


@dataclass(frozen=True, slots=True)
class DialMeta:
    """Target of a ``tcp``, ``udp`` or ``ip_dial`` stream.

    For ``tcp``/``udp`` the host is the public hostname whose ingress rule names the service
    (port 0: the rule's port); for ``ip_dial`` host is an IP address and port is required.
    """

    kind: StreamKind
    host: str
    port: int = 0
    request_id: str = ""
    client_ip: str = ""
    extensions: dict[str, str] = field(default_factory=dict)


StreamMeta = HttpRequestMeta | DialMeta


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    """The connector's answer to a stream open: HTTP status and headers (200 for a dial)."""

    status: int = 200
    headers: Headers = ()
    extensions: dict[str, str] = field(default_factory=dict)


def encode_stream_open(meta: StreamMeta) -> bytes:
    """Payload of STREAM_OPEN."""
    w = Writer()
    if isinstance(meta, HttpRequestMeta):
        w.u8(StreamKind.HTTP)
        w.text(meta.method)
        w.text(meta.scheme)
        w.text(meta.host)
        w.text(meta.path)
        w.headers(meta.headers)
    else:
        if meta.kind is StreamKind.HTTP:
            raise TunnelUsageError("an http stream needs HttpRequestMeta")
        w.u8(meta.kind)
        w.text(meta.host)
        w.u16(meta.port)
    w.text(meta.request_id)
    w.text(meta.client_ip)
    w.mapping(meta.extensions)
    return _bounded(bytes(w))


def decode_stream_open(payload: bytes | memoryview) -> StreamMeta:
    """Parse a STREAM_OPEN payload; raises TunnelProtocolError."""
    r = Reader(payload)
    kind = r.u8()
    if kind == StreamKind.HTTP:
        method, scheme, host, path = r.text(), r.text(), r.text(), r.text()
        headers = r.headers(MAX_HEADER_COUNT)
        return HttpRequestMeta(method, scheme, host, path, headers, r.text(), r.text(), r.mapping())
    if kind in (StreamKind.TCP, StreamKind.UDP, StreamKind.IP_DIAL):
        host = r.text()
        port = r.u16()
        return DialMeta(StreamKind(kind), host, port, r.text(), r.text(), r.mapping())
    raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, f"unknown stream kind {kind}")


def encode_response(meta: ResponseMeta) -> bytes:
    """Payload of a successful STREAM_OPEN_ACK."""
    w = Writer()
    w.u16(meta.status)
    w.headers(meta.headers)
    w.mapping(meta.extensions)
    return _bounded(bytes(w))


def decode_response(payload: bytes | memoryview) -> ResponseMeta:
    """Parse a successful STREAM_OPEN_ACK payload; raises TunnelProtocolError."""
    r = Reader(payload)
    status = r.u16()
    headers = r.headers(MAX_HEADER_COUNT)
    return ResponseMeta(status, headers, r.mapping())


def encode_open_error(code: ErrorCode, reason: str) -> bytes:
    """Payload of a STREAM_OPEN_ACK with FLAG_ERROR (reason truncated to MAX_REASON_BYTES)."""
    w = Writer()
    w.u32(code)
    w.blob(truncate_reason(reason))
    return bytes(w)


def decode_open_error(payload: bytes | memoryview) -> tuple[ErrorCode, str]:
    """Parse a failed STREAM_OPEN_ACK payload."""
    r = Reader(payload)
    return ErrorCode.from_wire(r.u32()), r.text()


def truncate_reason(reason: str) -> bytes:
    """UTF-8 of ``reason``, cut to MAX_REASON_BYTES on a character boundary."""
    data = reason.encode()
    if len(data) <= MAX_REASON_BYTES:
        return data
    return data[:MAX_REASON_BYTES].decode(errors="ignore").encode()


def _bounded(payload: bytes) -> bytes:
    if len(payload) > MAX_HEAD_PAYLOAD:
        raise TunnelUsageError(f"head of {len(payload)} bytes exceeds {MAX_HEAD_PAYLOAD}")
    return payload
