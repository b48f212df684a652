"""Receiving half of a tunnel connection: incremental frame decoder and frame handlers.

DATA payloads are handed to the application as they arrive (a frame split across reads gives
several DataReceived), so no DATA frame is ever buffered whole. Control frames are buffered
up to their (bounded) length. Peer violations raise ``TunnelProtocolError`` after a GOAWAY
carrying the code is queued; stream-level faults reset only that stream.
"""

from __future__ import annotations

from collections.abc import Callable

from .control import (
    RegisterRefusal,
    decode_config_ack,
    decode_goaway,
    decode_refusal,
    decode_register,
    decode_registered,
    encode_refusal,
)
from .core import ConnectionCore, Role, State
from .errors import ErrorCode, TunnelProtocolError
from .events import (
    ConfigAcknowledged,
    ConfigPushed,
    ConnectionTerminated,
    DatagramReceived,
    DataReceived,
    Event,
    GoAwayReceived,
    PingReceived,
    PongReceived,
    Registered,
    RegisterReceived,
    RegistrationRefused,
    ResponseHead,
    StreamEnded,
    StreamOpened,
    StreamRejected,
    StreamReset,
    WindowUpdated,
)
from .flow import StreamState
from .frames import (
    CONNECTOR_SENDS,
    EDGE_SENDS,
    FLAG_ERROR,
    FLAG_FIN,
    FLAG_MORE,
    HEADER,
    KNOWN_TYPES,
    STREAM_FRAMES,
    U16,
    U32,
    U64,
    FrameType,
)
from .limits import (
    FRAME_HEADER_SIZE,
    MAX_CONFIG_SNAPSHOT,
    MAX_DATAGRAM_PAYLOAD,
    MAX_FRAME_PAYLOAD,
    MAX_HEAD_PAYLOAD,
    MUX_VERSION,
    PING_PAYLOAD_SIZE,
)
from .metadata import decode_open_error, decode_response, decode_stream_open
from .settings import SETTINGS_SIZE, Settings, decode_settings

_T = FrameType
_DATA = FrameType.DATA
_FIN = FLAG_FIN
_HSIZE = FRAME_HEADER_SIZE
_OPEN = State.OPEN
_CLOSED = State.CLOSED
_STREAM_LEVEL = (_T.RESET, _T.WINDOW_UPDATE, _T.DATAGRAM)
_MAX_LENGTH: dict[int, int] = {
    _T.STREAM_OPEN: MAX_HEAD_PAYLOAD,
    _T.STREAM_OPEN_ACK: MAX_HEAD_PAYLOAD,
    _T.DATAGRAM: MAX_DATAGRAM_PAYLOAD,
}
_EXACT_LENGTH: dict[int, int] = {
    _T.PING: PING_PAYLOAD_SIZE,
    _T.PONG: PING_PAYLOAD_SIZE,
    _T.RESET: 4,
    _T.WINDOW_UPDATE: 4,
}


_Buf = bytes | memoryview
_Events = list[Event]
_Handler = Callable[[int, int, _Buf, _Events], None]


def _error(code: ErrorCode, message: str) -> TunnelProtocolError:
    return TunnelProtocolError(code, message)


class FrameDecoder(ConnectionCore):
    """Everything that happens on received bytes."""

    def __init__(self, role: Role, settings: Settings) -> None:
        super().__init__(role, settings)
        self._hdr = bytearray()  # partial frame header
        self._remaining = 0  # payload bytes still to come of the current frame
        self._ftype = 0
        self._fflags = 0
        self._fsid = 0
        self._ctl = bytearray()  # partial control payload
        self._data_stream: StreamState | None = None
        self._config_version: int | None = None
        self._config = bytearray()
        self._handlers: dict[int, _Handler] = {
            _T.REGISTER: self._on_register,
            _T.REGISTERED: self._on_registered,
            _T.REGISTER_FAILED: self._on_register_failed,
            _T.STREAM_OPEN: self._on_stream_open,
            _T.STREAM_OPEN_ACK: self._on_stream_open_ack,
            _T.DATA: self._on_empty_data,
            _T.RESET: self._on_reset,
            _T.WINDOW_UPDATE: self._on_window_update,
            _T.PING: self._on_ping,
            _T.PONG: self._on_pong,
            _T.GOAWAY: self._on_goaway,
            _T.DATAGRAM: self._on_datagram,
            _T.CONFIG_PUSH: self._on_config_push,
            _T.CONFIG_ACK: self._on_config_ack,
        }

    # -- the decoder -------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed received bytes; returns the events they complete.

        Raises TunnelProtocolError on a peer violation (a GOAWAY with its code is queued and
        the connection is closed); afterwards every call returns no events. Nothing keeps a
        reference to ``data``: a driver may reuse its read buffer once this returns.
        """
        events: list[Event] = []
        if self._state is _CLOSED or not data:
            return events
        try:
            self._receive(data if type(data) is bytes else memoryview(data), events)
        except TunnelProtocolError as exc:
            self._fail(exc)
            exc.events = events
            raise
        return events

    def _receive(self, data: bytes | memoryview, events: list[Event]) -> None:
        n = len(data)
        pos = 0
        # A view (of a buffer the driver reuses) is never kept: DATA payloads are copied out.
        copy = type(data) is not bytes
        view = data if copy else memoryview(data)
        while pos < n:
            remaining = self._remaining
            if remaining:  # inside the payload of a frame begun earlier
                take = n - pos
                if take > remaining:
                    take = remaining
                remaining -= take
                self._remaining = remaining
                if self._ftype == _DATA:
                    stream = self._data_stream
                    if stream is not None and stream.alive:
                        chunk = view[pos : pos + take] if copy else data[pos : pos + take]
                        events.append(DataReceived(stream.stream_id, bytes(chunk)))
                        if not remaining and self._fflags & _FIN:
                            self._end_remote(stream, events)
                else:
                    self._ctl += view[pos : pos + take]
                    if not remaining:
                        payload = bytes(self._ctl)
                        self._ctl.clear()
                        self._handlers[self._ftype](self._fflags, self._fsid, payload, events)
                        if self._state is _CLOSED:
                            return
                pos += take
                continue
            hdr = self._hdr
            if hdr:
                take = _HSIZE - len(hdr)
                hdr += view[pos : pos + take]
                pos += take
                if len(hdr) < _HSIZE:
                    return
                ftype, flags, sid, length = HEADER.unpack(hdr)
                hdr.clear()
            elif n - pos < _HSIZE:
                hdr += view[pos:]
                return
            else:
                ftype, flags, sid, length = HEADER.unpack_from(data, pos)
                pos += _HSIZE
            if ftype == _DATA and length and self._state is _OPEN:
                stream = self._on_data_header(sid, length, events)
                if n - pos >= length:
                    if stream is not None:
                        chunk = view[pos : pos + length] if copy else data[pos : pos + length]
                        events.append(DataReceived(sid, bytes(chunk)))
                        if flags & _FIN:
                            self._end_remote(stream, events)
                    pos += length
                else:
                    self._ftype = ftype
                    self._fflags = flags
                    self._data_stream = stream
                    self._remaining = length
                continue
            self._check_header(ftype, sid, length)
            if n - pos >= length:
                self._handlers[ftype](flags, sid, view[pos : pos + length], events)
                pos += length
                if self._state is _CLOSED:
                    return
            else:
                self._ftype = ftype
                self._fflags = flags
                self._fsid = sid
                self._remaining = length

    def _check_header(self, ftype: int, sid: int, length: int) -> None:
        if ftype not in self._allowed:
            raise self._misplaced(ftype)
        exact = _EXACT_LENGTH.get(ftype)
        if exact is not None and length != exact:
            raise _error(ErrorCode.FRAME_SIZE_ERROR, f"{_T(ftype).name} must be {exact} bytes")
        if length > _MAX_LENGTH.get(ftype, MAX_FRAME_PAYLOAD):
            raise _error(ErrorCode.FRAME_SIZE_ERROR, f"{_T(ftype).name} of {length} bytes")
        if ftype in STREAM_FRAMES:
            if not sid:
                raise _error(ErrorCode.PROTOCOL_ERROR, f"{_T(ftype).name} on stream 0")
        elif sid and ftype not in _STREAM_LEVEL:
            raise _error(ErrorCode.PROTOCOL_ERROR, f"{_T(ftype).name} on stream {sid}")

    def _misplaced(self, ftype: int) -> TunnelProtocolError:
        if ftype not in KNOWN_TYPES:
            return _error(ErrorCode.PROTOCOL_ERROR, f"unknown frame type 0x{ftype:02x}")
        name = _T(ftype).name
        if ftype in (EDGE_SENDS if self._is_edge else CONNECTOR_SENDS):
            return _error(ErrorCode.PROTOCOL_ERROR, f"{name} is not sent to the {self.role.value}")
        if self._state is not _OPEN:
            return _error(ErrorCode.PROTOCOL_ERROR, f"{name} before registration completed")
        return _error(ErrorCode.PROTOCOL_ERROR, f"{name} after registration")

    def _unknown_stream(self, ftype: str, sid: int) -> TunnelProtocolError:
        return _error(ErrorCode.PROTOCOL_ERROR, f"{ftype} for stream {sid} that was never opened")

    # -- DATA --------------------------------------------------------------------------

    def _on_data_header(self, sid: int, length: int, events: list[Event]) -> StreamState | None:
        """Check and account one non-empty DATA frame; returns the stream to deliver to."""
        if length > MAX_FRAME_PAYLOAD:
            raise _error(ErrorCode.FRAME_SIZE_ERROR, f"DATA of {length} bytes")
        if not sid:
            raise _error(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0")
        window = self._window
        if length > window.recv:
            raise _error(ErrorCode.FLOW_CONTROL_ERROR, "DATA beyond the connection window")
        window.recv -= length
        stream = self._streams.get(sid)
        if stream is None:
            if sid > self._highest:
                raise self._unknown_stream("DATA", sid)
            self._release_connection(length)  # stream already gone: discard, return credit
            return None
        if stream.remote_closed or (self._is_edge and not stream.answered):
            code = ErrorCode.STREAM_CLOSED if stream.remote_closed else ErrorCode.PROTOCOL_ERROR
            self._stream_error(stream, code, events)
            self._release_connection(length)
            return None
        if length > stream.recv_window:
            raise _error(ErrorCode.FLOW_CONTROL_ERROR, f"DATA beyond stream {sid} window")
        stream.recv_window -= length
        stream.unacked += length
        return stream

    def _on_empty_data(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        """A DATA frame without payload: only its FIN matters."""
        stream = self._streams.get(sid)
        if stream is None:
            if sid > self._highest:
                raise self._unknown_stream("DATA", sid)
            return
        if stream.remote_closed or (self._is_edge and not stream.answered):
            code = ErrorCode.STREAM_CLOSED if stream.remote_closed else ErrorCode.PROTOCOL_ERROR
            self._stream_error(stream, code, events)
        elif flags & _FIN:
            self._end_remote(stream, events)

    def _end_remote(self, stream: StreamState, events: list[Event]) -> None:
        stream.remote_closed = True
        stream.pending = 0
        events.append(StreamEnded(stream.stream_id))
        if stream.local_closed:
            self._forget(stream)

    # -- registration ------------------------------------------------------------------

    def _on_register(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        if len(payload) < U16.size:
            raise _error(ErrorCode.PROTOCOL_ERROR, "truncated REGISTER")
        version = U16.unpack_from(payload)[0]
        if version != MUX_VERSION:
            refusal = RegisterRefusal(ErrorCode.UNSUPPORTED_VERSION)
            self._write(_T.REGISTER_FAILED, 0, 0, encode_refusal(refusal))
            self._set_state(_CLOSED)  # the refusal replaces the GOAWAY
            raise _error(ErrorCode.UNSUPPORTED_VERSION, f"connector mux version {version}")
        settings = decode_settings(payload[U16.size :])
        request = decode_register(payload[U16.size + SETTINGS_SIZE :])
        self._adopt(settings)
        self._set_state(State.REGISTERING)
        events.append(RegisterReceived(request))

    def _on_registered(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        settings = decode_settings(payload)
        info = decode_registered(payload[SETTINGS_SIZE:])
        self._adopt(settings)
        self._set_state(_OPEN)
        events.append(Registered(info))

    def _on_register_failed(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        refusal = decode_refusal(payload)
        self._set_state(_CLOSED)
        events.append(RegistrationRefused(refusal.code, refusal.message, refusal.retry_after))

    def _adopt(self, settings: Settings) -> None:
        self._peer_settings = settings
        self._window.send = settings.connection_window

    # -- stream control ----------------------------------------------------------------

    def _on_stream_open(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        if not sid & 1 or sid <= self._highest:
            raise _error(
                ErrorCode.PROTOCOL_ERROR, f"STREAM_OPEN with stream id {sid} not odd and increasing"
            )
        if self._goaway_received is not None and sid > self._goaway_received:
            raise _error(ErrorCode.PROTOCOL_ERROR, f"STREAM_OPEN {sid} above the edge's GOAWAY")
        self._highest = sid
        if self._goaway_sent is not None and sid > self._goaway_sent:
            return  # we announced GOAWAY below it: ignored; the edge refuses it itself
        if len(self._streams) >= self.local_settings.max_concurrent_streams:
            self._write_reset(sid, ErrorCode.REFUSED_STREAM)
            return
        try:
            meta = decode_stream_open(payload)
        except TunnelProtocolError:
            self._write_reset(sid, ErrorCode.PROTOCOL_ERROR)  # malformed head: stream error
            return
        peer = self._peer_settings
        assert peer is not None
        stream = StreamState(sid, peer.stream_window, self.local_settings.stream_window)
        self._streams[sid] = stream
        end = bool(flags & _FIN)
        events.append(StreamOpened(sid, meta, end))
        if end:
            self._end_remote(stream, events)

    def _on_stream_open_ack(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        stream = self._streams.get(sid)
        if stream is None:
            if sid > self._highest:
                raise self._unknown_stream("STREAM_OPEN_ACK", sid)
            return
        if stream.answered:
            self._stream_error(stream, ErrorCode.PROTOCOL_ERROR, events)
            return
        if flags & FLAG_ERROR:
            code, reason = decode_open_error(payload)
            self._drop_stream(stream)
            events.append(StreamRejected(sid, code, reason))
            return
        try:
            meta = decode_response(payload)
        except TunnelProtocolError:
            self._write_reset(sid, ErrorCode.PROTOCOL_ERROR)
            self._drop_stream(stream)
            events.append(StreamReset(sid, ErrorCode.PROTOCOL_ERROR, remote=False))
            return
        stream.answered = True
        end = bool(flags & _FIN)
        events.append(ResponseHead(sid, meta, end))
        if end:
            self._end_remote(stream, events)

    def _on_reset(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        stream = self._streams.get(sid)
        if stream is None:
            if sid > self._highest:
                raise self._unknown_stream("RESET", sid)
            return
        self._drop_stream(stream)
        events.append(StreamReset(sid, ErrorCode.from_wire(U32.unpack_from(payload)[0])))

    def _on_window_update(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        increment = U32.unpack_from(payload)[0]
        if not sid:
            if not increment:
                raise _error(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            if not self._window.grant(increment):
                raise _error(ErrorCode.FLOW_CONTROL_ERROR, "connection window overflow")
            events.append(WindowUpdated(0, increment))
            return
        stream = self._streams.get(sid)
        if stream is None:
            if sid > self._highest:
                raise self._unknown_stream("WINDOW_UPDATE", sid)
            return
        if not increment:
            self._stream_error(stream, ErrorCode.PROTOCOL_ERROR, events)
        elif not stream.grant(increment):
            self._stream_error(stream, ErrorCode.FLOW_CONTROL_ERROR, events)
        elif not stream.local_closed:
            events.append(WindowUpdated(sid, increment))

    # -- connection control ------------------------------------------------------------

    def _on_ping(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        data = bytes(payload)
        self._write(_T.PONG, 0, 0, data)
        events.append(PingReceived(data))

    def _on_pong(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        events.append(PongReceived(bytes(payload)))

    def _on_goaway(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        goaway = decode_goaway(payload)
        last = goaway.last_stream_id
        previous = self._goaway_received
        if previous is not None and last > previous:
            raise _error(ErrorCode.PROTOCOL_ERROR, "GOAWAY raised its last stream id")
        self._goaway_received = last
        events.append(GoAwayReceived(last, goaway.code, goaway.reason))
        if goaway.code is not ErrorCode.NO_ERROR:
            self._set_state(_CLOSED)
            events.append(ConnectionTerminated(goaway.code, goaway.reason))
            return
        if self._is_edge:  # streams the connector never accepted: safe to retry elsewhere
            for stream_id in [s for s in self._streams if s > last]:
                self._drop_stream(self._streams[stream_id])
                events.append(StreamReset(stream_id, ErrorCode.REFUSED_STREAM))

    def _on_datagram(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        events.append(DatagramReceived(sid, bytes(payload)))

    def _on_config_push(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        if len(payload) < U64.size:
            raise _error(ErrorCode.FRAME_SIZE_ERROR, "truncated CONFIG_PUSH")
        version = U64.unpack_from(payload)[0]
        if self._config_version is None:
            self._config_version = version
        elif version != self._config_version:
            raise _error(ErrorCode.PROTOCOL_ERROR, "CONFIG_PUSH fragments of two versions")
        buf = self._config
        buf += payload[U64.size :]
        if len(buf) > MAX_CONFIG_SNAPSHOT:
            raise _error(ErrorCode.LIMIT_EXCEEDED, "config snapshot too large")
        if not flags & FLAG_MORE:
            events.append(ConfigPushed(version, bytes(buf)))
            buf.clear()
            self._config_version = None

    def _on_config_ack(
        self, flags: int, sid: int, payload: memoryview | bytes, events: list[Event]
    ) -> None:
        ack = decode_config_ack(payload)
        events.append(ConfigAcknowledged(ack.version, ack.applied, ack.reason))
