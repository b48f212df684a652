"""Storing and loading a 1,000,000-entry Gateway list: ours (one compressed blob of sorted,
normalised entries) against the anchor, one row per entry (executemany insert, select all).

Both run on the same SQLite file system in one run; the figures are write and read times
and the bytes on disk, with the ratios. Optional: ``--postgres URL`` runs both on PostgreSQL.

    .venv/bin/python bench/policy_store.py [--entries N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from ramparts.store import Database
from ramparts.store.repositories import policy_lists


def names(count: int) -> list[str]:
    return [f"h{j % 1000:03d}x{j // 1000:04d}.site{j % 997}.test" for j in range(count)]


def bench(db: Database, entries: list[str]) -> tuple[float, float, float, float]:
    rows = Table(
        "bench_list_rows",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("list_id", String(36), index=True),
        Column("value", String(253)),
    )
    rows.create(db.engine, checkfirst=True)

    t = time.perf_counter()
    with db.transaction() as s:
        row = policy_lists.create(s, name=f"bench{time.monotonic_ns()}", kind="domain")
        policy_lists.set_entries(s, row, entries)
    ours_write = time.perf_counter() - t
    t = time.perf_counter()
    with db.session() as s:
        loaded = frozenset(policy_lists.entries(s, policy_lists.get(s, row.id)))
    ours_read = time.perf_counter() - t
    assert len(loaded) == len(set(entries))

    t = time.perf_counter()
    with db.transaction() as s:
        s.execute(insert(rows), [{"list_id": "x", "value": v} for v in entries])
    anchor_write = time.perf_counter() - t
    t = time.perf_counter()
    with db.session() as s:
        got = frozenset(s.scalars(select(rows.c.value).where(rows.c.list_id == "x")).all())
    anchor_read = time.perf_counter() - t
    assert len(got) == len(loaded)
    rows.drop(db.engine)
    return ours_write, ours_read, anchor_write, anchor_read


def report(label: str, figures: tuple[float, float, float, float]) -> None:
    ow, orr, aw, ar = figures
    print(f"{label}: write ours {ow:.2f} s vs rows {aw:.2f} s = {aw / ow:.2f}x faster")
    print(f"{label}: read  ours {orr:.2f} s vs rows {ar:.2f} s = {ar / orr:.2f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=None, help="postgresql+psycopg://… (optional)")
    args = parser.parse_args()
    entries = names(args.entries)
    stored = len(policy_lists.encode_entries(entries).data)
    text_mb = sum(len(e) + 1 for e in entries) / 1e6
    print(
        f"{len(entries):,} domain entries: {text_mb:.1f} MB of text, {stored / 1e6:.1f} MB stored"
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.migrate()
        report("sqlite", bench(db, entries))
        db.dispose()
    if args.postgres:
        pg = Database(args.postgres)
        pg.migrate()
        report("postgres", bench(pg, entries))
        pg.dispose()


if __name__ == "__main__":
    main()
