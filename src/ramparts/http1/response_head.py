"""Response heads (RFC 9112 §4) and their body framing (RFC 9112 §6.3), for clients."""

from __future__ import annotations

from .errors import RemoteProtocolError
from .events import InformationalResponse, Response
from .fields import parse_fields_careful
from .framing import (
    check_transfer_encoding,
    connection_options,
    parse_content_length,
    special_fields,
)
from .limits import Limits
from .memo import FieldMemo
from .syntax import FIELD_LINE_RE, FIELD_VALUE_BYTES, STATUS_LINE_RE

BAD_GATEWAY = 502
"""Status carried by every response-side error: a gateway answers 502 for a bad origin."""


def parse_response_head(
    head: bytes, method: bytes, limits: Limits, memo: FieldMemo | None = None
) -> tuple[Response | InformationalResponse, bool]:
    """Parse a status-line and field lines (each ending in CRLF, no empty line) of the
    response to ``method``. Returns the event and whether the body is chunked. ``memo`` (one
    per connection) reuses the parse of a field section identical to the previous one."""
    eol = head.find(b"\r\n")
    if eol < 0 or not head.endswith(b"\r\n"):
        raise RemoteProtocolError("response head does not end with CRLF", BAD_GATEWAY)
    if eol > limits.max_request_line:
        raise RemoteProtocolError("status line too long", BAD_GATEWAY)
    code = head[9:12]
    if (
        head.startswith(b"HTTP/1.1 ")
        and code.isdigit()
        and code[0] != 0x30
        and (eol == 12 or head[12] == 0x20)
    ):  # the common case, without the regex
        version = b"1.1"
        status = int(code)
        reason = head[13:eol]
        if reason.translate(None, FIELD_VALUE_BYTES):
            raise RemoteProtocolError(_status_line_fault(head[:eol]), BAD_GATEWAY)
    else:
        version, status, reason = _status_line(head, eol)
    start = eol + 2
    if (
        memo is not None
        and len(head) - start == len(memo.block)
        and head.startswith(memo.block, start)
    ):
        headers = list(memo.headers)
        raw = list(memo.raw)
        specials = memo.specials
    else:  # the field section, as fields.parse_fields (inlined: this is the hot path)
        count = head.count(b"\n", eol + 1) - 1
        if count > limits.max_fields:
            raise RemoteProtocolError(f"more than {limits.max_fields} header fields", BAD_GATEWAY)
        raw = FIELD_LINE_RE.findall(head, eol + 1)
        if len(raw) != count:
            raw = parse_fields_careful(head[start:], BAD_GATEWAY)
        headers = [(name.lower(), value) for name, value in raw]
        specials = special_fields(headers)
        if memo is not None:
            memo.store(head[start:], headers, raw, specials)
    if status < 200 and status != 101:
        return InformationalResponse(status, reason, version, headers, raw), False

    length_field, coding, connection, _host, _expect, _upgrade, _hosts = specials
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
        if limits.max_body is not None and length > limits.max_body:
            raise RemoteProtocolError("response body too large", BAD_GATEWAY)
    else:
        length = None  # delimited by the close of the connection (RFC 9112 §6.3 rule 8)
        keep_alive = False
    return Response(status, reason, version, headers, raw, keep_alive, length), chunked


def _status_line(head: bytes, eol: int) -> tuple[bytes, int, bytes]:
    match = STATUS_LINE_RE.fullmatch(head, 0, eol)
    if match is None:
        raise RemoteProtocolError(_status_line_fault(head[:eol]), BAD_GATEWAY)
    major, minor, code, reason = match.groups()
    if major != b"1":
        raise RemoteProtocolError("HTTP version not supported", BAD_GATEWAY)
    return b"1.0" if minor == b"0" else b"1.1", int(code), reason or b""


def _status_line_fault(line: bytes) -> str:
    if b"\n" in line:
        return "bare LF in status line (CRLF required)"
    if b"\r" in line:
        return "bare CR in status line"
    if line[:5] != b"HTTP/":
        return "not an HTTP/1 status line"
    return "malformed status line"
