"""State shared by both halves of a tunnel connection, and the frame-writing helpers."""

from __future__ import annotations

from enum import Enum

from .control import GoAway, encode_goaway
from .errors import ErrorCode, TunnelProtocolError
from .events import Event, StreamReset
from .flow import ConnectionWindow, StreamState
from .frames import HEADER, U32, FrameType
from .settings import Settings


class Role(Enum):
    EDGE = "edge"
    CONNECTOR = "connector"


class State(Enum):
    IDLE = "idle"  # edge: awaiting REGISTER; connector: register() not called yet
    REGISTERING = "registering"  # edge: deciding; connector: awaiting REGISTERED
    OPEN = "open"
    CLOSED = "closed"


_T = FrameType
_CLOSED = State.CLOSED
_ALWAYS = {_T.GOAWAY}
_AFTER_REGISTRATION = {_T.DATA, _T.RESET, _T.WINDOW_UPDATE, _T.PING, _T.PONG, _T.DATAGRAM}
_ALLOWED: dict[tuple[Role, State], frozenset[int]] = {
    (Role.EDGE, State.IDLE): frozenset(_ALWAYS | {_T.REGISTER}),
    (Role.EDGE, State.REGISTERING): frozenset(_ALWAYS),
    (Role.EDGE, State.OPEN): frozenset(
        _ALWAYS | _AFTER_REGISTRATION | {_T.STREAM_OPEN_ACK, _T.CONFIG_ACK}
    ),
    (Role.CONNECTOR, State.IDLE): frozenset(_ALWAYS),
    (Role.CONNECTOR, State.REGISTERING): frozenset(_ALWAYS | {_T.REGISTERED, _T.REGISTER_FAILED}),
    (Role.CONNECTOR, State.OPEN): frozenset(
        _ALWAYS | _AFTER_REGISTRATION | {_T.STREAM_OPEN, _T.CONFIG_PUSH}
    ),
    (Role.EDGE, State.CLOSED): frozenset(),
    (Role.CONNECTOR, State.CLOSED): frozenset(),
}
"""Frame types a side accepts in each state."""


class ConnectionCore:
    """Streams, windows, state and the output queue of one connection."""

    def __init__(self, role: Role, settings: Settings) -> None:
        self.role = role
        self.local_settings = settings
        self._is_edge = role is Role.EDGE
        self._peer_settings: Settings | None = None
        self._state = State.IDLE
        self._allowed = _ALLOWED[(role, State.IDLE)]
        self._out: list[bytes | memoryview] = []
        self._streams: dict[int, StreamState] = {}
        self._lingering: dict[int, int] = {}  # closed stream id -> bytes not yet acknowledged
        self._highest = 0  # highest stream id opened (edge) / announced (connector)
        self._window = ConnectionWindow(settings.connection_window)
        self._goaway_sent: int | None = None
        self._goaway_received: int | None = None

    @property
    def peer_settings(self) -> Settings | None:
        """The peer's announced settings (None before registration)."""
        return self._peer_settings

    # -- shared helpers ----------------------------------------------------------------

    def _set_state(self, state: State) -> None:
        self._state = state
        self._allowed = _ALLOWED[(self.role, state)]
        if state is _CLOSED:
            for stream in self._streams.values():
                stream.alive = False
            self._streams.clear()

    def _fail(self, exc: TunnelProtocolError) -> None:
        if self._state is not _CLOSED:
            goaway = GoAway(self._highest, exc.code, exc.message)
            self._write(_T.GOAWAY, 0, 0, encode_goaway(goaway))
            self._set_state(_CLOSED)

    def _write(self, ftype: int, flags: int, sid: int, payload: bytes) -> None:
        self._out += (HEADER.pack(ftype, flags, sid, len(payload)), payload)

    def _write_reset(self, sid: int, code: ErrorCode) -> None:
        self._out.append(HEADER.pack(_T.RESET, 0, sid, 4) + U32.pack(code))

    def _write_window_update(self, sid: int, increment: int) -> None:
        self._out.append(HEADER.pack(_T.WINDOW_UPDATE, 0, sid, 4) + U32.pack(increment))

    def _release_connection(self, n: int) -> None:
        increment = self._window.release(n)
        if increment:
            self._write_window_update(0, increment)

    def _stream_error(self, stream: StreamState, code: ErrorCode, events: list[Event]) -> None:
        self._write_reset(stream.stream_id, code)
        self._drop_stream(stream)
        events.append(StreamReset(stream.stream_id, code, remote=False))

    def _drop_stream(self, stream: StreamState) -> None:
        """Remove a reset/rejected stream; its unacknowledged bytes go back to the peer."""
        stream.alive = False
        del self._streams[stream.stream_id]
        if stream.unacked:
            self._release_connection(stream.unacked)
            stream.unacked = 0

    def _close_local(self, stream: StreamState) -> None:
        stream.local_closed = True
        if stream.remote_closed:
            self._forget(stream)

    def _forget(self, stream: StreamState) -> None:
        """Both directions ended: the stream leaves the table (unacked bytes linger)."""
        del self._streams[stream.stream_id]
        stream.alive = False
        if stream.unacked:
            self._lingering[stream.stream_id] = stream.unacked
