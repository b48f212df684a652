"""The DNS query log: batched inserts from edges, filtered reads, retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ramparts.store.models import DnsQuery

BLOCKED_DECISIONS = ("block",)
"""Decisions that ``blocked=True`` selects (pre- and post-resolution blocks)."""
PURGE_BATCH = 50_000  # rows deleted per statement, so one purge never holds a long lock


def insert_batch(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """One multi-row INSERT; ``rows`` hold the ``DnsQuery`` column names."""
    batch = list(rows)
    if batch:
        session.execute(insert(DnsQuery), batch)
    return len(batch)


ROW_COLUMNS = (
    "at", "edge", "location_id", "location_name", "protocol", "src_ip", "qname", "qtype",
    "decision", "policy_id", "policy_name", "upstream", "rcode", "cached", "latency_us",
)  # fmt: skip
"""Column order of the tuples ``insert_rows`` takes."""
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
"""How SQLAlchemy stores datetimes in SQLite (UTC, read back as UTC by ``UtcDateTime``)."""


def insert_rows(
    session: Session, rows: list[tuple[Any, ...]], *, preformatted_time: bool = False
) -> int:
    """The fast path for the query log: ``executemany`` on the driver with plain tuples in
    ``ROW_COLUMNS`` order, skipping per-row ORM work. ``at`` is an aware UTC datetime, or
    on SQLite already text in ``SQLITE_TIME_FORMAT`` when ``preformatted_time``."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    # Constant table and column names; the values are bound parameters.
    columns = ", ".join(ROW_COLUMNS)
    markers = ", ".join([marker] * len(ROW_COLUMNS))
    sql = f"INSERT INTO {DnsQuery.__tablename__} ({columns}) VALUES ({markers})"  # noqa: S608
    if dialect.name == "sqlite" and not preformatted_time:
        rows = [(r[0].strftime(SQLITE_TIME_FORMAT), *r[1:]) for r in rows]
    session.connection().exec_driver_sql(sql, rows)
    return len(rows)


def page(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    location: str | None = None,
    decision: str | None = None,
    blocked: bool = False,
    qname: str | None = None,
    src_ip: str | None = None,
    since: dt.datetime | None = None,
) -> Sequence[DnsQuery]:
    """Newest first, keyset-paginated by id. ``location`` is an id or a name; ``qname``
    matches the name or any name under it."""
    query = select(DnsQuery).order_by(DnsQuery.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(DnsQuery.id < before_id)
    if location:
        query = query.where(
            (DnsQuery.location_id == location) | (DnsQuery.location_name == location)
        )
    if decision:
        query = query.where(DnsQuery.decision == decision)
    if blocked:
        query = query.where(DnsQuery.decision.in_(BLOCKED_DECISIONS))
    if qname:
        name = qname.lower().rstrip(".")
        query = query.where((DnsQuery.qname == name) | DnsQuery.qname.endswith("." + name))
    if src_ip:
        query = query.where(DnsQuery.src_ip == src_ip)
    if since is not None:
        query = query.where(DnsQuery.at >= since)
    return session.scalars(query).all()


def purge_before(session: Session, cutoff: dt.datetime) -> int:
    """Delete rows older than ``cutoff`` (at most ``PURGE_BATCH``); returns how many."""
    old = DnsQuery.at < cutoff
    last = session.scalar(
        select(DnsQuery.id).where(old).order_by(DnsQuery.id).offset(PURGE_BATCH - 1).limit(1)
    )
    statement = delete(DnsQuery).where(old)
    if last is not None:
        statement = statement.where(DnsQuery.id <= last)
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
