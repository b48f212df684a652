"""Edge nodes announce themselves here so tokens can list every live tunnel address."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramparts.store.models import EdgeNode, utcnow

EDGE_LIVENESS = dt.timedelta(seconds=60)  # an edge silent for longer is not offered to connectors


def heartbeat(
    session: Session, *, edge_id: str, name: str, tunnel_address: str, snapshot_version: int
) -> None:
    now = utcnow()
    node = session.get(EdgeNode, edge_id)
    if node is None:
        session.add(
            EdgeNode(
                id=edge_id,
                name=name,
                tunnel_address=tunnel_address,
                snapshot_version=snapshot_version,
                started_at=now,
                last_seen_at=now,
            )
        )
        return
    node.tunnel_address = tunnel_address
    node.snapshot_version = snapshot_version
    node.last_seen_at = now


def remove(session: Session, edge_id: str) -> None:
    node = session.get(EdgeNode, edge_id)
    if node is not None:
        session.delete(node)


def live(session: Session, now: dt.datetime | None = None) -> Sequence[EdgeNode]:
    cutoff = (now or utcnow()) - EDGE_LIVENESS
    return session.scalars(
        select(EdgeNode).where(EdgeNode.last_seen_at >= cutoff).order_by(EdgeNode.started_at)
    ).all()
