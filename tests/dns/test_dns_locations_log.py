"""Location lookup, safe-search targets, and the query log writer on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from ramparts.config.dns import Unmatched
from ramparts.dns.locations import UNMATCHED, LocationTable
from ramparts.dns.logwriter import purge, write_records
from ramparts.dns.querylog import QueryLog, QueryRecord
from ramparts.dns.safesearch import (
    BING_SAFE,
    DUCKDUCKGO_SAFE,
    GOOGLE_SAFE,
    YOUTUBE_MODERATE,
    YOUTUBE_STRICT,
    safe_target,
)
from ramparts.store import Database
from ramparts.store.repositories import dns_queries

from .conftest import snapshot_for


def _table(**settings: object) -> LocationTable:
    snap = snapshot_for(
        [],
        [
            ("aaaaaaaaaa", "wide", ["10.0.0.0/8", "2001:db8::/32"]),
            ("bbbbbbbbbb", "narrow", ["10.1.0.0/16", "10.1.2.3/32"]),
        ],
        [],
        **settings,
    )
    return LocationTable(snap.dns, "Acme.Localhost.")


def test_longest_prefix_and_mapped_addresses() -> None:
    table = _table()
    assert table.by_source("10.2.0.1").name == "wide"  # type: ignore[union-attr]
    assert table.by_source("10.1.9.9").name == "narrow"  # type: ignore[union-attr]
    assert table.by_source("::ffff:10.1.2.3").name == "narrow"  # type: ignore[union-attr]
    assert table.by_source("2001:db8::5").name == "wide"  # type: ignore[union-attr]
    assert table.by_source("fe80::1%eth0") is None
    assert table.by_source("192.0.2.1") is None
    assert table.by_source("not an ip") is None


def test_unmatched_behaviour_and_default_location() -> None:
    refuse = _table()
    assert refuse.plain("192.0.2.1") is None
    assert refuse.encrypted(None, "192.0.2.1") is UNMATCHED  # encrypted: served by default
    serve = _table(unmatched_plain=Unmatched.SERVE, unmatched_encrypted=Unmatched.REFUSE)
    assert serve.plain("192.0.2.1") is UNMATCHED
    assert serve.encrypted(None, "192.0.2.1") is None
    assert serve.encrypted("aaaaaaaaaa", "192.0.2.1").name == "wide"  # type: ignore[union-attr]
    assert serve.encrypted("cccccccccc", "10.1.2.3") is None  # a deleted location


def test_server_names_name_locations() -> None:
    table = _table()
    assert table.id_from_server_name("AAAAAAAAAA.dns.acme.localhost.") == "aaaaaaaaaa"
    assert table.id_from_server_name("dns.acme.localhost") is None
    assert table.id_from_server_name("x.y.dns.acme.localhost") is None
    assert table.id_from_server_name("a.dns.other.localhost") is None
    assert table.id_from_server_name(None) is None


@pytest.mark.parametrize(
    ("name", "action", "expected"),
    [
        ("www.google.com", "safesearch", GOOGLE_SAFE),
        ("google.co.uk", "safesearch", GOOGLE_SAFE),
        ("www.google.com.br", "safesearch", GOOGLE_SAFE),
        ("www.google.de", "safesearch", GOOGLE_SAFE),
        ("mail.google.com", "safesearch", None),
        ("google.example.com", "safesearch", None),
        ("www.bing.com", "safesearch", BING_SAFE),
        ("duckduckgo.com", "safesearch", DUCKDUCKGO_SAFE),
        ("www.youtube.com", "safesearch", YOUTUBE_STRICT),
        ("youtubei.googleapis.com", "ytrestricted", YOUTUBE_STRICT),
        ("www.google.com", "ytrestricted", None),
        ("example.com", "safesearch", None),
    ],
)
def test_safe_targets(name: str, action: str, expected: str | None) -> None:
    assert safe_target(name, action) == expected


def test_youtube_moderate() -> None:
    assert safe_target("m.youtube.com", "ytrestricted", "moderate") == YOUTUBE_MODERATE


def _record(i: int, at: float) -> QueryRecord:
    decision = "block" if i % 2 else "allow"
    return QueryRecord(
        at, "udp", "127.0.0.2", "aaaaaaaaaa", "wide", f"h{i}.example.test", 1, decision,
        "r", "rule", "u", 0, bool(i % 3), 120,
    )  # fmt: skip


@pytest.mark.parametrize("process", [False, True], ids=["thread", "process"])
async def test_query_log_writes_batches_and_purges(db: Database, process: bool) -> None:
    log = QueryLog(db, "edge-1", lambda: 7, process=process)
    now = time.time()
    for i in range(1200):
        log.append(_record(i, now))
    log.append(_record(9999, now - 30 * 86_400))
    assert await log.flush() == 1201
    await log.stop()  # the writer process acknowledges everything before it exits
    assert log.pending == [] and log.written == 1201 and log.dropped == 0
    with db.session() as s:
        rows = dns_queries.page(s, limit=500, blocked=True)
        assert len(rows) == 500 and all(r.decision == "block" for r in rows)
        newest = dns_queries.page(s, limit=1, location="wide")[0]
        assert newest.qname == "h1199.example.test" and newest.qtype == "A"
        assert newest.rcode == "NOERROR" and newest.edge == "edge-1" and newest.latency_us == 120
        assert abs(newest.at.timestamp() - now) < 1
        # The writer applied the 7-day retention after its first batch: the old row is gone.
        assert dns_queries.page(s, limit=10, qname="h9999.example.test") == []
        assert len(dns_queries.page(s, limit=500, src_ip="127.0.0.2")) == 500
    old = write_records(db, "edge-1", [_record(5, now - 9 * 86_400)])
    assert old == 1 and purge(db, 7) == 1 and purge(db, 7) == 0


async def test_query_log_drops_beyond_its_bound_and_keeps_records_when_the_db_fails(
    tmp_path: object,
) -> None:
    bounded = QueryLog(None, "e", max_pending=10)
    for i in range(15):
        bounded.append(_record(i, time.time()))
    assert len(bounded.pending) == 10 and bounded.dropped == 5
    broken = Database("sqlite:////nonexistent-dir-for-ramparts-tests/x.db")
    failing = QueryLog(broken, "e", max_pending=10)
    for i in range(4):
        failing.append(_record(i, time.time()))
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the driver raises
        await failing.flush()
    assert len(failing.pending) == 4 and failing.dropped == 0  # kept for the next attempt
