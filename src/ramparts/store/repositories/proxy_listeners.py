"""Where the edges' proxies listen (state written by each edge), for PAC URLs and clients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramparts.store.models import ProxyListener, utcnow


def record(session: Session, edge_id: str, addresses: Mapping[str, str]) -> None:
    """The edge's current addresses: ``proxy`` (plain) and ``proxy_tls``, "host:port"."""
    row = session.get(ProxyListener, edge_id)
    if row is None:
        session.add(ProxyListener(edge_id=edge_id, addresses=dict(addresses), updated_at=utcnow()))
        return
    row.addresses = dict(addresses)
    row.updated_at = utcnow()


def withdraw(session: Session, edge_id: str) -> None:
    row = session.get(ProxyListener, edge_id)
    if row is not None:
        session.delete(row)


def current(session: Session, edge_ids: Sequence[str] | None = None) -> dict[str, str] | None:
    """The most recently announced addresses (among ``edge_ids`` when given), or None."""
    stmt = select(ProxyListener).order_by(ProxyListener.updated_at.desc(), ProxyListener.edge_id)
    if edge_ids is not None:
        if not edge_ids:
            return None
        stmt = stmt.where(ProxyListener.edge_id.in_(list(edge_ids)))
    row = session.scalars(stmt.limit(1)).first()
    return dict(row.addresses) if row is not None else None
