"""Public hostnames routed to tunnels, and the connections edges hold for them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import EdgeNode, TunnelConnectionRecord, TunnelHostname, utcnow
from ramparts.store.repositories import tunnels
from ramparts.store.repositories.edges import EDGE_LIVENESS


def add_hostname(session: Session, tunnel_ref: str, hostname: str) -> TunnelHostname:
    tunnel = tunnels.get(session, tunnel_ref)
    route = TunnelHostname(hostname=hostname, tunnel_id=tunnel.id)
    session.add(route)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("hostname route", "hostname", hostname) from None
    return route


def remove_hostname(session: Session, hostname: str) -> TunnelHostname:
    route = session.scalar(select(TunnelHostname).where(TunnelHostname.hostname == hostname))
    if route is None:
        raise NotFound("hostname route", hostname)
    session.delete(route)
    return route


def hostnames(session: Session, tunnel_id: str | None = None) -> Sequence[TunnelHostname]:
    query = select(TunnelHostname).order_by(TunnelHostname.hostname)
    if tunnel_id is not None:
        query = query.where(TunnelHostname.tunnel_id == tunnel_id)
    return session.scalars(query).all()


def record_connection(session: Session, record: TunnelConnectionRecord) -> None:
    session.merge(record)


def forget_connection(session: Session, connection_id: str) -> None:
    session.execute(
        delete(TunnelConnectionRecord).where(TunnelConnectionRecord.id == connection_id)
    )


def forget_edge(session: Session, edge_id: str) -> None:
    session.execute(delete(TunnelConnectionRecord).where(TunnelConnectionRecord.edge_id == edge_id))


def live_connections(session: Session, tunnel_id: str) -> Sequence[TunnelConnectionRecord]:
    """Connections held by edges that are still alive (a crashed edge's rows are ignored)."""
    cutoff = utcnow() - EDGE_LIVENESS
    return session.scalars(
        select(TunnelConnectionRecord)
        .join(EdgeNode, EdgeNode.id == TunnelConnectionRecord.edge_id)
        .where(TunnelConnectionRecord.tunnel_id == tunnel_id, EdgeNode.last_seen_at >= cutoff)
        .order_by(TunnelConnectionRecord.opened_at)
    ).all()
