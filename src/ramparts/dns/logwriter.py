"""Writing query-log records to the store: row conversion, batched inserts, retention; and the
writer process (``python -m ramparts.dns.logwriter``) that does it away from the resolver.

Why a process: converting and inserting tens of thousands of rows a second is Python work
that, in a thread, holds the GIL for whole switch intervals and adds milliseconds to the
resolver's answers. The resolver process only serialises batches (``marshal``, C speed) and
writes them to the child's stdin.

Frames on stdin: 4-octet big-endian length, then ``marshal`` of ``(retention_days, records)``.
Answers on stdout, one line per frame: ``ok N`` or ``dropped N``. EOF on stdin: exit.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import marshal
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import dns.rcode
import dns.rdatatype

from ramparts import logs
from ramparts.store import Database
from ramparts.store.repositories import dns_queries

log = logging.getLogger(__name__)

QNAME_LOG_MAX = 253
MAX_LATENCY_US = 2**31 - 1  # the column is a 32-bit integer
RETENTION_INTERVAL = 600.0
"""Seconds between retention purges."""
RETRY_DELAY = 1.0
"""Seconds before the one retry of a failed batch (the database may be restarting)."""
FRAME_HEADER = 4
MAX_FRAME = 64 * 1024 * 1024
"""Largest frame accepted from the resolver (far above one flush slice)."""


@functools.lru_cache(maxsize=512)
def _type_text(qtype: int) -> str:
    try:
        return dns.rdatatype.to_text(qtype)[:16]  # type: ignore[arg-type]
    except ValueError:
        return f"TYPE{qtype}"


@functools.lru_cache(maxsize=64)
def _rcode_text(rcode: int) -> str:
    try:
        return dns.rcode.to_text(rcode)[:12]  # type: ignore[arg-type]
    except ValueError:
        return str(rcode)


class _SqliteTime:
    """Wall-clock seconds as SQLAlchemy's SQLite datetime text, the date part formatted once
    per second (most rows of a batch share a few seconds)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, at: float) -> str:
        second = int(at)
        if second != self._second:
            self._second = second
            self._prefix = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"{self._prefix}.{int((at - second) * 1_000_000):06d}"


def _aware(at: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(at, dt.UTC)


def _row(r: Sequence[Any], edge: str, time_text: Callable[[float], Any]) -> tuple[Any, ...]:
    """A ``QueryRecord``-shaped tuple as a row in ``dns_queries.ROW_COLUMNS`` order, text cut
    to the column sizes (PostgreSQL refuses longer values, and one row would fail a batch)."""
    at, protocol, src_ip, loc_id, loc_name, qname, qtype, decision, rule_id, rule_name, *rest = r
    upstream, rcode, cached, latency_us = rest
    return (
        time_text(at),
        edge,
        loc_id or None,
        loc_name,
        protocol,
        src_ip[:45],
        qname[:QNAME_LOG_MAX],
        _type_text(qtype),
        decision,
        rule_id[:64],
        rule_name[:64],
        upstream[:64],  # an ad-hoc upstream is named by its (possibly long) address
        _rcode_text(rcode),
        cached,
        latency_us if latency_us < MAX_LATENCY_US else MAX_LATENCY_US,
    )


def write_records(db: Database, edge: str, records: Sequence[Sequence[Any]]) -> int:
    """Insert ``records`` (``QueryRecord``-shaped) in one transaction; returns the count."""
    sqlite = db.engine.dialect.name == "sqlite"
    time_text: Callable[[float], Any] = _SqliteTime() if sqlite else _aware
    rows = [_row(r, edge, time_text) for r in records]
    with db.transaction() as session:
        dns_queries.insert_rows(session, rows, preformatted_time=sqlite)
    return len(rows)


def purge(db: Database, retention_days: int) -> int:
    """Delete rows older than the retention, batch by batch; returns how many."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=retention_days)
    total = 0
    while True:
        with db.transaction() as session:
            removed = dns_queries.purge_before(session, cutoff)
        total += removed
        if removed < dns_queries.PURGE_BATCH:
            return total


def encode_frame(retention_days: int, records: list[tuple[Any, ...]]) -> bytes:
    try:
        body = marshal.dumps((retention_days, records))
    except ValueError:  # tuple subclasses (QueryRecord) are not marshallable as they are
        body = marshal.dumps((retention_days, [tuple(r) for r in records]))
    return len(body).to_bytes(FRAME_HEADER, "big") + body


def _read_exactly(stream: Any, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def serve(stdin: Any, stdout: Any, db: Database, edge: str) -> None:
    """The writer loop: one frame in, one answer line out, until EOF."""
    last_purge = 0.0
    while True:
        head = _read_exactly(stdin, FRAME_HEADER)
        if head is None:
            return
        size = int.from_bytes(head, "big")
        if size > MAX_FRAME:
            log.error("query log frame too large; writer stops", extra={"size": size})
            return
        body = _read_exactly(stdin, size)
        if body is None:
            return
        retention_days, records = marshal.loads(body)  # noqa: S302 - our own parent's frames
        try:
            try:
                written = write_records(db, edge, records)
            except Exception as exc:
                log.warning("query log write failed, retrying", extra={"reason": repr(exc)})
                time.sleep(RETRY_DELAY)
                written = write_records(db, edge, records)
            stdout.write(f"ok {written}\n")
        except Exception as exc:
            log.error("query log batch dropped", extra={"reason": repr(exc), "rows": len(records)})
            stdout.write(f"dropped {len(records)}\n")
        stdout.flush()
        now = time.monotonic()
        if now - last_purge >= RETENTION_INTERVAL:
            last_purge = now
            try:
                purge(db, int(retention_days))
            except Exception as exc:
                log.warning("query log retention purge failed", extra={"reason": repr(exc)})


def main() -> None:
    # Ctrl-C reaches the whole process group: keep writing until the resolver closes our
    # stdin, so its last batch is not lost.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logs.setup(os.environ.get("RAMPARTS_LOG_LEVEL", "warning"), "json")
    db = Database(os.environ["RAMPARTS_DATABASE"])
    try:
        serve(sys.stdin.buffer, sys.stdout, db, os.environ.get("RAMPARTS_EDGE", ""))
    finally:
        db.dispose()


if __name__ == "__main__":
    main()
