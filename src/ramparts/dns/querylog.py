"""The query log: records appended on the hot path (one tuple each), sent in batches to a
writer (``ramparts.dns.logwriter``) by a background task.

Appending never blocks and never touches the database: a full buffer drops records (and
counts them), so a slow or unreachable database cannot slow answers down. The writer is a
child process (``process=True``, what the edge uses: no GIL contention with the resolver) or
a thread (``process=False``, for tools and tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from ramparts.dns.logwriter import RETENTION_INTERVAL, encode_frame, purge, write_records
from ramparts.store import Database

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0
"""Seconds between batch writes: the log is at most this far behind."""
FRAME_RECORDS = 2_000
"""Records per frame to the writer process (one ``marshal.dumps``: about a millisecond)."""
MAX_PENDING = 200_000
"""Records buffered while the writer or the database is slow; beyond this, dropped."""
WRITER_STOP_TIMEOUT = 15.0


class QueryRecord(NamedTuple):
    """Field order of the tuples ``QueryLog.append`` takes (the resolver builds plain tuples)."""

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


class _WriterProcess:
    """The child writing frames to the store, and the task reading its acknowledgements."""

    def __init__(self, log_: QueryLog, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.in_flight = 0
        self.reader = asyncio.create_task(self._acks(log_), name="dns-query-log-acks")

    @classmethod
    async def spawn(cls, log_: QueryLog, db: Database, edge: str) -> _WriterProcess:
        env = dict(os.environ, RAMPARTS_DATABASE=db.url, RAMPARTS_EDGE=edge)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ramparts.dns.logwriter",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        return cls(log_, process)

    async def _acks(self, log_: QueryLog) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while line := await stdout.readline():
            word, _, count = line.decode("ascii", "replace").partition(" ")
            rows = int(count) if count.strip().isdigit() else 0
            self.in_flight = max(0, self.in_flight - rows)
            if word == "ok":
                log_.written += rows
            else:
                log_.dropped += rows

    @property
    def alive(self) -> bool:
        return self.process.returncode is None and not self.reader.done()

    async def send(self, frame: bytes, rows: int) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        self.in_flight += rows
        stdin.write(frame)
        await stdin.drain()

    async def close(self) -> None:
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), WRITER_STOP_TIMEOUT)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.reader, 1.0)


class QueryLog:
    """Buffer + flush task. ``retention_days`` is read at each flush (it follows snapshots)."""

    def __init__(
        self,
        db: Database | None,
        edge: str,
        retention_days: Callable[[], int] = lambda: 7,
        *,
        process: bool = False,
        flush_interval: float = FLUSH_INTERVAL,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._db = db
        self._edge = edge
        self._retention_days = retention_days
        self._process = process
        self._flush_interval = flush_interval
        self._max_pending = max_pending
        self.pending: list[tuple[Any, ...]] = []
        self.written = 0
        self.dropped = 0
        self.failed_writes = 0
        self._task: asyncio.Task[None] | None = None
        self._writer: _WriterProcess | None = None
        self._last_purge = 0.0

    def append(self, record: tuple[Any, ...]) -> None:
        """Buffer one record (a tuple in ``QueryRecord`` field order)."""
        pending = self.pending
        if len(pending) < self._max_pending:
            pending.append(record)
        else:
            self.dropped += 1

    def start(self) -> None:
        if self._db is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="dns-query-log")

    async def stop(self) -> None:
        """Write what is buffered, then stop the writer."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.flush()
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            try:
                await self.flush()
            except Exception as exc:  # keep buffering (bounded), try again next time
                self.failed_writes += 1
                log.warning("DNS query log write failed", extra={"reason": repr(exc)})

    async def flush(self) -> int:
        """Hand everything buffered to the writer; returns the number of records handed."""
        if self._db is None or not self.pending:
            return 0
        batch, self.pending = self.pending, []
        try:
            if self._process:
                await self._send(batch)
            else:
                await self._write_in_thread(batch)
        except BaseException:
            # Put the batch back (oldest first) within the buffer bound, then re-raise.
            room = max(0, self._max_pending - len(self.pending))
            self.dropped += max(0, len(batch) - room)
            self.pending = batch[:room] + self.pending
            raise
        return len(batch)

    async def _send(self, batch: list[tuple[Any, ...]]) -> None:
        assert self._db is not None
        if self._writer is None or not self._writer.alive:
            if self._writer is not None:  # it died: what it had not acknowledged is lost
                self.dropped += self._writer.in_flight
            self._writer = await _WriterProcess.spawn(self, self._db, self._edge)
        retention = self._retention_days()
        for start in range(0, len(batch), FRAME_RECORDS):
            chunk = batch[start : start + FRAME_RECORDS]
            await self._writer.send(encode_frame(retention, chunk), len(chunk))
            await asyncio.sleep(0)  # serve packets between frames

    async def _write_in_thread(self, batch: list[tuple[Any, ...]]) -> None:
        assert self._db is not None
        self.written += await asyncio.to_thread(write_records, self._db, self._edge, batch)
        now = time.monotonic()
        if now - self._last_purge >= RETENTION_INTERVAL:
            self._last_purge = now
            await asyncio.to_thread(purge, self._db, self._retention_days())
