"""Keeping URL-sourced Gateway lists fresh, inside the control plane (`ramparts up` / `api`).

The engine's :class:`~ramparts.policy.refresh.ListRefresher` downloads (conditional GETs,
backoff) into a disk cache under the data dir; this runner feeds it the lists' current
sources from the store, and writes every new content into the store in one transaction that
bumps the configuration version, so every edge gets it with its next snapshot.

Edges read entries from the store, so a restart serves the last stored copy at once; the disk
cache spares the download after a restart (its age sets the schedule) and restores a list
whose stored entries are missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from ramparts.config.gateway import stored_entries
from ramparts.policy import ListKind, PolicyList
from ramparts.policy.errors import ListFormatError
from ramparts.policy.list_formats import ListFormat, parse_list
from ramparts.policy.refresh import (
    FETCH_TIMEOUT_SECONDS,
    ListCache,
    ListRefresher,
    ListSource,
    RefreshSchedule,
)
from ramparts.store import Database, NotFound
from ramparts.store.repositories import audit, policy_lists, versions

log = logging.getLogger(__name__)

MIN_ROUND_DELAY = 1.0  # seconds between refresh rounds at the least (never a busy loop)

#: Seconds between reads of the list sources when no in-process change wakes us
#: (changes made through another control plane on the same PostgreSQL).
SOURCE_POLL_SECONDS = 30.0
#: Actor recorded in the audit log for refreshes nobody asked for.
ACTOR = "list-refresh"
#: Sub-directory of the data dir holding downloaded lists.
CACHE_DIR = "lists"


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    name: str
    status: str  # ok, unchanged, failed
    error: str = ""
    changed: bool = False


class ListRefreshRunner:
    """Owns one task that refreshes every URL list on its schedule."""

    def __init__(
        self,
        db: Database,
        cache_dir: Path,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        poll_interval: float = SOURCE_POLL_SECONDS,
    ) -> None:
        self._db = db
        self._cache = ListCache(cache_dir)
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True
        )
        self._clock = clock
        self._poll = poll_interval
        self._schedules: dict[str, RefreshSchedule] = {}
        self._sources: dict[str, ListSource] = {}
        self._refresher = ListRefresher((), self._cache, self._on_update, self._client, clock)
        self._locks: dict[str, asyncio.Lock] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._actor = ACTOR
        # Per refresh in flight (one per list at a time, under its lock): who asked, and
        # whether the download changed the stored entries.
        self._actors: dict[str, str] = {}
        self._changed: dict[str, bool] = {}

    async def start(self) -> None:
        """Start the background task; it first restores schedules from the disk cache."""
        self._loop = asyncio.get_running_loop()
        self._db.add_version_listener(self._on_commit)
        self._task = asyncio.create_task(self._run(), name="list-refresh")

    async def stop(self) -> None:
        self._db.remove_version_listener(self._on_commit)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._own_client:
            await self._client.aclose()

    async def refresh_now(self, name: str, actor: str = ACTOR) -> RefreshOutcome:
        """Download one URL list now (whatever its schedule) and store it when it changed."""
        await self._sync_sources()
        source = self._sources.get(name)
        if source is None:
            raise NotFound("URL list", name)
        return await self._refresh(source, actor)

    # -- internals -------------------------------------------------------------------------

    def _on_commit(self, _version: int) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        try:
            await self._sync_sources()
            await self._restore_from_cache()
        except Exception:
            log.exception("list refresh: start-up failed; retrying on the schedule")
        while True:
            try:
                await self._sync_sources()
                now = self._clock()
                for source in list(self._sources.values()):
                    if self._schedules[source.name].is_due(now):
                        await self._refresh(source, self._actor, only_if_due=True)
                if self._sources:
                    due_in = self._refresher.next_due() - self._clock()
                    delay = max(MIN_ROUND_DELAY, min(due_in, self._poll))
                else:  # nothing to refresh: wake on commits or after a poll interval
                    delay = self._poll
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database hiccup must not stop refreshing
                log.warning("list refresh round failed", extra={"reason": repr(exc)})
                delay = self._poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()

    async def _sync_sources(self) -> None:
        rows = await asyncio.to_thread(self._read_sources)
        if rows == self._sources:
            return
        reformatted: list[ListSource] = []
        for name, source in rows.items():
            old = self._sources.get(name)
            schedule = self._schedules.get(name)
            if schedule is None or old is None or old.url != source.url:
                schedule = RefreshSchedule(interval=source.interval)  # new URL: due now
                self._schedules[name] = schedule
            elif old.format != source.format:
                reformatted.append(source)
            schedule.interval = source.interval
        for name in set(self._schedules) - set(rows):
            del self._schedules[name]
            self._locks.pop(name, None)
        self._sources = rows
        self._refresher = ListRefresher(
            tuple(rows.values()),
            self._cache,
            self._on_update,
            self._client,
            self._clock,
            self._schedules,
        )
        for source in reformatted:
            await self._reparse_cached(source)

    async def _reparse_cached(self, source: ListSource) -> None:
        """Another format for the same URL: parse the cached download again now (a
        conditional GET would answer 304 and keep the entries parsed the old way)."""
        cached = await asyncio.to_thread(self._cache.load, source.name)
        if cached is None or cached.url != source.url:
            return
        try:
            parsed = await asyncio.to_thread(parse_list, cached.data, source.kind, source.format)
        except ListFormatError as exc:
            log.warning("cached list %s is unusable: %s", source.name, exc)
            return
        plist = parsed.to_list(source.name, source.kind)
        await asyncio.to_thread(self._store, source, plist, self._actor, False)

    def _read_sources(self) -> dict[str, ListSource]:
        with self._db.session() as session:
            rows = policy_lists.by_source(session, "url")
            return {
                r.name: ListSource(
                    r.name,
                    ListKind(r.kind),
                    r.url,
                    ListFormat(r.format),
                    float(r.refresh_seconds) if r.refresh_seconds > 0 else 4 * 3600.0,
                )
                for r in rows
                if r.url
            }

    async def _restore_from_cache(self) -> None:
        cached = await asyncio.to_thread(self._refresher.load_cached)
        for name, plist in cached.items():
            source = self._sources.get(name)
            if source is not None:
                await asyncio.to_thread(self._store, source, plist, self._actor, False)

    async def _refresh(
        self, source: ListSource, actor: str, *, only_if_due: bool = False
    ) -> RefreshOutcome:
        lock = self._locks.setdefault(source.name, asyncio.Lock())
        async with lock:
            schedule = self._schedules[source.name]
            if only_if_due and not schedule.is_due(self._clock()):
                return RefreshOutcome(source.name, "unchanged")  # refreshed while we waited
            failures = schedule.failures
            self._actors[source.name] = actor
            self._changed.pop(source.name, None)
            try:
                await self._refresher.refresh(source, self._client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # disk cache, store, or an odd URL: count it as a failure
                log.warning("list %s: refresh failed: %r", source.name, exc)
                schedule.record_failure(self._clock(), str(exc) or type(exc).__name__)
            changed = self._changed.pop(source.name, None)
            if schedule.failures > failures:
                outcome = RefreshOutcome(source.name, "failed", schedule.last_error)
            elif changed is not None:
                outcome = RefreshOutcome(source.name, "ok", changed=changed)
            else:
                outcome = RefreshOutcome(source.name, "unchanged")
            if outcome.status != "ok":  # "ok" was recorded with the entries
                await asyncio.to_thread(self._record, outcome)
            return outcome

    async def _on_update(self, plist: PolicyList) -> None:
        source = self._sources.get(plist.name)
        if source is None:
            return
        actor = self._actors.get(plist.name, self._actor)
        self._changed[plist.name] = await asyncio.to_thread(self._store, source, plist, actor, True)

    def _store(self, source: ListSource, plist: PolicyList, actor: str, fetched: bool) -> bool:
        """Write new entries (when they differ) and the status; True when they changed."""
        encoded = policy_lists.encode_entries(stored_entries(plist))
        with self._db.transaction() as session:
            try:
                row = policy_lists.get(session, source.name)
            except NotFound:
                return False
            if row.source != "url" or row.url != source.url:
                return False  # changed underneath: the next round sees the new source
            changed = policy_lists.set_encoded(session, row, encoded)
            if fetched or changed:
                policy_lists.record_refresh(session, row, "ok")
            if changed:
                audit.record(
                    session,
                    actor=actor,
                    action="list.refresh",
                    resource_type="list",
                    resource_id=row.id,
                    details={"name": row.name, "entries": encoded.count, "url": row.url},
                )
                versions.bump(session)
        return changed

    def _record(self, outcome: RefreshOutcome) -> None:
        with self._db.transaction() as session:
            try:
                row = policy_lists.get(session, outcome.name)
            except NotFound:
                return
            policy_lists.record_refresh(session, row, outcome.status, outcome.error)
