"""Serialising heads and chunked bodies: bytes joins, no per-header objects.

Writers check one thing on the hot path: that no CR or LF hides in a header name, value,
target or reason (response splitting / request smuggling by injection); they count CR and LF
bytes in the joined fields, which costs two C-level scans.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus

from .errors import LocalProtocolError

HeaderPairs = Sequence[tuple[bytes, bytes]]

REASONS: dict[int, bytes] = {status.value: status.phrase.encode() for status in HTTPStatus}
"""Standard reason phrases (RFC 9110 §15); other codes are written with an empty one."""

_STATUS_LINES: dict[int, bytes] = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, reason) for code, reason in REASONS.items()
}


def _fields(headers: HeaderPairs) -> bytes:
    """Field lines joined by CRLF (no final CRLF); refuses CR or LF inside names or values."""
    fields = b"\r\n".join(map(b": ".join, headers))
    breaks = len(headers) - 1
    if fields.count(b"\n") != breaks or fields.count(b"\r") != breaks:
        raise LocalProtocolError("CR or LF in a header name or value")
    return fields


def write_request_head(
    method: bytes, target: bytes, headers: HeaderPairs, version: bytes = b"1.1"
) -> bytes:
    """``METHOD target HTTP/1.1`` CRLF, the fields, the empty line."""
    line = b" ".join((method, target, b"HTTP/" + version))
    if line.count(b" ") != 2 or b"\r" in line or b"\n" in line:
        raise LocalProtocolError("space, CR or LF in method or target")
    if not headers:
        return line + b"\r\n\r\n"
    return b"".join((line, b"\r\n", _fields(headers), b"\r\n\r\n"))


def write_response_head(status: int, headers: HeaderPairs, reason: bytes | None = None) -> bytes:
    """``HTTP/1.1 status reason`` CRLF, the fields, the empty line. ``reason`` defaults to
    the standard phrase."""
    line = _STATUS_LINES.get(status) if reason is None else None
    if line is None:
        if not 100 <= status <= 999:
            raise LocalProtocolError(f"invalid status code {status}")
        if reason is None:
            reason = b""
        elif b"\r" in reason or b"\n" in reason:
            raise LocalProtocolError("CR or LF in the reason phrase")
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason)
    if not headers:
        return line + b"\r\n"
    return b"".join((line, _fields(headers), b"\r\n\r\n"))


def encode_chunk(data: bytes | bytearray | memoryview) -> bytes:
    """One chunk: hex size CRLF, data, CRLF. Empty data encodes to nothing (an empty chunk
    would end the body)."""
    size = len(data)
    if not size:
        return b""
    return b"".join((b"%x\r\n" % size, data, b"\r\n"))


def last_chunk(trailers: HeaderPairs = ()) -> bytes:
    """The last chunk, the trailer section and the final CRLF."""
    if not trailers:
        return b"0\r\n\r\n"
    return b"".join((b"0\r\n", _fields(trailers), b"\r\n\r\n"))


def error_response(status: int, body: bytes = b"") -> bytes:
    """A complete response that ends the connection, for answering a RemoteProtocolError
    (``error_response(exc.status_code)``)."""
    headers = [(b"content-length", b"%d" % len(body)), (b"connection", b"close")]
    if body:
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    return write_response_head(status, headers) + body
