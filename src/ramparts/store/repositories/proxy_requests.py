"""The proxy request log: batched inserts from edges, filtered reads, retention."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ramparts.store.models import ProxyRequest
from ramparts.store.models.proxy import ADDRESS_TEXT_MAX, HOST_MAX, METHOD_MAX

BLOCKED_DECISIONS = ("block", "deny")
"""Decisions that ``blocked=True`` selects: a policy block and a source outside the endpoint."""
MAX_URL_CHARS = 2048  # a log row keeps this much of a URL (the common browser limit)
PURGE_BATCH = 50_000  # rows deleted per statement, so one purge never holds a long lock
_TRUNCATED = {
    "url": MAX_URL_CHARS,
    "host": HOST_MAX,
    "method": METHOD_MAX,
    "src_ip": ADDRESS_TEXT_MAX,
}
"""Text columns an edge fills from the network: clipped here, so one long value never fails
the whole batch (PostgreSQL enforces VARCHAR lengths)."""


def _clip(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for column, limit in _TRUNCATED.items():
        value = out.get(column)
        if isinstance(value, str) and len(value) > limit:
            out[column] = value[:limit]
    return out


def insert_batch(session: Session, rows: Iterable[Mapping[str, Any]]) -> int:
    """One multi-row INSERT; ``rows`` hold ``ProxyRequest`` column names (``at`` an aware
    datetime; omitted text columns default to "" and counters to 0)."""
    batch = [_clip(r) for r in rows]
    if batch:
        session.execute(insert(ProxyRequest), batch)
    return len(batch)


def query(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    endpoint: str | None = None,
    blocked: bool = False,
    decision: str | None = None,
    user: str | None = None,
    host: str | None = None,
    since: dt.datetime | None = None,
) -> Sequence[ProxyRequest]:
    """Newest first, keyset-paginated by id. ``endpoint`` is an id or a name; ``host``
    matches the host or any name under it; ``user`` an email (case-insensitive)."""
    stmt = select(ProxyRequest).order_by(ProxyRequest.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(ProxyRequest.id < before_id)
    if endpoint:
        stmt = stmt.where(
            (ProxyRequest.endpoint_id == endpoint) | (ProxyRequest.endpoint_name == endpoint)
        )
    if blocked:
        stmt = stmt.where(ProxyRequest.decision.in_(BLOCKED_DECISIONS))
    if decision:
        stmt = stmt.where(ProxyRequest.decision == decision)
    if user:
        stmt = stmt.where(ProxyRequest.user_email == user.strip().lower())
    if host:
        name = host.strip().lower().rstrip(".")
        stmt = stmt.where((ProxyRequest.host == name) | ProxyRequest.host.endswith("." + name))
    if since is not None:
        stmt = stmt.where(ProxyRequest.at >= since)
    return session.scalars(stmt).all()


def purge_older_than(session: Session, cutoff: dt.datetime) -> int:
    """Delete rows older than ``cutoff`` (at most ``PURGE_BATCH``); returns how many."""
    old = ProxyRequest.at < cutoff
    last = session.scalar(
        select(ProxyRequest.id)
        .where(old)
        .order_by(ProxyRequest.id)
        .offset(PURGE_BATCH - 1)
        .limit(1)
    )
    statement = delete(ProxyRequest).where(old)
    if last is not None:
        statement = statement.where(ProxyRequest.id <= last)
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
