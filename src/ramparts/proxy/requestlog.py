"""The proxy's request log: one record per request or tunnel, written to the store in batches.

Records are plain tuples appended on the request path (no I/O there); a task of the proxy
service flushes them every ``FLUSH_INTERVAL`` seconds in a worker thread. When the store is
down or slower than the traffic, at most ``MAX_PENDING`` records wait; older ones are dropped
and counted (the log never holds the proxy back).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import deque
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from ramparts.proxy.limits import MAX_URL_LOGGED
from ramparts.store import Database, StoreUnavailable
from ramparts.store.repositories import proxy_requests

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0
"""Seconds between batch writes."""
MAX_PENDING = 100_000
"""Records kept while the store is unreachable (about 30 MB); older ones are dropped."""
MAX_BATCH = 5_000
"""Rows per INSERT statement batch."""
RETENTION_DAYS = 7
"""Days of records kept (the DNS query log keeps the same by default)."""
PURGE_INTERVAL = 600.0
"""Seconds between retention purges."""
HOST_LOGGED = 253


@dataclass(frozen=True, slots=True)
class RequestRecord:
    at: dt.datetime
    endpoint_id: str | None
    endpoint_name: str
    src_ip: str
    user_email: str
    kind: str  # http | connect | inspected
    method: str
    host: str
    url: str
    decision: str
    policy_id: str
    policy_name: str
    status: int
    bytes_up: int
    bytes_down: int
    duration_us: int

    def row(self, edge: str) -> dict[str, object]:
        return {
            "at": self.at,
            "edge": edge[:128],
            "endpoint_id": self.endpoint_id,
            "endpoint_name": self.endpoint_name[:200],
            "src_ip": self.src_ip[:45],
            "user_email": self.user_email[:254],
            "kind": self.kind,
            "method": self.method[:16],
            "host": self.host[:HOST_LOGGED],
            "url": self.url[:MAX_URL_LOGGED],
            "decision": self.decision,
            "policy_id": self.policy_id[:64],
            "policy_name": self.policy_name[:200],
            "status": self.status,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "duration_us": self.duration_us,
        }


class RequestLog:
    def __init__(self, db: Database | None, edge: str, registry: CollectorRegistry) -> None:
        self._db = db
        self._edge = edge
        self._pending: deque[RequestRecord] = deque(maxlen=MAX_PENDING)
        self._task: asyncio.Task[None] | None = None
        self._last_purge = 0.0
        self.requests = Counter(
            "ramparts_proxy_requests",
            "Proxied requests and tunnels by kind and decision",
            ["kind", "decision"],
            registry=registry,
        )
        self.bytes = Counter(
            "ramparts_proxy_bytes",
            "Bytes carried by the proxy (up: client to destination)",
            ["direction"],
            registry=registry,
        )
        self.dropped = Counter(
            "ramparts_proxy_log_dropped",
            "Request-log records dropped because the store was unavailable or slow",
            registry=registry,
        )
        self._up = self.bytes.labels("up")
        self._down = self.bytes.labels("down")
        self._by_decision: dict[tuple[str, str], Counter] = {}

    def add(self, record: RequestRecord) -> None:
        key = (record.kind, record.decision)
        counter = self._by_decision.get(key)
        if counter is None:
            counter = self._by_decision[key] = self.requests.labels(*key)
        counter.inc()
        if record.bytes_up:
            self._up.inc(record.bytes_up)
        if record.bytes_down:
            self._down.inc(record.bytes_down)
        if len(self._pending) == MAX_PENDING:
            self.dropped.inc()
        self._pending.append(record)

    def start(self) -> None:
        if self._db is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="proxy-log")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def flush(self) -> None:
        """Write what is pending now (also called at stop)."""
        if self._db is None or not self._pending:
            return
        batch = [self._pending.popleft() for _ in range(min(len(self._pending), MAX_BATCH * 4))]
        rows = [r.row(self._edge) for r in batch]
        try:
            await asyncio.to_thread(self._write, rows)
        except StoreUnavailable as exc:
            log.warning("proxy log not written", extra={"reason": str(exc), "rows": len(rows)})
            room = MAX_PENDING - len(self._pending)
            if room > 0:  # back in front, newest kept when there is not room for all
                self._pending.extendleft(reversed(batch[-room:]))
            self.dropped.inc(max(0, len(batch) - room))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            await self.flush()
            if loop.time() - self._last_purge > PURGE_INTERVAL:
                self._last_purge = loop.time()
                await asyncio.to_thread(self._purge)

    def _write(self, rows: list[dict[str, object]]) -> None:
        assert self._db is not None
        with self._db.transaction() as session:
            for start in range(0, len(rows), MAX_BATCH):
                proxy_requests.insert_batch(session, rows[start : start + MAX_BATCH])

    def _purge(self) -> None:
        assert self._db is not None
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=RETENTION_DAYS)
        try:
            with self._db.transaction() as session:
                proxy_requests.purge_older_than(session, cutoff)
        except StoreUnavailable as exc:
            log.warning("proxy log purge failed", extra={"reason": str(exc)})
