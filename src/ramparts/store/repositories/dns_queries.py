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
