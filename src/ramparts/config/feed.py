"""Delivering new snapshots to an edge: in-process, PostgreSQL LISTEN/NOTIFY, and polling.

Three paths lead to the same refresh, so one missed signal never leaves an edge behind:
- in the same process as the API (``ramparts up``), the store calls us right after a commit;
- on PostgreSQL, the commit's NOTIFY on ``CONFIG_CHANNEL`` wakes every listening edge;
- every ``poll_interval`` the version row is read (SQLite shared by processes; lost NOTIFYs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.engine import make_url

from ramparts.config.snapshot import Snapshot, build_snapshot
from ramparts.store import Database, StoreError
from ramparts.store.database import CONFIG_CHANNEL
from ramparts.store.repositories import versions

log = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 2.0  # seconds between version checks when no notification arrives
LISTEN_RETRY_MAX = 30.0  # backoff cap when the LISTEN connection is lost

SnapshotSubscriber = Callable[[Snapshot], None]


class SnapshotFeed:
    """Holds the current snapshot and replaces it when the store's version moves."""

    def __init__(self, db: Database, poll_interval: float = DEFAULT_POLL_INTERVAL) -> None:
        self._db = db
        self._poll_interval = poll_interval
        self._current: Snapshot | None = None
        self._subscribers: list[SnapshotSubscriber] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.listening = False  # True while a PostgreSQL LISTEN connection is up

    @property
    def current(self) -> Snapshot:
        if self._current is None:
            raise RuntimeError("SnapshotFeed.start() has not completed")
        return self._current

    def subscribe(self, subscriber: SnapshotSubscriber) -> None:
        self._subscribers.append(subscriber)

    async def start(self) -> Snapshot:
        self._loop = asyncio.get_running_loop()
        self._current = await asyncio.to_thread(build_snapshot, self._db)
        self._db.add_version_listener(self._on_local_commit)
        self._tasks.append(asyncio.create_task(self._refresh_loop(), name="snapshot-refresh"))
        if self._db.is_postgres:
            self._tasks.append(asyncio.create_task(self._listen_loop(), name="snapshot-listen"))
        return self._current

    async def stop(self) -> None:
        self._db.remove_version_listener(self._on_local_commit)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _on_local_commit(self, _version: int) -> None:
        # Called from whichever thread committed; hop onto our loop.
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def refresh(self) -> bool:
        """Rebuild if the store's version is newer than ours; True when a new one was swapped in."""
        current = self.current
        latest = await asyncio.to_thread(self._read_version)
        if latest <= current.version:
            return False
        snapshot = await asyncio.to_thread(build_snapshot, self._db)
        if snapshot.version <= current.version:
            return False
        self._current = snapshot
        log.info(
            "configuration snapshot applied",
            extra={"version": snapshot.version, "previous": current.version},
        )
        for subscriber in self._subscribers:
            try:
                subscriber(snapshot)
            except Exception:
                log.exception("snapshot subscriber failed", extra={"version": snapshot.version})
        return True

    def _read_version(self) -> int:
        with self._db.session() as session:
            return versions.current(session)

    async def _refresh_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval)
            self._wake.clear()
            try:
                await self.refresh()
            except StoreError as exc:
                log.warning("snapshot refresh failed", extra={"reason": str(exc)})
            except Exception as exc:  # a database hiccup must not stop the feed
                log.warning("snapshot refresh failed", extra={"reason": repr(exc)})

    async def _listen_loop(self) -> None:
        import psycopg

        conninfo = make_url(self._db.url).set(drivername="postgresql")
        dsn = conninfo.render_as_string(hide_password=False)
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CONFIG_CHANNEL}")
                    self.listening = True
                    delay = 0.5
                    self._wake.set()  # catch up on anything missed while disconnected
                    async for _notify in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("config LISTEN connection lost", extra={"reason": str(exc)})
            finally:
                self.listening = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, LISTEN_RETRY_MAX)
