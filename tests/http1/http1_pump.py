"""Helpers for the HTTP/1.1 tests: drain events, merge body pieces, feed in splits."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ramparts.http1 import (
    NEED_DATA,
    PAUSED,
    ClientConnection,
    Data,
    EndOfMessage,
    Event,
    ServerConnection,
)


def drain(conn: ServerConnection | ClientConnection) -> list[Event]:
    """Every event available now (stops at NEED_DATA, PAUSED or ConnectionClosed)."""
    out: list[Event] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA or event is PAUSED:
            return out
        out.append(event)  # type: ignore[arg-type]
        if type(event).__name__ == "ConnectionClosed":
            return out


def merged(events: Iterable[Event]) -> list[Any]:
    """Events with consecutive Data pieces joined into one bytes value (splits disappear)."""
    out: list[Any] = []
    for event in events:
        if isinstance(event, Data):
            if out and isinstance(out[-1], bytes):
                out[-1] += bytes(event.data)
            else:
                out.append(bytes(event.data))
        elif isinstance(event, EndOfMessage):
            out.append(("end", list(event.trailers)))
        else:
            out.append(event)
    return out


def feed_in_pieces(
    conn: ServerConnection | ClientConnection, data: bytes, cuts: Iterable[int], eof: bool
) -> list[Event]:
    """Feed ``data`` cut at ``cuts`` offsets, draining after every piece."""
    events: list[Event] = []
    last = 0
    for cut in sorted(set(cuts)):
        if 0 < cut < len(data):
            conn.feed(data[last:cut])
            events += drain(conn)
            last = cut
    conn.feed(data[last:])
    events += drain(conn)
    if eof:
        conn.feed_eof()
        events += drain(conn)
    return events


def server_events(data: bytes, eof: bool = False) -> list[Any]:
    conn = ServerConnection()
    conn.feed(data)
    events = drain(conn)
    if eof:
        conn.feed_eof()
        events += drain(conn)
    return merged(events)
