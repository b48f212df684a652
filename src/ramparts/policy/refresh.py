"""URL-sourced lists: a pure refresh schedule, an atomic disk cache, and an asyncio driver.

On start, :meth:`ListRefresher.load_cached` returns every cached list at once, so a restart
serves the last good copy without waiting for downloads; :meth:`ListRefresher.run` then keeps
them fresh (conditional GETs, backoff on failure) and reports each new list to a callback.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ramparts.policy.errors import ListFormatError
from ramparts.policy.list_formats import MAX_LIST_BYTES, ListFormat, parse_list
from ramparts.policy.lists import ListKind, PolicyList

log = logging.getLogger(__name__)

#: Default refresh period: public blocklists change a few times a day.
DEFAULT_REFRESH_SECONDS = 4 * 3600.0
#: First retry after a failed download, doubling up to RETRY_MAX_SECONDS.
RETRY_MIN_SECONDS = 60.0
RETRY_MAX_SECONDS = 3600.0
#: Whole-download timeout; lists are tens of megabytes at most.
FETCH_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ListSource:
    name: str
    kind: ListKind
    url: str
    format: ListFormat = ListFormat.AUTO
    interval: float = DEFAULT_REFRESH_SECONDS


@dataclass(slots=True)
class RefreshSchedule:
    """When to fetch next. Pure: every method takes ``now`` (seconds, any epoch)."""

    interval: float = DEFAULT_REFRESH_SECONDS
    retry_min: float = RETRY_MIN_SECONDS
    retry_max: float = RETRY_MAX_SECONDS
    last_attempt: float | None = None
    last_success: float | None = None
    failures: int = 0
    #: Why the last attempt failed ("" after a success), for status displays.
    last_error: str = ""

    def next_due(self, now: float) -> float:
        """Time of the next fetch; ``now`` (or earlier) when one is due already."""
        if self.last_attempt is None:
            return now
        if self.failures:
            delay = min(self.retry_max, self.retry_min * float(1 << min(self.failures - 1, 30)))
            return self.last_attempt + delay
        base = self.last_success if self.last_success is not None else self.last_attempt
        return base + self.interval

    def is_due(self, now: float) -> bool:
        return self.next_due(now) <= now

    def record_success(self, now: float) -> None:
        self.last_attempt = now
        self.last_success = now
        self.failures = 0
        self.last_error = ""

    def record_failure(self, now: float, error: str = "") -> None:
        self.last_attempt = now
        self.failures += 1
        self.last_error = error


@dataclass(frozen=True, slots=True)
class CachedList:
    data: bytes
    url: str
    fetched_at: float
    etag: str | None = None
    last_modified: str | None = None


class ListCache:
    """One data file and one metadata file per list; both written atomically."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _paths(self, name: str) -> tuple[Path, Path]:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64]
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        base = self.directory / f"{safe}-{digest}"
        return base.with_suffix(".list"), base.with_suffix(".json")

    def load(self, name: str) -> CachedList | None:
        data_path, meta_path = self._paths(name)
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
            data = data_path.read_bytes()
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return None
        return CachedList(
            data,
            str(meta.get("url", "")),
            float(meta.get("fetched_at", 0.0)),
            meta.get("etag"),
            meta.get("last_modified"),
        )

    def store(self, name: str, entry: CachedList) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data_path, meta_path = self._paths(name)
        meta = {
            "name": name,
            "url": entry.url,
            "fetched_at": entry.fetched_at,
            "etag": entry.etag,
            "last_modified": entry.last_modified,
            "sha256": hashlib.sha256(entry.data).hexdigest(),
        }
        _write_atomic(data_path, entry.data)
        _write_atomic(meta_path, json.dumps(meta).encode())

    def touch(self, name: str, fetched_at: float) -> None:
        """Record that the cached copy was confirmed current (HTTP 304) at ``fetched_at``."""
        _, meta_path = self._paths(name)
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(meta, dict):
            meta["fetched_at"] = fetched_at
            _write_atomic(meta_path, json.dumps(meta).encode())


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


OnUpdate = Callable[[PolicyList], Awaitable[None] | None]


@dataclass
class ListRefresher:
    """Keeps URL-sourced lists fresh. ``on_update`` gets each newly parsed list."""

    sources: Iterable[ListSource]
    cache: ListCache
    on_update: OnUpdate
    client: httpx.AsyncClient | None = None
    clock: Callable[[], float] = time.time
    schedules: dict[str, RefreshSchedule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sources = tuple(self.sources)
        for s in self.sources:
            self.schedules.setdefault(s.name, RefreshSchedule(interval=s.interval))

    def load_cached(self) -> dict[str, PolicyList]:
        """Every list that has a valid cached copy for its current URL (blocking; call at start)."""
        out: dict[str, PolicyList] = {}
        for source in self.sources:
            cached = self.cache.load(source.name)
            if cached is None or cached.url != source.url:
                continue
            try:
                out[source.name] = parse_list(cached.data, source.kind, source.format).to_list(
                    source.name, source.kind
                )
            except ListFormatError as exc:
                log.warning("cached list %s is unusable: %s", source.name, exc)
                continue
            self.schedules[source.name].record_success(cached.fetched_at)
        return out

    async def refresh(self, source: ListSource, client: httpx.AsyncClient) -> PolicyList | None:
        """Fetch one list now; the new list, or None when unchanged or on failure."""
        schedule = self.schedules[source.name]
        cached = await asyncio.to_thread(self.cache.load, source.name)
        headers: dict[str, str] = {}
        if cached is not None and cached.url == source.url:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        try:
            async with client.stream("GET", source.url, headers=headers) as response:
                if response.status_code == 304 and cached is not None:
                    now = self.clock()
                    await asyncio.to_thread(self.cache.touch, source.name, now)
                    schedule.record_success(now)
                    return None
                if response.status_code != 200:
                    raise ListFormatError(f"HTTP status {response.status_code}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_LIST_BYTES:
                        raise ListFormatError(f"download larger than {MAX_LIST_BYTES} bytes")
                    chunks.append(chunk)
                etag = response.headers.get("etag")
                last_modified = response.headers.get("last-modified")
            data = b"".join(chunks)
            parsed = await asyncio.to_thread(parse_list, data, source.kind, source.format)
        except (httpx.HTTPError, ListFormatError) as exc:
            schedule.record_failure(self.clock(), str(exc) or type(exc).__name__)
            log.warning("list %s: refresh from %s failed: %s", source.name, source.url, exc)
            return None
        now = self.clock()
        entry = CachedList(data, source.url, now, etag, last_modified)
        await asyncio.to_thread(self.cache.store, source.name, entry)
        schedule.record_success(now)
        plist = parsed.to_list(source.name, source.kind)
        result = self.on_update(plist)
        if result is not None:
            await result
        return plist

    def next_due(self) -> float:
        now = self.clock()
        return min((self.schedules[s.name].next_due(now) for s in self.sources), default=now)

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """Refresh every list that is due; the number attempted."""
        now = self.clock()
        due = [s for s in self.sources if self.schedules[s.name].is_due(now)]
        for source in due:
            await self.refresh(source, client)
        return len(due)

    async def run(self) -> None:
        """Refresh forever (cancel the task to stop)."""
        if not self.sources:
            return
        client = self.client or httpx.AsyncClient(
            timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True
        )
        try:
            while True:
                await self.run_once(client)
                await asyncio.sleep(max(0.0, self.next_due() - self.clock()))
        finally:
            if self.client is None:
                await client.aclose()
