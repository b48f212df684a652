"""``TunnelConnection``: the sans-IO state machine of one edge<->connector TCP mux connection.

Bytes in (``receive_data``) give events; API calls queue frames; ``data_to_send`` gives bytes
out. No I/O, no clock. The frame decoder (``receive_data`` and the frame handlers) lives in
``decoder.FrameDecoder``, which this class extends with the sending API.
"""

from __future__ import annotations

from .control import (
    ConfigAck,
    GoAway,
    RegisteredInfo,
    RegisterRefusal,
    RegisterRequest,
    encode_config_ack,
    encode_goaway,
    encode_refusal,
    encode_register,
    encode_registered,
)
from .core import Role, State
from .decoder import FrameDecoder
from .errors import (
    ConnectionClosed,
    ErrorCode,
    FlowControlBlocked,
    StreamClosed,
    StreamIdsExhausted,
    TooManyStreams,
    TunnelUsageError,
)
from .flow import StreamState
from .frames import FLAG_ERROR, FLAG_FIN, FLAG_MORE, HEADER, U16, U64, FrameType
from .limits import (
    DEFAULT_MAX_DATA_FRAME,
    MAX_CONFIG_SNAPSHOT,
    MAX_DATAGRAM_PAYLOAD,
    MAX_FRAME_PAYLOAD,
    MAX_STREAM_ID,
    MUX_VERSION,
    PING_PAYLOAD_SIZE,
)
from .metadata import (
    ResponseMeta,
    StreamMeta,
    encode_open_error,
    encode_response,
    encode_stream_open,
)
from .settings import Settings, encode_settings

_DATA = FrameType.DATA
_OPEN = State.OPEN


class TunnelConnection(FrameDecoder):
    """One side (edge or connector) of a tunnel connection.

    The connector calls ``register``; the edge answers the ``RegisterReceived`` event with
    ``accept_registration`` or ``refuse_registration``. Then the edge opens streams, the
    connector answers each with ``respond`` or ``reject_stream``, and both send DATA within
    ``max_send`` and return credit with ``acknowledge_received``.
    """

    def __init__(
        self,
        role: Role,
        settings: Settings | None = None,
        *,
        max_data_frame: int = DEFAULT_MAX_DATA_FRAME,
    ) -> None:
        if not 1 <= max_data_frame <= MAX_FRAME_PAYLOAD:
            raise TunnelUsageError(f"max_data_frame must be in [1, {MAX_FRAME_PAYLOAD}]")
        super().__init__(role, (settings or Settings()).checked())
        self._max_data_frame = max_data_frame
        # The header of the last DATA frame queued and its stream (a FIN may join it).
        self._open_data: tuple[bytes, int] | None = None

    # -- state -------------------------------------------------------------------------

    @property
    def is_registered(self) -> bool:
        return self._state is State.OPEN

    @property
    def is_closed(self) -> bool:
        return self._state is State.CLOSED

    @property
    def open_stream_count(self) -> int:
        return len(self._streams)

    @property
    def is_draining(self) -> bool:
        """A GOAWAY was sent or received: no new streams."""
        return self._goaway_sent is not None or self._goaway_received is not None

    @property
    def is_drained(self) -> bool:
        """Draining and no stream left: the driver may close the transport."""
        return self.is_draining and not self._streams

    @property
    def last_stream_id(self) -> int:
        """Highest stream id opened (edge) or seen (connector) so far."""
        return self._highest

    # -- output ------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """All queued bytes, once (empty when nothing is queued)."""
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    @property
    def has_output(self) -> bool:
        """Bytes are queued (a driver need not schedule a flush otherwise)."""
        return bool(self._out)

    def buffers_to_send(self) -> list[bytes | memoryview]:
        """Queued bytes as a list for ``writelines`` (no join copy); the queue is emptied."""
        out = self._out
        self._out = []
        return out

    # -- registration ------------------------------------------------------------------

    def register(self, request: RegisterRequest) -> None:
        """Connector: send REGISTER (first frame of the connection)."""
        self._require_role(Role.CONNECTOR)
        if self._state is not State.IDLE:
            raise ConnectionClosed("register() is only valid once, on a fresh connection")
        payload = U16.pack(MUX_VERSION) + encode_settings(self.local_settings)
        self._write(FrameType.REGISTER, 0, 0, payload + encode_register(request))
        self._set_state(State.REGISTERING)

    def accept_registration(self, info: RegisteredInfo) -> None:
        """Edge: accept the pending REGISTER."""
        self._require_role(Role.EDGE)
        self._require_state(State.REGISTERING, "no registration is pending")
        self._write(
            FrameType.REGISTERED,
            0,
            0,
            encode_settings(self.local_settings) + encode_registered(info),
        )
        self._set_state(State.OPEN)

    def refuse_registration(
        self, code: ErrorCode = ErrorCode.UNAUTHORIZED, retry_after: int = 0
    ) -> None:
        """Edge: refuse the pending REGISTER and close. The wire carries only the code."""
        self._require_role(Role.EDGE)
        self._require_state(State.REGISTERING, "no registration is pending")
        self._write(
            FrameType.REGISTER_FAILED, 0, 0, encode_refusal(RegisterRefusal(code, retry_after))
        )
        self._set_state(State.CLOSED)

    # -- streams -----------------------------------------------------------------------

    def open_stream(self, meta: StreamMeta, *, end_stream: bool = False) -> int:
        """Edge: open a stream (end_stream: the request has no body); returns its id."""
        self._require_role(Role.EDGE)
        self._require_state(_OPEN, "connection is not registered")
        if self.is_draining:
            raise ConnectionClosed("GOAWAY: no new streams on this connection")
        peer = self._peer_settings
        assert peer is not None
        if len(self._streams) >= peer.max_concurrent_streams:
            raise TooManyStreams(f"peer allows {peer.max_concurrent_streams} streams")
        stream_id = self._highest + 2 if self._highest else 1
        if stream_id > MAX_STREAM_ID:
            raise StreamIdsExhausted("stream ids spent; send GOAWAY and let the connector redial")
        payload = encode_stream_open(meta)
        self._highest = stream_id
        stream = StreamState(stream_id, peer.stream_window, self.local_settings.stream_window)
        stream.local_closed = end_stream
        self._streams[stream_id] = stream
        self._write(FrameType.STREAM_OPEN, FLAG_FIN if end_stream else 0, stream_id, payload)
        return stream_id

    def respond(self, stream_id: int, meta: ResponseMeta, *, end_stream: bool = False) -> None:
        """Connector: answer a StreamOpened with the response head (or 200 for a dial)."""
        self._require_role(Role.CONNECTOR)
        stream = self._live_stream(stream_id)
        if stream.answered:
            raise TunnelUsageError(f"stream {stream_id} already answered")
        payload = encode_response(meta)
        stream.answered = True
        self._write(FrameType.STREAM_OPEN_ACK, FLAG_FIN if end_stream else 0, stream_id, payload)
        if end_stream:
            self._close_local(stream)

    def reject_stream(self, stream_id: int, code: ErrorCode, reason: str = "") -> None:
        """Connector: the stream could not be opened (origin down, no rule...); it is gone."""
        self._require_role(Role.CONNECTOR)
        stream = self._live_stream(stream_id)
        if stream.answered:
            raise TunnelUsageError(f"stream {stream_id} already answered; use reset_stream")
        self._write(
            FrameType.STREAM_OPEN_ACK, FLAG_ERROR, stream_id, encode_open_error(code, reason)
        )
        self._drop_stream(stream)

    def max_send(self, stream_id: int) -> int:
        """Bytes send_data accepts now on this stream (0 if closed or blocked)."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.local_closed or self._state is not _OPEN:
            return 0
        if not (stream.answered or self._is_edge):
            return 0
        window = stream.send_window
        conn = self._window.send
        return window if window < conn else conn

    def send_data(
        self, stream_id: int, data: bytes | bytearray | memoryview, *, end_stream: bool = False
    ) -> None:
        """Queue stream bytes as DATA frames; ``len(data)`` must be <= ``max_send``."""
        if self._state is not _OPEN:
            raise ConnectionClosed("connection is not open")
        stream = self._streams.get(stream_id)
        if stream is None or stream.local_closed:
            raise StreamClosed(stream_id)
        if not (stream.answered or self._is_edge):
            raise TunnelUsageError(f"stream {stream_id}: respond() before sending data")
        n = len(data)
        window = self._window
        if n > stream.send_window or n > window.send:
            raise FlowControlBlocked(f"stream {stream_id}: {n} bytes > max_send")
        out = self._out
        fin = FLAG_FIN if end_stream else 0
        if n:
            if type(data) is not bytes and not (
                type(data) is memoryview and type(data.obj) is bytes and data.c_contiguous
            ):
                data = bytes(data)  # the caller may change a mutable buffer after this call
            stream.send_window -= n
            window.send -= n
            limit = self._max_data_frame
            if n <= limit:
                header = HEADER.pack(_DATA, fin, stream_id, n)
                out += (header, data)
            else:
                view = memoryview(data)
                for start in range(0, n, limit):
                    chunk = view[start : start + limit]
                    flags = fin if start + limit >= n else 0
                    header = HEADER.pack(_DATA, flags, stream_id, len(chunk))
                    out += (header, chunk)
            if not end_stream:
                self._open_data = (header, stream_id)
        elif end_stream:
            last = self._open_data
            if last is not None and last[1] == stream_id and len(out) >= 2 and out[-2] is last[0]:
                # The stream's last DATA frame is still queued: it carries the FIN instead of
                # an empty frame of its own.
                out[-2] = HEADER.pack(_DATA, fin, stream_id, len(out[-1]))
            else:
                out.append(HEADER.pack(_DATA, fin, stream_id, 0))
        if end_stream:
            self._open_data = None
            self._close_local(stream)

    def end_stream(self, stream_id: int) -> None:
        """Half-close: no more data from this side."""
        self.send_data(stream_id, b"", end_stream=True)

    def reset_stream(self, stream_id: int, code: ErrorCode = ErrorCode.CANCEL) -> None:
        """Abort a stream both ways. A no-op for streams that are already gone."""
        if self._state is State.CLOSED:
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id > self._highest:
                raise StreamClosed(stream_id, "stream was never opened")
            return
        self._write_reset(stream_id, code)
        self._drop_stream(stream)

    def acknowledge_received(self, stream_id: int, n: int) -> None:
        """The application consumed ``n`` bytes of DataReceived; returns flow-control credit.

        Bytes of a stream that was reset need no acknowledgement (they are credited then).
        """
        if n <= 0 or self._state is State.CLOSED:
            if n < 0:
                raise TunnelUsageError("negative acknowledgement")
            return
        stream = self._streams.get(stream_id)
        if stream is not None:
            if n > stream.unacked:
                raise TunnelUsageError(f"stream {stream_id}: acknowledged more than received")
            increment = stream.release(n)
            if increment:
                self._write_window_update(stream_id, increment)
        else:
            left = self._lingering.get(stream_id)
            if left is None:
                return
            if n > left:
                raise TunnelUsageError(f"stream {stream_id}: acknowledged more than received")
            if n == left:
                del self._lingering[stream_id]
            else:
                self._lingering[stream_id] = left - n
        self._release_connection(n)

    # -- connection-level messages -----------------------------------------------------

    def ping(self, payload: bytes) -> None:
        """Send PING with 8 opaque bytes; the peer's PONG comes back as PongReceived."""
        self._require_state(_OPEN, "connection is not registered")
        if len(payload) != PING_PAYLOAD_SIZE:
            raise TunnelUsageError(f"ping payload must be {PING_PAYLOAD_SIZE} bytes")
        self._write(FrameType.PING, 0, 0, bytes(payload))

    def send_datagram(self, flow_id: int, payload: bytes) -> None:
        """Send one unreliable datagram (not flow-controlled)."""
        self._require_state(_OPEN, "connection is not registered")
        if len(payload) > MAX_DATAGRAM_PAYLOAD:
            raise TunnelUsageError(f"datagram larger than {MAX_DATAGRAM_PAYLOAD} bytes")
        if not 0 <= flow_id <= MAX_STREAM_ID:
            raise TunnelUsageError("flow id must be a u32")
        self._write(FrameType.DATAGRAM, 0, flow_id, bytes(payload))

    def goaway(self, reason: str = "") -> None:
        """Graceful shutdown: no new streams; in-flight streams finish (see is_drained)."""
        if self._state is State.CLOSED:
            return
        last = self._highest
        if self._goaway_sent is not None:
            last = min(last, self._goaway_sent)
        self._goaway_sent = last
        self._write(FrameType.GOAWAY, 0, 0, encode_goaway(GoAway(last, ErrorCode.NO_ERROR, reason)))

    def close(self, code: ErrorCode = ErrorCode.NO_ERROR, reason: str = "") -> None:
        """Terminate now: GOAWAY with ``code``; every stream is gone. Flush data_to_send."""
        if self._state is State.CLOSED:
            return
        self._write(FrameType.GOAWAY, 0, 0, encode_goaway(GoAway(self._highest, code, reason)))
        self._set_state(State.CLOSED)

    def push_config(self, version: int, snapshot: bytes) -> None:
        """Edge: send a versioned config snapshot (fragmented into CONFIG_PUSH frames)."""
        self._require_role(Role.EDGE)
        self._require_state(_OPEN, "connection is not registered")
        if len(snapshot) > MAX_CONFIG_SNAPSHOT:
            raise TunnelUsageError(f"config snapshot larger than {MAX_CONFIG_SNAPSHOT} bytes")
        if not 0 <= version < 1 << 64:
            raise TunnelUsageError("config version must be a u64")
        prefix = U64.pack(version)
        step = MAX_FRAME_PAYLOAD - len(prefix)
        starts = range(0, len(snapshot), step) if snapshot else range(1)
        for start in starts:
            more = FLAG_MORE if start + step < len(snapshot) else 0
            self._write(FrameType.CONFIG_PUSH, more, 0, prefix + snapshot[start : start + step])

    def ack_config(self, version: int, applied: bool, reason: str = "") -> None:
        """Connector: report whether a pushed snapshot was applied."""
        self._require_role(Role.CONNECTOR)
        self._require_state(_OPEN, "connection is not registered")
        self._write(
            FrameType.CONFIG_ACK, 0, 0, encode_config_ack(ConfigAck(version, applied, reason))
        )

    # -- helpers -----------------------------------------------------------------------

    def _require_role(self, role: Role) -> None:
        if self.role is not role:
            raise TunnelUsageError(f"only the {role.value} may do this")

    def _require_state(self, state: State, message: str) -> None:
        if self._state is not state:
            raise ConnectionClosed(message)

    def _live_stream(self, stream_id: int) -> StreamState:
        if self._state is not _OPEN:
            raise ConnectionClosed("connection is not open")
        stream = self._streams.get(stream_id)
        if stream is None:
            raise StreamClosed(stream_id)
        return stream
