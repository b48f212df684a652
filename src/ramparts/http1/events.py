"""Events returned by ``next_event`` and the two signals (NEED_DATA, PAUSED)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum

from .fields import Headers


class Signal(Enum):
    """What ``next_event`` returns when it has no event."""

    NEED_DATA = "need-data"
    """Feed more bytes (or ``feed_eof``)."""
    PAUSED = "paused"
    """Nothing will be parsed until the local side answers: the request was CONNECT or an
    Upgrade (the bytes after it may not be HTTP), or too many pipelined requests await
    responses. Stop reading from the socket; call ``next_event`` again after responding."""


NEED_DATA = Signal.NEED_DATA
PAUSED = Signal.PAUSED


class TargetForm(IntEnum):
    """The four forms of request-target (RFC 9112 §3.2)."""

    ORIGIN = 0  # /path?query
    ABSOLUTE = 1  # http://host/path (to proxies)
    AUTHORITY = 2  # host:port (CONNECT only)
    ASTERISK = 3  # * (OPTIONS only)


@dataclass(slots=True)
class Request:
    """A request head, validated. ``content_length`` is the length of the body that follows
    (0: none), or None when the body is chunked. ``upgrade`` is the Upgrade field value when
    the client asked to switch protocols (Connection: upgrade, HTTP/1.1), else None."""

    method: bytes
    target: bytes
    version: bytes  # b"1.1" or b"1.0" (1.x above 1 is handled as 1.1, RFC 9110 §2.5)
    headers: Headers  # lower-case names
    raw_headers: Headers  # names as received
    form: TargetForm
    keep_alive: bool
    content_length: int | None
    expect_continue: bool
    upgrade: bytes | None
    host: bytes | None


@dataclass(slots=True)
class InformationalResponse:
    """A 1xx response other than 101 (100 Continue, 103 Early Hints); a final one follows."""

    status: int
    reason: bytes
    version: bytes
    headers: Headers
    raw_headers: Headers


@dataclass(slots=True)
class Response:
    """A final response head (or 101 Switching Protocols). ``content_length`` is the length
    of the body that follows (0 for HEAD, 204, 304, 101 and 2xx to CONNECT), or None when it
    is chunked or ends when the connection closes. ``keep_alive`` covers both messages."""

    status: int
    reason: bytes
    version: bytes
    headers: Headers
    raw_headers: Headers
    keep_alive: bool
    content_length: int | None


@dataclass(slots=True)
class Data:
    """A piece of a message body: bytes, or a memoryview over a large received buffer."""

    data: bytes | memoryview


@dataclass(frozen=True, slots=True)
class EndOfMessage:
    """The current message is complete; ``trailers`` from a chunked body (lower-case names)."""

    trailers: Sequence[tuple[bytes, bytes]] = ()


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed its sending side at a message boundary."""


END_OF_MESSAGE = EndOfMessage()
CONNECTION_CLOSED = ConnectionClosed()

Event = Request | InformationalResponse | Response | Data | EndOfMessage | ConnectionClosed
