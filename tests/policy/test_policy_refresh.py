"""URL list refresh: pure schedule, atomic cache, and the asyncio driver against a mock server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from ramparts.policy import ListKind, PolicyList
from ramparts.policy.refresh import (
    CachedList,
    ListCache,
    ListRefresher,
    ListSource,
    RefreshSchedule,
)


def test_schedule_interval_and_backoff() -> None:
    s = RefreshSchedule(interval=100.0, retry_min=10.0, retry_max=35.0)
    assert s.next_due(5.0) == 5.0
    assert s.is_due(5.0)
    s.record_success(1000.0)
    assert s.next_due(1001.0) == 1100.0
    assert not s.is_due(1099.0)
    assert s.is_due(1100.0)
    s.record_failure(1100.0)
    assert s.next_due(1100.0) == 1110.0
    s.record_failure(1110.0)
    assert s.next_due(1110.0) == 1130.0
    s.record_failure(1130.0)
    assert s.next_due(1130.0) == 1165.0  # capped at retry_max
    s.record_success(1165.0)
    assert s.failures == 0
    assert s.next_due(1165.0) == 1265.0


def test_cache_roundtrip_and_corruption(tmp_path: Path) -> None:
    cache = ListCache(tmp_path / "c")
    assert cache.load("x") is None
    entry = CachedList(b"a.example\n", "https://lists.test/x", 123.0, '"etag1"', None)
    cache.store("weird/name x", entry)
    assert cache.load("weird/name x") == entry
    assert not list((tmp_path / "c").glob("*.tmp"))
    # A torn data file (hash mismatch) is ignored rather than served.
    data_file = next((tmp_path / "c").glob("*.list"))
    data_file.write_bytes(b"a.exam")
    assert cache.load("weird/name x") is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_refresher_fetches_caches_and_restarts_from_cache(tmp_path: Path) -> None:
    calls: list[httpx.Request] = []
    body = {"v": b"||ads.example^\n||more.example^\n"}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.path == "/broken":
            return httpx.Response(500)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, content=body["v"], headers={"ETag": '"v1"'})

    updates: list[PolicyList] = []
    clock = FakeClock()
    sources = [
        ListSource("ads", ListKind.DOMAIN, "https://lists.test/ads", interval=60.0),
        ListSource("broken", ListKind.DOMAIN, "https://lists.test/broken", interval=60.0),
    ]
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        refresher = ListRefresher(sources, ListCache(tmp_path), updates.append, clock=clock)
        assert refresher.load_cached() == {}
        assert await refresher.run_once(client) == 2
        assert [u.name for u in updates] == ["ads"]
        assert updates[0].values == {"ads.example", "more.example"}
        assert refresher.schedules["broken"].failures == 1
        assert refresher.next_due() == clock.now + 60.0  # broken retries after RETRY_MIN
        # Nothing due yet.
        assert await refresher.run_once(client) == 0
        # Due again: conditional GET answered 304, no new update.
        clock.now += 61.0
        await refresher.run_once(client)
        assert calls[-2].headers["if-none-match"] == '"v1"'
        assert len(updates) == 1

    # A restart serves the cached copy at once and schedules from its fetch time.
    restarted = ListRefresher(sources, ListCache(tmp_path), updates.append, clock=clock)
    cached = restarted.load_cached()
    assert set(cached) == {"ads"}
    assert cached["ads"].values == {"ads.example", "more.example"}
    assert not restarted.schedules["ads"].is_due(clock.now)
    # A changed URL does not reuse the old cache.
    moved = [ListSource("ads", ListKind.DOMAIN, "https://lists.test/other")]
    assert ListRefresher(moved, ListCache(tmp_path), updates.append).load_cached() == {}


async def test_refresher_run_loop_can_be_cancelled(tmp_path: Path) -> None:
    got: list[PolicyList] = []
    seen = asyncio.Event()

    async def on_update(plist: PolicyList) -> None:
        got.append(plist)
        seen.set()

    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=b"10.0.0.0/8\n"))
    async with httpx.AsyncClient(transport=transport) as client:
        refresher = ListRefresher(
            [ListSource("nets", ListKind.IP, "https://lists.test/nets")],
            ListCache(tmp_path),
            on_update,
            client=client,
        )
        task = asyncio.create_task(refresher.run(), name="list-refresh")
        await asyncio.wait_for(seen.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert got[0].kind is ListKind.IP
    assert len(got[0]) == 1


async def test_oversized_download_is_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ramparts.policy.refresh as refresh

    monkeypatch.setattr(refresh, "MAX_LIST_BYTES", 10)
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=b"a.example\n" * 5))
    async with httpx.AsyncClient(transport=transport) as client:
        refresher = ListRefresher(
            [ListSource("a", ListKind.DOMAIN, "https://lists.test/a")], ListCache(tmp_path), print
        )
        assert await refresher.refresh(refresher.sources[0], client) is None  # type: ignore[index]
        assert refresher.schedules["a"].failures == 1
