"""``ServerConnection``: parse requests, write responses, over keep-alive and pipelining."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from .connection import (
    CLOSED,
    END,
    HEAD,
    PAUSED_STATE,
    SWITCHED,
    TX_CHUNKED,
    TX_CLOSED,
    TX_FIXED,
    TX_IDLE,
    TX_NONE,
    TX_RAW,
    TX_SWITCHED,
    Http1Connection,
)
from .errors import LocalProtocolError
from .events import Event, Request
from .framing import connection_options, outgoing_fields
from .limits import SERVER_LIMITS, Limits
from .memo import FieldMemo
from .request_head import parse_request_head
from .writer import write_response_head


class ServerConnection(Http1Connection):
    """The server side of one connection.

    ``feed(bytes)``, then ``next_event()`` until NEED_DATA or PAUSED: Request, Data...,
    EndOfMessage per request (pipelined requests in order). Answer each request, in order,
    with ``send_response`` (1xx any number of times, then one final), ``send_data``,
    ``send_end``; write the returned bytes. After a 101 or a 2xx to CONNECT the connection
    is ``switched`` (``take_trailing_data()`` gives the first bytes of the new protocol).
    Close when ``must_close`` is true after ``send_end``.
    """

    __slots__ = (
        "_answered",
        "_continued",
        "_memo",
        "_pending",
        "_rx",
        "_rx_done",
        "_tx_keep_alive",
    )

    def __init__(self, limits: Limits = SERVER_LIMITS) -> None:
        Http1Connection.__init__(self, limits)
        self._pending: deque[Request] = deque()  # received, not answered whole, in order
        self._rx: Request | None = None  # the request received last
        self._rx_done = False  # ... and its body has ended
        self._answered = False  # the oldest pending request has its final response head
        self._continued = False  # ... has been sent 100 Continue
        self._tx_keep_alive = True
        self._memo: FieldMemo | None = None

    @property
    def must_close(self) -> bool:
        """True once the last response this connection may carry has been sent."""
        return self._tx == TX_CLOSED

    # -- receiving ---------------------------------------------------------------------

    def _parse_head(self, head: bytes) -> Event:
        request = parse_request_head(head, self._limits, self._memo)
        if self._memo is None:  # remember fields from the second request on (keep-alive)
            self._memo = FieldMemo()
        self._pending.append(request)
        self._rx = request
        self._rx_done = False
        if request.content_length == 0:
            self._state = END
        else:
            self._start_body(request.content_length, True)
        return request

    def _message_done(self) -> None:
        request = self._rx
        assert request is not None
        self._rx_done = True
        if self._tx == TX_CLOSED:
            self._state = CLOSED
        elif request.upgrade is not None or request.method == b"CONNECT":
            if request is self._pending[0] and self._answered:
                self._state = HEAD if self._tx_keep_alive else CLOSED
            else:
                self._state = PAUSED_STATE  # the bytes after it may not be HTTP
        elif not request.keep_alive:
            self._state = CLOSED  # RFC 9112 §9.6: no further requests are processed
        elif len(self._pending) >= self._limits.max_pipelined:
            self._state = PAUSED_STATE  # until responses catch up (see _sent_message)
        else:
            self._state = HEAD

    # -- sending -------------------------------------------------------------------------

    def send_response(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], reason: bytes | None = None
    ) -> bytes:
        """Bytes of a response head to the oldest unanswered request. Framing follows the
        headers: Content-Length, or Transfer-Encoding: chunked; with neither, chunked is
        added for HTTP/1.1 clients (HTTP/1.0: the body ends with the connection).
        ``Connection: close`` is added when the connection will end after this response."""
        if self._tx != TX_IDLE:
            if self._tx in (TX_CLOSED, TX_SWITCHED):
                raise LocalProtocolError("the connection is closing or switched protocols")
            raise LocalProtocolError("the previous response is not finished")
        if not self._pending:
            raise LocalProtocolError("no request to respond to")
        request = self._pending[0]
        if status < 200:
            return self._informational(request, status, headers, reason)
        out = list(headers)
        length, coding, connection, _host, _upgrade = outgoing_fields(out)
        if request.method == b"CONNECT" and status < 300:
            return self._switch(status, out, reason)
        options = connection_options(connection)
        keep_alive = request.keep_alive and b"close" not in options
        remaining = 0
        if request.method == b"HEAD" or status in (204, 304):
            tx = TX_NONE
        elif coding is not None:
            if coding.lower() != b"chunked" or length is not None:
                raise LocalProtocolError(
                    "Transfer-Encoding must be chunked, without Content-Length"
                )
            if request.version == b"1.1":
                tx = TX_CHUNKED
            else:  # RFC 9112 §6.1: no Transfer-Encoding to HTTP/1.0; end with the connection
                out = [(n, v) for n, v in out if n.lower() != b"transfer-encoding"]
                tx = TX_RAW
                keep_alive = False
        elif length is not None:
            if not length.isdigit():
                raise LocalProtocolError("invalid Content-Length")
            tx = TX_FIXED
            remaining = int(length)
        elif request.version == b"1.1":
            out.append((b"transfer-encoding", b"chunked"))
            tx = TX_CHUNKED
        else:
            tx = TX_RAW
            keep_alive = False
        received = request is not self._rx or self._rx_done
        if request.expect_continue and not self._continued and not received:
            keep_alive = False  # the client may never send the body it announced
        if not keep_alive and b"close" not in options:
            out.append((b"connection", b"close"))
        elif keep_alive and request.version == b"1.0" and b"keep-alive" not in options:
            out.append((b"connection", b"keep-alive"))
        head = write_response_head(status, out, reason)  # validates before any state change
        self._tx = tx
        self._tx_remaining = remaining
        self._tx_keep_alive = keep_alive
        self._answered = True
        if self._state == PAUSED_STATE and self._rx is request:
            self._state = HEAD if keep_alive else CLOSED  # upgrade/CONNECT declined
        return head

    def _informational(
        self,
        request: Request,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        reason: bytes | None,
    ) -> bytes:
        if status == 101:
            if request.upgrade is None:
                raise LocalProtocolError("101 answers only a request with Upgrade")
            return self._switch(status, headers, reason)
        if status < 100:
            raise LocalProtocolError(f"invalid status code {status}")
        if request.version == b"1.0":
            return b""  # RFC 9110 §15.2: no 1xx to an HTTP/1.0 client
        if status == 100:
            self._continued = True
        return write_response_head(status, headers, reason)

    def _switch(
        self, status: int, headers: Sequence[tuple[bytes, bytes]], reason: bytes | None
    ) -> bytes:
        if self._state not in (END, PAUSED_STATE) or self._rx is not self._pending[0]:
            raise LocalProtocolError("switching protocols before the request was received")
        head = write_response_head(status, headers, reason)
        self._state = SWITCHED
        self._tx = TX_SWITCHED
        self._pending.clear()
        return head

    def _rx_is_plain(self) -> bool:
        request = self._rx
        return request is not None and request.upgrade is None and request.method != b"CONNECT"

    def _sent_message(self) -> None:
        self._pending.popleft()
        self._answered = False
        self._continued = False
        if self._tx_keep_alive:
            self._tx = TX_IDLE
            if self._state == PAUSED_STATE and self._rx_done and self._rx_is_plain():
                self._state = HEAD  # a pipelining pause ends
            return
        self._tx = TX_CLOSED
        if self._state in (HEAD, PAUSED_STATE):
            self._state = CLOSED
