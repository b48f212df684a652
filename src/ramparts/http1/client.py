"""``ClientConnection``: write requests, parse responses, over keep-alive connections."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from .connection import (
    CLOSED,
    HEAD,
    SWITCHED,
    TX_CHUNKED,
    TX_CLOSED,
    TX_FIXED,
    TX_IDLE,
    TX_NONE,
    TX_SWITCHED,
    Http1Connection,
)
from .errors import LocalProtocolError, RemoteProtocolError
from .events import Event, InformationalResponse, Signal
from .framing import connection_options, outgoing_fields
from .limits import CLIENT_LIMITS, Limits
from .memo import FieldMemo
from .response_head import BAD_GATEWAY, parse_response_head
from .writer import write_request_head


@dataclass(slots=True)
class _Exchange:
    """What parsing the response to one sent request needs to know."""

    method: bytes
    keep_alive: bool
    upgrade: bool
    sent: bool = False  # request sent whole


class ClientConnection(Http1Connection):
    """The client side of one connection (to an origin, or to a proxy).

    ``send_request`` / ``send_data`` / ``send_end`` return bytes to write; ``feed`` received
    bytes, then ``next_event()``: InformationalResponse*, Response, Data..., EndOfMessage per
    request, in order (requests may be pipelined). After a 101 to an Upgrade request or a 2xx
    to CONNECT the connection is ``switched``. ``reusable`` says whether another request may
    be sent on it.
    """

    __slots__ = ("_closing", "_memo", "_pending", "_rx_keep_alive", "_sending")

    BAD = BAD_GATEWAY
    TOO_LARGE = BAD_GATEWAY
    LINE_TOO_LONG = BAD_GATEWAY
    BODY_TOO_LARGE = BAD_GATEWAY

    def __init__(self, limits: Limits = CLIENT_LIMITS) -> None:
        Http1Connection.__init__(self, limits)
        self._pending: deque[_Exchange] = deque()
        self._rx_keep_alive = True
        self._closing = False  # an exchange ended the connection
        self._memo: FieldMemo | None = None
        self._sending: _Exchange | None = None  # the request whose body is being sent

    @property
    def reusable(self) -> bool:
        """True when idle and able to carry another request (keep-alive)."""
        return (
            self._state == HEAD
            and self._tx == TX_IDLE
            and not self._pending
            and not self._closing
            and not self._eof
            and self._pos >= len(self._buf)
        )

    @property
    def must_close(self) -> bool:
        """True when this connection can carry no further exchange."""
        return self._closing or self._state in (CLOSED, SWITCHED) or self._tx == TX_CLOSED

    # -- sending -------------------------------------------------------------------------

    def send_request(
        self, method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]]
    ) -> bytes:
        """Bytes of a request head. The body framing follows the headers: Content-Length,
        or Transfer-Encoding: chunked; with neither, the request has no body. Host is
        required."""
        if self._tx != TX_IDLE:
            raise LocalProtocolError("the previous request is not finished")
        if self._closing or self._state in (CLOSED, SWITCHED) or self._eof:
            raise LocalProtocolError("the connection is closing or switched protocols")
        if self._pending and (self._pending[-1].upgrade or self._pending[-1].method == b"CONNECT"):
            raise LocalProtocolError("no request may follow CONNECT or Upgrade before its response")
        length, coding, connection, host, upgrade = outgoing_fields(headers)
        if host is None:
            raise LocalProtocolError("HTTP/1.1 requests need a Host header")
        options = connection_options(connection)
        remaining = 0
        if coding is not None:
            if coding.lower() != b"chunked" or length is not None:
                raise LocalProtocolError(
                    "Transfer-Encoding must be chunked, without Content-Length"
                )
            tx = TX_CHUNKED
        elif length is not None:
            if not length.isdigit():
                raise LocalProtocolError("invalid Content-Length")
            tx = TX_FIXED
            remaining = int(length)
        else:
            tx = TX_NONE
        head = write_request_head(method, target, headers)  # validates before state changes
        self._tx = tx
        self._tx_remaining = remaining
        exchange = _Exchange(
            method, b"close" not in options, upgrade is not None and b"upgrade" in options
        )
        self._pending.append(exchange)
        self._sending = exchange
        return head

    def _sent_message(self) -> None:
        if self._sending is not None:
            self._sending.sent = True
            self._sending = None
        self._tx = TX_CLOSED if self._closing else TX_IDLE

    # -- receiving ---------------------------------------------------------------------

    def _closed_at_boundary(self) -> Event | Signal:
        if self._pending:
            raise RemoteProtocolError("connection closed before the response", BAD_GATEWAY)
        return super()._closed_at_boundary()

    def _parse_head(self, head: bytes) -> Event:
        if not self._pending:
            raise RemoteProtocolError("response bytes with no request outstanding", BAD_GATEWAY)
        exchange = self._pending[0]
        response, chunked = parse_response_head(head, exchange.method, self._limits, self._memo)
        if self._memo is None:  # remember fields from the second response on (keep-alive)
            self._memo = FieldMemo()
        if isinstance(response, InformationalResponse):
            return response
        status = response.status
        if status == 101 or (exchange.method == b"CONNECT" and status < 300):
            if status == 101 and not exchange.upgrade:
                raise RemoteProtocolError("101 to a request without Upgrade", BAD_GATEWAY)
            self._state = SWITCHED
            self._tx = TX_SWITCHED
            self._pending.clear()
            return response
        keep_alive = response.keep_alive and exchange.keep_alive
        response.keep_alive = keep_alive
        self._rx_keep_alive = keep_alive
        self._start_body(response.content_length, chunked)
        return response

    def _message_done(self) -> None:
        exchange = self._pending.popleft()
        if not self._rx_keep_alive or not exchange.sent:
            self._closing = True  # an unsent request body leaves the stream undefined
            self._state = CLOSED
            if self._tx == TX_IDLE:
                self._tx = TX_CLOSED
        else:
            self._state = HEAD
