"""Request heads (RFC 9112 §3): request-line, fields, framing; strict, with status codes."""

from __future__ import annotations

from .errors import RemoteProtocolError
from .events import Request, TargetForm
from .fields import parse_fields_careful
from .framing import (
    check_transfer_encoding,
    connection_options,
    parse_content_length,
    special_fields,
)
from .limits import Limits
from .memo import FieldMemo
from .syntax import (
    ABSOLUTE_RE,
    AUTHORITY_RE,
    FIELD_LINE_RE,
    HOST_RE,
    TOKEN_RE,
    VCHAR_BYTES,
    VERSION_RE,
)

COMMON_METHODS = frozenset(
    {b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH"}
)
"""Methods accepted without a token check; any other valid token is accepted too."""


MAX_REMEMBERED_HOSTS = 1024
"""Host values already validated are remembered (a set look-up instead of a regex) up to
this many per process; an edge serves few distinct hostnames."""
_VALID_HOSTS: set[bytes] = set()
_NO_OPTIONS: frozenset[bytes] = frozenset()


def parse_request_head(head: bytes, limits: Limits, memo: FieldMemo | None = None) -> Request:
    """Parse ``head``: the request-line and field lines, each ending in CRLF, without the
    empty line. Raises RemoteProtocolError carrying the status to answer. ``memo`` (one per
    connection) reuses the parse of a field section identical to the previous one."""
    eol = head.find(b"\r\n")
    if eol < 0 or not head.endswith(b"\r\n"):
        raise RemoteProtocolError("request head does not end with CRLF", 400)
    if eol > limits.max_request_line:
        raise RemoteProtocolError("request line too long", 414)
    parts = head[:eol].split(b" ")
    if len(parts) != 3:
        raise _malformed_line(head[:eol])
    method, target, version = parts
    if method not in COMMON_METHODS and TOKEN_RE.fullmatch(method) is None:
        raise RemoteProtocolError("invalid method", 400)
    version = b"1.1" if version == b"HTTP/1.1" else request_version(version)
    if not target or target.translate(None, VCHAR_BYTES):
        raise RemoteProtocolError("invalid character in request target", 400)
    form = (
        TargetForm.ORIGIN
        if target[0] == 0x2F and method != b"CONNECT"
        else target_form(method, target)
    )

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
            raise RemoteProtocolError(f"more than {limits.max_fields} header fields", 431)
        raw = FIELD_LINE_RE.findall(head, eol + 1)
        if len(raw) != count:
            raw = parse_fields_careful(head[start:], 400)
        headers = [(name.lower(), value) for name, value in raw]
        specials = special_fields(headers)
        if memo is not None:
            memo.store(head[start:], headers, raw, specials)
    length_field, coding, connection, host, expect, upgrade, hosts = specials

    if host is None:
        if version == b"1.1":
            raise RemoteProtocolError("missing Host header", 400)
    elif hosts:
        raise RemoteProtocolError("more than one Host header", 400)
    elif host not in _VALID_HOSTS:
        if HOST_RE.fullmatch(host) is None:
            raise RemoteProtocolError("invalid Host header", 400)
        if len(_VALID_HOSTS) < MAX_REMEMBERED_HOSTS:
            _VALID_HOSTS.add(host)

    length: int | None = 0
    if coding is not None:
        if length_field is not None:
            raise RemoteProtocolError("both Content-Length and Transfer-Encoding", 400)
        if version == b"1.0":
            raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 request", 400)
        check_transfer_encoding(coding, 400, 501)
        length = None
    elif length_field is not None:
        length = parse_content_length(length_field, 400, 413)
        if limits.max_body is not None and length > limits.max_body:
            raise RemoteProtocolError("request body too large", 413)
    if method == b"CONNECT" and length != 0:
        raise RemoteProtocolError("CONNECT request with content", 400)

    if connection is None:
        keep_alive = version == b"1.1"
        options = _NO_OPTIONS
    else:
        options = connection_options(connection)
        keep_alive = b"close" not in options and (version == b"1.1" or b"keep-alive" in options)
    if upgrade is not None and (b"upgrade" not in options or version != b"1.1"):
        upgrade = None  # RFC 9110 §7.8: Upgrade counts only when named in Connection
    expect_continue = expect is not None and version == b"1.1" and expect.lower() == b"100-continue"
    return Request(
        method,
        target,
        version,
        headers,
        raw,
        form,
        keep_alive,
        length,
        expect_continue,
        upgrade,
        host,
    )


def request_version(version: bytes) -> bytes:
    """b"1.0" or b"1.1" from an HTTP-version; 505 for other major versions."""
    match = VERSION_RE.fullmatch(version)
    if match is None:
        raise RemoteProtocolError("malformed HTTP version", 400)
    if match[1] != b"1":
        raise RemoteProtocolError("HTTP version not supported", 505)
    return b"1.0" if match[2] == b"0" else b"1.1"


def target_form(method: bytes, target: bytes) -> TargetForm:
    """Classify a VCHAR-only target; 400 when the form does not suit the method."""
    if method == b"CONNECT":
        if AUTHORITY_RE.fullmatch(target) is None:
            raise RemoteProtocolError("CONNECT target must be host:port", 400)
        return TargetForm.AUTHORITY
    if target[0] == 0x2F:
        return TargetForm.ORIGIN
    if target == b"*":
        if method != b"OPTIONS":
            raise RemoteProtocolError("asterisk target is only for OPTIONS", 400)
        return TargetForm.ASTERISK
    if ABSOLUTE_RE.match(target) is not None:
        return TargetForm.ABSOLUTE
    raise RemoteProtocolError("invalid request target", 400)


def _malformed_line(line: bytes) -> RemoteProtocolError:
    if b"\n" in line:
        return RemoteProtocolError("bare LF in request line (CRLF required)", 400)
    if b"\r" in line:
        return RemoteProtocolError("bare CR in request line", 400)
    return RemoteProtocolError("malformed request line", 400)
