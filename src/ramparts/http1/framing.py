"""Fields that frame a message or steer the connection: Content-Length, Transfer-Encoding,
Connection, Host, Expect, Upgrade (RFC 9112 §6, §9.3; RFC 9110 §7.6.1, §8.6)."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import RemoteProtocolError
from .fields import Headers
from .limits import MAX_CONTENT_LENGTH_DIGITS

_SPECIAL = frozenset(
    {b"content-length", b"transfer-encoding", b"connection", b"host", b"expect", b"upgrade"}
)

Specials = tuple[
    bytes | None, bytes | None, bytes | None, bytes | None, bytes | None, bytes | None, bool
]
"""content-length, transfer-encoding, connection, host, expect, upgrade, Host repeated."""


def special_fields(headers: Headers) -> Specials:
    """The framing and steering fields of ``headers`` (lower-case names). Repeated list
    fields are joined with ", " (RFC 9110 §5.3); a repeated Host is flagged."""
    length = coding = connection = host = expect = upgrade = None
    repeated_host = False
    for name, value in headers:
        if name in _SPECIAL:
            if name == b"host":
                if host is None:
                    host = value
                else:
                    repeated_host = True
            elif name == b"connection":
                connection = value if connection is None else connection + b", " + value
            elif name == b"content-length":
                length = value if length is None else length + b", " + value
            elif name == b"transfer-encoding":
                coding = value if coding is None else coding + b", " + value
            elif name == b"expect":
                expect = value if expect is None else expect + b", " + value
            else:
                upgrade = value if upgrade is None else upgrade + b", " + value
    return length, coding, connection, host, expect, upgrade, repeated_host


_EMPTY: frozenset[bytes] = frozenset()
_COMMON_CONNECTION: dict[bytes, frozenset[bytes]] = {
    spelling: frozenset(part.strip().lower() for part in spelling.split(b","))
    for spelling in (
        b"keep-alive",
        b"Keep-Alive",
        b"close",
        b"Close",
        b"upgrade",
        b"Upgrade",
        b"keep-alive, Upgrade",
        b"Keep-Alive, Upgrade",
        b"Upgrade, Keep-Alive",
        b"Upgrade, HTTP2-Settings",
    )
}


def connection_options(value: bytes | None) -> frozenset[bytes]:
    """Lower-case connection options of a (joined) Connection field value."""
    if value is None:
        return _EMPTY
    common = _COMMON_CONNECTION.get(value)
    if common is not None:
        return common
    return frozenset(filter(None, (part.strip(b" \t") for part in value.lower().split(b","))))


def parse_content_length(value: bytes, bad: int, too_large: int) -> int:
    """Content-Length as an int. A list of identical values ("5, 5", or repeated fields) is
    accepted as one (RFC 9110 §8.6); differing or non-decimal values are refused."""
    if value.isdigit():
        digits = value
    else:
        items = {item.strip(b" \t") for item in value.split(b",")}
        if len(items) != 1:
            raise RemoteProtocolError("conflicting Content-Length values", bad)
        digits = items.pop()
        if not digits.isdigit():
            raise RemoteProtocolError("invalid Content-Length", bad)
    if len(digits) > MAX_CONTENT_LENGTH_DIGITS and len(digits.lstrip(b"0")) > (
        MAX_CONTENT_LENGTH_DIGITS
    ):
        raise RemoteProtocolError("Content-Length too large", too_large)
    return int(digits)


def check_transfer_encoding(value: bytes, bad: int, unsupported: int) -> None:
    """Accept only a lone ``chunked`` (RFC 9112 §6.1). A final coding other than chunked is
    ``bad`` (the length cannot be known); other codings before chunked are ``unsupported``
    (501 for requests) since this layer does not decode them."""
    lowered = value.lower()
    if lowered == b"chunked":
        return
    codings = [coding for coding in (c.strip(b" \t") for c in lowered.split(b",")) if coding]
    if not codings or codings[-1] != b"chunked":
        raise RemoteProtocolError("chunked is not the final transfer coding", bad)
    if codings.count(b"chunked") > 1:
        raise RemoteProtocolError("chunked applied more than once", bad)
    if len(codings) > 1:
        raise RemoteProtocolError(
            "transfer codings other than chunked are not supported", unsupported
        )


_SPECIAL_LENGTHS = frozenset(len(name) for name in _SPECIAL)

Outgoing = tuple[bytes | None, bytes | None, bytes | None, bytes | None, bytes | None]
"""content-length, transfer-encoding, connection, host, upgrade of an outgoing head."""


def outgoing_fields(headers: Sequence[tuple[bytes, bytes]]) -> Outgoing:
    """The framing fields of headers about to be sent (names in any case); list fields
    repeated are joined with ", "."""
    length = coding = connection = host = upgrade = None
    for name, value in headers:
        if len(name) in _SPECIAL_LENGTHS:
            lowered = name.lower()
            if lowered == b"content-length":
                length = value if length is None else length + b", " + value
            elif lowered == b"transfer-encoding":
                coding = value if coding is None else coding + b", " + value
            elif lowered == b"connection":
                connection = value if connection is None else connection + b", " + value
            elif lowered == b"host":
                host = value
            elif lowered == b"upgrade":
                upgrade = value
    return length, coding, connection, host, upgrade
