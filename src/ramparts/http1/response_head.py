"""Response heads (RFC 9112 §4) and their body framing (RFC 9112 §6.3), for clients."""

from __future__ import annotations

from .errors import RemoteProtocolError
from .events import InformationalResponse, Response
from .fields import parse_fields
from .framing import (
    check_transfer_encoding,
    connection_options,
    parse_content_length,
    special_fields,
)
from .limits import Limits
from .syntax import STATUS_LINE_RE

BAD_GATEWAY = 502
"""Status carried by every response-side error: a gateway answers 502 for a bad origin."""


def parse_response_head(
    head: bytes, method: bytes, limits: Limits
) -> tuple[Response | InformationalResponse, bool]:
    """Parse a status-line and field lines (each ending in CRLF, no empty line) of the
    response to ``method``. Returns the event and whether the body is chunked."""
    eol = head.find(b"\r\n")
    match = STATUS_LINE_RE.fullmatch(head, 0, eol)
    if match is None:
        raise RemoteProtocolError(_status_line_fault(head[:eol]), BAD_GATEWAY)
    major, minor, code, reason = match.groups()
    if major != b"1":
        raise RemoteProtocolError("HTTP version not supported", BAD_GATEWAY)
    version = b"1.0" if minor == b"0" else b"1.1"
    status = int(code)
    if reason is None:
        reason = b""
    headers, raw = parse_fields(head, eol + 1, limits.max_fields, BAD_GATEWAY, BAD_GATEWAY)
    if status < 200 and status != 101:
        return InformationalResponse(status, reason, version, headers, raw), False

    length_field, coding, connection, _host, _expect, _upgrade, _hosts = special_fields(headers)
    options = connection_options(connection)
    keep_alive = b"close" not in options and (version == b"1.1" or b"keep-alive" in options)
    chunked = False
    length: int | None = 0
    if status in (101, 204, 304) or method == b"HEAD" or (method == b"CONNECT" and status < 300):
        pass  # no content whatever the fields say (RFC 9112 §6.3 rules 1-2)
    elif coding is not None:
        if length_field is not None:
            raise RemoteProtocolError("both Content-Length and Transfer-Encoding", BAD_GATEWAY)
        if version == b"1.0":
            raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 response", BAD_GATEWAY)
        check_transfer_encoding(coding, BAD_GATEWAY, BAD_GATEWAY)
        chunked = True
        length = None
    elif length_field is not None:
        length = parse_content_length(length_field, BAD_GATEWAY, BAD_GATEWAY)
    else:
        length = None  # delimited by the close of the connection (RFC 9112 §6.3 rule 8)
        keep_alive = False
    return Response(status, reason, version, headers, raw, keep_alive, length), chunked


def _status_line_fault(line: bytes) -> str:
    if b"\n" in line:
        return "bare LF in status line (CRLF required)"
    if b"\r" in line:
        return "bare CR in status line"
    if line[:5] != b"HTTP/":
        return "not an HTTP/1 status line"
    return "malformed status line"
