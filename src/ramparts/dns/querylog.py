"""The query log: records appended on the hot path (one tuple), written to the store in
batches by a background task, with retention.

Appending never blocks and never touches the database: a full buffer drops records (and
counts them), so a slow or unreachable database cannot slow answers down.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import dns.rcode
import dns.rdatatype

from ramparts.store import Database
from ramparts.store.repositories import dns_queries

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0
"""Seconds between batch writes: the log is at most this far behind."""
MAX_BATCH = 5_000
"""Rows per INSERT statement (and per flush round)."""
MAX_PENDING = 200_000
"""Records buffered while the database is slow; beyond this new records are dropped."""
RETENTION_INTERVAL = 600.0
"""Seconds between retention purges."""
QNAME_LOG_MAX = 253


class QueryRecord(NamedTuple):
    at: float  # wall-clock seconds
    protocol: str
    src_ip: str
    location_id: str
    location_name: str
    qname: str
    qtype: int
    decision: str
    rule_id: str
    rule_name: str
    upstream: str
    rcode: int
    cached: bool
    latency_us: int


@functools.lru_cache(maxsize=512)
def _type_text(qtype: int) -> str:
    return dns.rdatatype.to_text(qtype)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=64)
def _rcode_text(rcode: int) -> str:
    try:
        return dns.rcode.to_text(rcode)  # type: ignore[arg-type]
    except ValueError:
        return str(rcode)


def _row(r: QueryRecord, edge: str) -> tuple[Any, ...]:
    """A tuple in ``dns_queries.ROW_COLUMNS`` order."""
    return (
        dt.datetime.fromtimestamp(r.at, dt.UTC),
        edge,
        r.location_id or None,
        r.location_name,
        r.protocol,
        r.src_ip[:45],
        r.qname[:QNAME_LOG_MAX],
        _type_text(r.qtype)[:16],
        r.decision,
        r.rule_id[:64],
        r.rule_name[:64],
        r.upstream[:64],
        _rcode_text(r.rcode)[:12],
        r.cached,
        min(r.latency_us, 2**31 - 1),
    )


class QueryLog:
    """Buffer + writer task. ``retention_days`` is read at each purge (it follows snapshots)."""

    def __init__(
        self,
        db: Database | None,
        edge: str,
        retention_days: Callable[[], int] = lambda: 7,
        flush_interval: float = FLUSH_INTERVAL,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._db = db
        self._edge = edge
        self._retention_days = retention_days
        self._flush_interval = flush_interval
        self._max_pending = max_pending
        self.pending: list[QueryRecord] = []
        self.written = 0
        self.dropped = 0
        self.failed_writes = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_purge = 0.0

    def append(self, record: QueryRecord) -> None:
        pending = self.pending
        if len(pending) < self._max_pending:
            pending.append(record)
        else:
            self.dropped += 1

    def start(self) -> None:
        if self._db is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="dns-query-log")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            self._wake.clear()
            try:
                await self.flush()
                now = time.monotonic()
                if now - self._last_purge >= RETENTION_INTERVAL:
                    self._last_purge = now
                    await asyncio.to_thread(self._purge)
            except Exception as exc:  # the database may be down: keep buffering, retry later
                self.failed_writes += 1
                log.warning("DNS query log write failed", extra={"reason": repr(exc)})

    async def flush(self) -> int:
        """Write everything buffered so far; returns the number of rows written."""
        if self._db is None or not self.pending:
            return 0
        batch, self.pending = self.pending, []
        try:
            written = await asyncio.to_thread(self._write, batch)
        except BaseException:
            # Put the batch back (oldest first) within the buffer bound, then re-raise.
            room = max(0, self._max_pending - len(self.pending))
            self.dropped += max(0, len(batch) - room)
            self.pending = batch[:room] + self.pending
            raise
        self.written += written
        return written

    def _write(self, batch: list[QueryRecord]) -> int:
        assert self._db is not None
        edge = self._edge
        with self._db.transaction() as session:
            for start in range(0, len(batch), MAX_BATCH):
                dns_queries.insert_rows(
                    session, [_row(r, edge) for r in batch[start : start + MAX_BATCH]]
                )
        return len(batch)

    def _purge(self) -> None:
        assert self._db is not None
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self._retention_days())
        while True:
            with self._db.transaction() as session:
                if dns_queries.purge_before(session, cutoff) < dns_queries.PURGE_BATCH:
                    return
