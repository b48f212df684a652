"""Snapshots are consistent and immutable; the feed swaps them on every change."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from ramparts.config.feed import SnapshotFeed
from ramparts.config.snapshot import Snapshot, SnapshotNotReady, build_snapshot
from ramparts.store import Database
from ramparts.store.repositories import team, tunnels, versions


def _init_team(db: Database) -> None:
    with db.transaction() as s:
        team.create(s, name="t", domain="t.localhost", ca_cert_pem="-", ca_fingerprint="sha256:00")
        versions.ensure_row(s)


def test_uninitialised_store_is_not_ready(db: Database) -> None:
    with pytest.raises(SnapshotNotReady):
        build_snapshot(db)


def test_snapshot_reflects_store_and_is_immutable(db: Database) -> None:
    _init_team(db)
    with db.transaction() as s:
        issued = tunnels.create(s, "demo")
        versions.bump(s)
    snap = build_snapshot(db)
    entry = snap.tunnel(issued.tunnel.id)
    assert entry is not None and entry.name == "demo" and len(entry.credential_digests) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.version = 99  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.tunnels["x"] = entry  # type: ignore[index]


async def _wait_version(feed: SnapshotFeed, version: int, timeout: float) -> float:
    start = time.monotonic()
    while feed.current.version < version:
        if time.monotonic() - start > timeout:
            raise AssertionError(f"feed stuck at {feed.current.version}, wanted {version}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_feed_swaps_on_change_and_keeps_old_snapshots_intact(db: Database) -> None:
    _init_team(db)
    # A long poll interval: the change must arrive by notification (in-process or NOTIFY).
    feed = SnapshotFeed(db, poll_interval=60)
    seen: list[Snapshot] = []
    feed.subscribe(seen.append)
    old = await feed.start()
    try:
        if db.is_postgres:
            deadline = time.monotonic() + 5
            while not feed.listening and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert feed.listening

        def change() -> int:
            with db.transaction() as s:
                tunnels.create(s, "demo")
                return versions.bump(s)

        version = await asyncio.to_thread(change)
        took = await _wait_version(feed, version, timeout=2.0)
        assert took < 2.0
        assert [s.version for s in seen] == [version]
        assert len(feed.current.tunnels) == 1
        assert len(old.tunnels) == 0, "an in-flight holder of the old snapshot sees no change"
    finally:
        await feed.stop()


async def test_feed_notices_changes_from_another_process_by_polling(db: Database) -> None:
    _init_team(db)
    feed = SnapshotFeed(db, poll_interval=0.1)
    await feed.start()
    try:
        other = Database(db.url)  # another engine: no in-process notification reaches the feed
        with other.transaction() as s:
            tunnels.create(s, "demo")
            version = versions.bump(s)
        other.dispose()
        await _wait_version(feed, version, timeout=3.0)
    finally:
        await feed.stop()
