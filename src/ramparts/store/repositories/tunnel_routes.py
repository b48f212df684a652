"""Public hostnames routed to tunnels, remotely managed configurations, and the connections
edges hold for them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import (
    EdgeNode,
    TunnelConfiguration,
    TunnelConnectionRecord,
    TunnelHostname,
    utcnow,
)
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


def latest_configuration(session: Session, tunnel_id: str) -> TunnelConfiguration | None:
    return session.scalar(
        select(TunnelConfiguration)
        .where(TunnelConfiguration.tunnel_id == tunnel_id)
        .order_by(TunnelConfiguration.version.desc())
        .limit(1)
    )


def put_configuration(
    session: Session, tunnel_ref: str, config: dict[str, Any]
) -> TunnelConfiguration:
    """Store a new version (the previous ones stay as history)."""
    tunnel = tunnels.get(session, tunnel_ref)
    latest = latest_configuration(session, tunnel.id)
    row = TunnelConfiguration(
        tunnel_id=tunnel.id, version=(latest.version + 1) if latest else 1, config=config
    )
    session.add(row)
    session.flush()
    return row


def latest_configurations(session: Session) -> dict[str, TunnelConfiguration]:
    """The newest configuration of every tunnel that has one (for snapshots)."""
    newest = (
        select(
            TunnelConfiguration.tunnel_id,
            func.max(TunnelConfiguration.version).label("version"),
        )
        .group_by(TunnelConfiguration.tunnel_id)
        .subquery()
    )
    rows = session.scalars(
        select(TunnelConfiguration).join(
            newest,
            (TunnelConfiguration.tunnel_id == newest.c.tunnel_id)
            & (TunnelConfiguration.version == newest.c.version),
        )
    ).all()
    return {row.tunnel_id: row for row in rows}
