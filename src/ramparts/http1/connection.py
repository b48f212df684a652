"""Machinery shared by both sides: the receive buffer, head extraction, body framing on
receive (Content-Length, chunked, until close) and on send.

Subclasses (``ServerConnection``, ``ClientConnection``) parse heads and decide what follows a
message; this class never looks at methods or status codes.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import LocalProtocolError, RemoteProtocolError
from .events import (
    CONNECTION_CLOSED,
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    Data,
    EndOfMessage,
    Event,
    Signal,
)
from .fields import parse_fields
from .limits import MAX_CHUNK_SIZE_DIGITS, Limits
from .syntax import CHUNK_LINE_RE, HEAD_END_RE
from .writer import encode_chunk, last_chunk

Buffer = bytes | bytearray | memoryview

# receive states
HEAD = 0  # expecting a start line
FIXED = 1  # in a Content-Length body (self._remaining bytes left)
CHUNKED = 2  # in a chunked body (self._chunk says where)
UNTIL_CLOSE = 3  # in a body that the peer ends by closing
END = 4  # body complete: the next call returns EndOfMessage
PAUSED_STATE = 5  # waiting for the local side (see Signal.PAUSED)
CLOSED = 6  # no further message will be parsed on this connection
SWITCHED = 7  # switched protocols: bytes are no longer HTTP
FAILED = 8  # a RemoteProtocolError was raised; it is raised again

# where a chunked body is
_SIZE = 0  # expecting a chunk-size line
_DATA = 1  # inside chunk data (self._remaining bytes left)
_DATA_END = 2  # expecting the CRLF after chunk data
_TRAILERS = 3  # expecting the trailer section after the last chunk

# send states
TX_IDLE = 0  # no message being sent
TX_FIXED = 1  # Content-Length body (self._tx_remaining bytes left)
TX_CHUNKED = 2
TX_RAW = 3  # close-delimited response body: bytes as given
TX_NONE = 4  # the message has no body (HEAD, 204, 304, no framing field on a request)
TX_CLOSED = 5  # the last message on this connection has been sent
TX_SWITCHED = 6

MEMORYVIEW_MIN = 16 * 1024
"""Body slices at least this long are handed out as memoryviews instead of copies."""


class Http1Connection:
    """Receive buffer and body framing of one HTTP/1.1 connection (one side)."""

    __slots__ = (
        "_body_total",
        "_buf",
        "_chunk",
        "_eof",
        "_error",
        "_limits",
        "_pos",
        "_remaining",
        "_scan",
        "_state",
        "_tx",
        "_tx_remaining",
    )

    BAD = 400  # status carried by malformed-input errors
    TOO_LARGE = 431  # ... by oversized heads
    LINE_TOO_LONG = 414  # ... by an oversized start line
    BODY_TOO_LARGE = 413  # ... by a body over limits.max_body

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._buf: bytes | bytearray = b""
        self._pos = 0
        self._scan = 0  # the head terminator is not before this offset
        self._eof = False
        self._state = HEAD
        self._remaining = 0
        self._chunk = _SIZE
        self._body_total = 0
        self._error: RemoteProtocolError | None = None
        self._tx = TX_IDLE
        self._tx_remaining = 0

    # -- receiving ---------------------------------------------------------------------

    def feed(self, data: Buffer) -> None:
        """Add received bytes; parse them with ``next_event``."""
        if self._state == SWITCHED:
            raise LocalProtocolError("switched protocols: bytes are no longer HTTP")
        if self._eof:
            raise LocalProtocolError("feed after feed_eof")
        buf = self._buf
        pos = self._pos
        if pos >= len(buf):
            self._buf = data if type(data) is bytes else bytes(data)
            self._pos = 0
            self._scan = 0
        elif type(buf) is bytearray:
            if pos:
                del buf[:pos]
                self._scan = max(self._scan - pos, 0)
                self._pos = 0
            buf += data
        else:  # a partial message stays: accumulate (amortised) instead of re-copying
            grown = bytearray(memoryview(buf)[pos:])
            grown += data
            self._buf = grown
            self._scan = max(self._scan - pos, 0)
            self._pos = 0

    def feed_eof(self) -> None:
        """The peer closed its sending side."""
        self._eof = True

    def take_trailing_data(self) -> bytes:
        """Hand back the received bytes not parsed yet (after a protocol switch: the first
        bytes of the new protocol) and forget them."""
        rest = bytes(memoryview(self._buf)[self._pos :])
        self._buf = b""
        self._pos = 0
        self._scan = 0
        return rest

    @property
    def switched(self) -> bool:
        """True once the connection carries another protocol (101, or 2xx to CONNECT)."""
        return self._state == SWITCHED

    def next_event(self) -> Event | Signal:
        """The next event, or NEED_DATA / PAUSED. Raises RemoteProtocolError on bad input
        (again on every later call)."""
        try:
            state = self._state
            if state == HEAD:
                return self._next_head()
            if state == END:
                self._message_done()
                return END_OF_MESSAGE
            if state == FIXED:
                return self._read_fixed()
            if state == CHUNKED:
                return self._read_chunked()
            if state == UNTIL_CLOSE:
                return self._read_until_close()
            if state == PAUSED_STATE:
                return PAUSED
            if state == CLOSED:
                return CONNECTION_CLOSED if self._eof else PAUSED
            if state == SWITCHED:
                raise LocalProtocolError("switched protocols: use take_trailing_data()")
            assert self._error is not None
            raise self._error
        except RemoteProtocolError as exc:
            self._state = FAILED
            self._error = exc
            raise

    # hooks for the two sides

    def _parse_head(self, head: bytes) -> Event:
        """Parse a complete head (start line and field lines, each with CRLF) and set the
        body state."""
        raise NotImplementedError

    def _message_done(self) -> None:
        """A received message ended: choose the next receive state."""
        raise NotImplementedError

    def _sent_message(self) -> None:
        """The message being sent ended."""
        raise NotImplementedError

    # heads

    def _next_head(self) -> Event | Signal:
        buf = self._buf
        pos = self._pos
        if buf.startswith(b"\r\n", pos):  # RFC 9112 §2.2: ignore empty lines before a message
            while buf.startswith(b"\r\n", pos):
                pos += 2
            self._pos = pos
        if pos >= len(buf):
            if self._eof:
                self._state = CLOSED
                return self._closed_at_boundary()
            return NEED_DATA
        found = HEAD_END_RE.search(buf, self._scan if self._scan > pos else pos)
        if found is None:
            return self._incomplete_head(buf, pos)
        end = found.start()
        if type(buf) is not bytes:
            self._buf = buf = bytes(buf)
        if end + 2 - pos > self._limits.max_head:
            raise RemoteProtocolError("message head too large", self.TOO_LARGE)
        self._pos = end + 4
        self._scan = 0
        return self._parse_head(buf[pos : end + 2])

    def _closed_at_boundary(self) -> Event | Signal:
        return CONNECTION_CLOSED

    def _incomplete_head(self, buf: bytes | bytearray, pos: int) -> Signal:
        size = len(buf) - pos
        limits = self._limits
        if size > limits.max_head:
            raise RemoteProtocolError("message head too large", self.TOO_LARGE)
        start = self._scan if self._scan > pos else pos
        line_end = pos + limits.max_request_line + 2
        if (
            size > limits.max_request_line
            and start < line_end
            and buf.find(b"\r\n", pos, line_end) < 0
        ):
            raise RemoteProtocolError("start line too long", self.LINE_TOO_LONG)
        if buf.find(b"\n\n", start) >= 0:
            raise RemoteProtocolError("bare LF in message head (CRLF required)", self.BAD)
        if self._eof:
            raise RemoteProtocolError("connection closed inside a message head", self.BAD)
        self._scan = max(pos, len(buf) - 3)
        return NEED_DATA

    # bodies

    def _start_body(self, length: int | None, chunked: bool) -> None:
        """Set the receive state for a body of ``length`` bytes, chunked, or until close."""
        if length == 0:
            self._state = END
        elif length is not None:
            self._state = FIXED
            self._remaining = length
        elif chunked:
            self._state = CHUNKED
            self._chunk = _SIZE
            self._body_total = 0
        else:
            self._state = UNTIL_CLOSE
            self._body_total = 0

    def _take(self, size: int) -> bytes | memoryview:
        buf = self._buf
        pos = self._pos
        end = pos + size
        self._pos = end
        if type(buf) is bytes:
            if pos == 0 and end == len(buf):
                return buf
            if size >= MEMORYVIEW_MIN:
                return memoryview(buf)[pos:end]
            return buf[pos:end]
        return bytes(memoryview(buf)[pos:end])

    def _read_fixed(self) -> Event | Signal:
        available = len(self._buf) - self._pos
        if not available:
            if self._eof:
                raise RemoteProtocolError("connection closed inside a message body", self.BAD)
            return NEED_DATA
        size = self._remaining
        if available < size:
            size = available
        self._remaining -= size
        if not self._remaining:
            self._state = END
        return Data(self._take(size))

    def _read_until_close(self) -> Event | Signal:
        available = len(self._buf) - self._pos
        if available:
            self._body_total += available
            limit = self._limits.max_body
            if limit is not None and self._body_total > limit:
                raise RemoteProtocolError("message body too large", self.BODY_TOO_LARGE)
            return Data(self._take(available))
        if self._eof:
            self._message_done()
            return END_OF_MESSAGE
        return NEED_DATA

    def _read_chunked(self) -> Event | Signal:
        while True:
            buf = self._buf
            pos = self._pos
            available = len(buf) - pos
            chunk = self._chunk
            if chunk == _DATA:
                if not available:
                    break
                size = self._remaining
                if available < size:
                    size = available
                self._remaining -= size
                if not self._remaining:
                    self._chunk = _DATA_END
                return Data(self._take(size))
            if chunk == _DATA_END:
                if available < 2:
                    if available and buf[pos] != 0x0D:
                        raise RemoteProtocolError("chunk data not followed by CRLF", self.BAD)
                    break
                if buf[pos] != 0x0D or buf[pos + 1] != 0x0A:
                    raise RemoteProtocolError("chunk data not followed by CRLF", self.BAD)
                self._pos = pos + 2
                self._chunk = _SIZE
            elif chunk == _SIZE:
                if not self._chunk_size_line(buf, pos):
                    break
            else:
                return self._trailers(buf, pos)
        if self._eof:
            raise RemoteProtocolError("connection closed inside a chunked body", self.BAD)
        return NEED_DATA

    def _chunk_size_line(self, buf: bytes | bytearray, pos: int) -> bool:
        """Consume a chunk-size line; False when it is not complete yet."""
        max_line = self._limits.max_chunk_line
        eol = buf.find(b"\r\n", pos, pos + max_line + 2)
        if eol < 0:
            if len(buf) - pos > max_line:
                raise RemoteProtocolError("chunk size line too long", self.BAD)
            if buf.find(b"\n", pos) >= 0:
                raise RemoteProtocolError("bare LF in chunk size line", self.BAD)
            return False
        match = CHUNK_LINE_RE.fullmatch(buf, pos, eol)
        if match is None:
            raise RemoteProtocolError("invalid chunk size line", self.BAD)
        digits = match[1]
        if len(digits) > MAX_CHUNK_SIZE_DIGITS:
            raise RemoteProtocolError("chunk size too large", self.BAD)
        size = int(digits, 16)
        self._pos = eol + 2
        if not size:
            self._chunk = _TRAILERS
            return True
        self._body_total += size
        limit = self._limits.max_body
        if limit is not None and self._body_total > limit:
            raise RemoteProtocolError("message body too large", self.BODY_TOO_LARGE)
        self._remaining = size
        self._chunk = _DATA
        return True

    def _trailers(self, buf: bytes | bytearray, pos: int) -> Event | Signal:
        if buf[pos : pos + 2] == b"\r\n":
            self._pos = pos + 2
            self._message_done()
            return END_OF_MESSAGE
        limits = self._limits
        start = self._scan if self._scan > pos else pos
        found = HEAD_END_RE.search(buf, start)
        if found is None:
            if len(buf) - pos > limits.max_head:
                raise RemoteProtocolError("trailer section too large", self.TOO_LARGE)
            if buf.find(b"\n\n", start) >= 0:
                raise RemoteProtocolError("bare LF in trailer section", self.BAD)
            if self._eof:
                raise RemoteProtocolError("connection closed inside trailers", self.BAD)
            self._scan = max(pos, len(buf) - 3)
            return NEED_DATA
        end = found.start()
        if end + 2 - pos > limits.max_head:
            raise RemoteProtocolError("trailer section too large", self.TOO_LARGE)
        block = b"\n" + buf[pos : end + 2]
        self._pos = end + 4
        self._scan = 0
        trailers, _raw = parse_fields(block, 0, limits.max_fields, self.BAD, self.TOO_LARGE)
        self._message_done()
        return EndOfMessage(trailers)

    # -- sending (body framing) ----------------------------------------------------------

    def send_data(self, data: Buffer) -> Buffer:
        """Bytes to transmit for a piece of the body of the message being sent."""
        tx = self._tx
        if tx == TX_FIXED:
            if len(data) > self._tx_remaining:
                raise LocalProtocolError("more body than Content-Length announced")
            self._tx_remaining -= len(data)
            return data
        if tx == TX_CHUNKED:
            return encode_chunk(data)
        if tx == TX_RAW:
            return data
        if tx == TX_NONE:
            if len(data):
                raise LocalProtocolError("this message has no body")
            return b""
        raise LocalProtocolError("no message is being sent")

    def send_end(self, trailers: Sequence[tuple[bytes, bytes]] = ()) -> bytes:
        """Bytes that end the message being sent (the last chunk and trailers if chunked)."""
        tx = self._tx
        if tx == TX_CHUNKED:
            out = last_chunk(trailers)
        elif trailers:
            raise LocalProtocolError("trailers need a chunked body")
        elif tx == TX_FIXED:
            if self._tx_remaining:
                raise LocalProtocolError("body shorter than Content-Length announced")
            out = b""
        elif tx in (TX_RAW, TX_NONE):
            out = b""
        else:
            raise LocalProtocolError("no message is being sent")
        self._sent_message()
        return out
