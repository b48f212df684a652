"""Flow-control bookkeeping (as HTTP/2): per-stream state and the connection window.

A receiver hands out credit (its window); each DATA byte spends it; the application's
``acknowledge_received`` returns it, batched to a quarter window per WINDOW_UPDATE.
"""

from __future__ import annotations

from .limits import MAX_WINDOW, WINDOW_UPDATE_DIVISOR


class ConnectionWindow:
    """Connection-level windows: what we may send, and what the peer may still send us."""

    __slots__ = ("_pending", "_threshold", "recv", "send")

    def __init__(self, recv_window: int) -> None:
        self.send = 0  # set from the peer's settings at registration
        self.recv = recv_window
        self._pending = 0
        self._threshold = max(1, recv_window // WINDOW_UPDATE_DIVISOR)

    def release(self, n: int) -> int:
        """Give back ``n`` consumed bytes; returns the WINDOW_UPDATE increment to send, or 0."""
        pending = self._pending + n
        if pending >= self._threshold:
            self._pending = 0
            self.recv += pending
            return pending
        self._pending = pending
        return 0

    def grant(self, increment: int) -> bool:
        """Peer's WINDOW_UPDATE for the connection; False if it overflows MAX_WINDOW."""
        self.send += increment
        return self.send <= MAX_WINDOW


class StreamState:
    """One live stream as seen by one side."""

    __slots__ = (
        "alive",
        "answered",
        "local_closed",
        "pending",
        "recv_window",
        "remote_closed",
        "send_window",
        "stream_id",
        "threshold",
        "unacked",
    )

    def __init__(self, stream_id: int, send_window: int, recv_window: int) -> None:
        self.stream_id = stream_id
        self.send_window = send_window  # bytes we may still send
        self.recv_window = recv_window  # bytes the peer may still send
        self.threshold = max(1, recv_window // WINDOW_UPDATE_DIVISOR)
        self.pending = 0  # consumed, not yet returned as WINDOW_UPDATE
        self.unacked = 0  # received, not yet acknowledged by the application
        self.answered = False  # STREAM_OPEN_ACK sent (connector) / received (edge)
        self.local_closed = False  # we sent FIN
        self.remote_closed = False  # peer sent FIN
        self.alive = True  # False once removed (reset, rejected, refused)

    def release(self, n: int) -> int:
        """Application consumed ``n`` bytes; returns the stream WINDOW_UPDATE increment or 0."""
        self.unacked -= n
        if self.remote_closed:
            return 0  # the peer will send nothing more: no credit needed
        pending = self.pending + n
        if pending >= self.threshold:
            self.pending = 0
            self.recv_window += pending
            return pending
        self.pending = pending
        return 0

    def grant(self, increment: int) -> bool:
        """Peer's WINDOW_UPDATE for this stream; False if it overflows MAX_WINDOW."""
        self.send_window += increment
        return self.send_window <= MAX_WINDOW
