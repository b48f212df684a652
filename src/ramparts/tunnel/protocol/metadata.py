"""Stream metadata: what the edge asks a connector to open, and the connector's answer.

These payload codecs know nothing of the TCP mux header, so the QUIC transport can send the
same bytes at the start of each QUIC stream.

STREAM_OPEN payload: ``kind u8`` then, for ``http``: method, scheme, host, path, headers,
request id, client ip, extensions; for ``tcp``/``udp``/``ip_dial``: host, port u16, request
id, client ip, extensions. STREAM_OPEN_ACK payload: status u16, headers, extensions; or, with
FLAG_ERROR, code u32 and a reason text.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
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


_U16 = struct.Struct(">H")
_pack16 = _U16.pack
_unpack16 = _U16.unpack_from
_HTTP_KIND = bytes([StreamKind.HTTP])
_NO_EXTENSIONS = b"\x00\x00"  # a mapping of zero entries


def _put_text(parts: list[bytes], value: str) -> None:
    data = value.encode()
    if len(data) > 0xFFFF:
        raise TunnelUsageError("field longer than 65535 bytes")
    parts += (_pack16(len(data)), data)


def _put_headers(parts: list[bytes], headers: Headers) -> None:
    if len(headers) > 0xFFFF:
        raise TunnelUsageError(f"integer {len(headers)} out of range for its field")
    parts.append(_pack16(len(headers)))
    try:
        for name, value in headers:
            parts += (_pack16(len(name)), name, _pack16(len(value)), value)
    except struct.error:
        raise TunnelUsageError("header name or value longer than 65535 bytes") from None


def _put_mapping(parts: list[bytes], values: Mapping[str, str]) -> None:
    if not values:
        parts.append(_NO_EXTENSIONS)
        return
    if len(values) > 0xFFFF:
        raise TunnelUsageError(f"integer {len(values)} out of range for its field")
    parts.append(_pack16(len(values)))
    for key, value in values.items():
        _put_text(parts, key)
        _put_text(parts, value)


def encode_stream_open(meta: StreamMeta) -> bytes:
    """Payload of STREAM_OPEN."""
    if isinstance(meta, HttpRequestMeta):  # the per-request path: no Writer, one join
        parts = [_HTTP_KIND]
        for text in (meta.method, meta.scheme, meta.host, meta.path):
            _put_text(parts, text)
        _put_headers(parts, meta.headers)
        _put_text(parts, meta.request_id)
        _put_text(parts, meta.client_ip)
        _put_mapping(parts, meta.extensions)
        return _bounded(b"".join(parts))
    if meta.kind is StreamKind.HTTP:
        raise TunnelUsageError("an http stream needs HttpRequestMeta")
    w = Writer()
    w.u8(meta.kind)
    w.text(meta.host)
    w.u16(meta.port)
    w.text(meta.request_id)
    w.text(meta.client_ip)
    w.mapping(meta.extensions)
    return _bounded(bytes(w))


class _Truncated(Exception):
    pass


def _texts(buf: bytes, pos: int, count: int, out: list[str]) -> int:
    """Decode ``count`` u16-length UTF-8 texts from ``pos`` into ``out``; the new pos."""
    size = len(buf)
    for _ in range(count):
        if pos + 2 > size:
            raise _Truncated
        end = pos + 2 + _unpack16(buf, pos)[0]
        if end > size:
            raise _Truncated
        out.append(buf[pos + 2 : end].decode())
        pos = end
    return pos


def _headers(buf: bytes, pos: int) -> tuple[Headers, int]:
    size = len(buf)
    if pos + 2 > size:
        raise _Truncated
    count = _unpack16(buf, pos)[0]
    pos += 2
    if count > MAX_HEADER_COUNT:
        raise TunnelProtocolError(ErrorCode.LIMIT_EXCEEDED, "too many header lines")
    out = []
    for _ in range(count):
        if pos + 2 > size:
            raise _Truncated
        mid = pos + 2 + _unpack16(buf, pos)[0]
        if mid + 2 > size:
            raise _Truncated
        end = mid + 2 + _unpack16(buf, mid)[0]
        if end > size:
            raise _Truncated
        out.append((buf[pos + 2 : mid], buf[mid + 2 : end]))
        pos = end
    return tuple(out), pos


def _mapping(buf: bytes, pos: int) -> dict[str, str]:
    if pos + 2 > len(buf):
        raise _Truncated
    count = _unpack16(buf, pos)[0]
    if not count:
        return {}
    texts: list[str] = []
    _texts(buf, pos + 2, 2 * count, texts)
    return dict(zip(texts[::2], texts[1::2], strict=True))


def _decode_http_open(buf: bytes) -> HttpRequestMeta:
    try:
        texts: list[str] = []
        pos = _texts(buf, 1, 4, texts)
        headers, pos = _headers(buf, pos)
        pos = _texts(buf, pos, 2, texts)
        extensions = _mapping(buf, pos)
    except _Truncated:
        raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, "truncated payload") from None
    except UnicodeDecodeError:
        raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, "text is not UTF-8") from None
    method, scheme, host, path, request_id, client_ip = texts
    return HttpRequestMeta(method, scheme, host, path, headers, request_id, client_ip, extensions)


def decode_stream_open(payload: bytes | memoryview) -> StreamMeta:
    """Parse a STREAM_OPEN payload; raises TunnelProtocolError."""
    if payload and payload[0] == StreamKind.HTTP:
        return _decode_http_open(payload if type(payload) is bytes else bytes(payload))
    r = Reader(payload)
    kind = r.u8()
    if kind in (StreamKind.TCP, StreamKind.UDP, StreamKind.IP_DIAL):
        host = r.text()
        port = r.u16()
        return DialMeta(StreamKind(kind), host, port, r.text(), r.text(), r.mapping())
    raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, f"unknown stream kind {kind}")


def encode_response(meta: ResponseMeta) -> bytes:
    """Payload of a successful STREAM_OPEN_ACK."""
    try:
        parts = [_pack16(meta.status)]
    except struct.error:
        raise TunnelUsageError(f"integer {meta.status} out of range for its field") from None
    _put_headers(parts, meta.headers)
    _put_mapping(parts, meta.extensions)
    return _bounded(b"".join(parts))


def decode_response(payload: bytes | memoryview) -> ResponseMeta:
    """Parse a successful STREAM_OPEN_ACK payload; raises TunnelProtocolError."""
    buf = payload if type(payload) is bytes else bytes(payload)
    try:
        if len(buf) < 2:
            raise _Truncated
        headers, pos = _headers(buf, 2)
        extensions = _mapping(buf, pos)
    except _Truncated:
        raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, "truncated payload") from None
    except UnicodeDecodeError:
        raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, "text is not UTF-8") from None
    return ResponseMeta(_unpack16(buf, 0)[0], headers, extensions)


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
