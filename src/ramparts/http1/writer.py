"""Serialising heads and chunked bodies: bytes joins, no per-header objects.

Writers check one thing on the hot path: that no CR or LF hides in a header name or value
(response splitting / request smuggling by injection); they count CR and LF bytes in the
result, which costs two C-level scans.
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
    return b"\r\n".join(map(b": ".join, headers))


def _checked(out: bytes, lines: int) -> bytes:
    if out.count(b"\n") != lines or out.count(b"\r") != lines:
        raise LocalProtocolError("CR or LF in a header name or value")
    return out


def write_request_head(
    method: bytes, target: bytes, headers: HeaderPairs, version: bytes = b"1.1"
) -> bytes:
    """``METHOD target HTTP/1.1`` CRLF, the fields, the empty line."""
    if b" " in method or b" " in target:
        raise LocalProtocolError("space in method or target")
    if headers:
        out = b"%s %s HTTP/%s\r\n%s\r\n\r\n" % (method, target, version, _fields(headers))
    else:
        out = b"%s %s HTTP/%s\r\n\r\n" % (method, target, version)
    return _checked(out, len(headers) + 2)


def write_response_head(status: int, headers: HeaderPairs, reason: bytes | None = None) -> bytes:
    """``HTTP/1.1 status reason`` CRLF, the fields, the empty line. ``reason`` defaults to
    the standard phrase."""
    if reason is None:
        line = _STATUS_LINES.get(status)
        if line is None:
            if not 100 <= status <= 999:
                raise LocalProtocolError(f"invalid status code {status}")
            line = b"HTTP/1.1 %d \r\n" % status
    else:
        if not 100 <= status <= 999:
            raise LocalProtocolError(f"invalid status code {status}")
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason)
    out = b"%s%s\r\n\r\n" % (line, _fields(headers)) if headers else line + b"\r\n"
    return _checked(out, len(headers) + 2)


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
    return _checked(b"0\r\n%s\r\n\r\n" % _fields(trailers), len(trailers) + 2)


def error_response(status: int, body: bytes = b"") -> bytes:
    """A complete response that ends the connection, for answering a RemoteProtocolError
    (``error_response(exc.status_code)``)."""
    headers = [(b"content-length", b"%d" % len(body)), (b"connection", b"close")]
    if body:
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
    return write_response_head(status, headers) + body
