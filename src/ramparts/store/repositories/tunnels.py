"""Tunnels and their connector credentials."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ramparts import secrets
from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import Tunnel, TunnelCredential, utcnow

MAX_CREDENTIALS_PER_TUNNEL = 32  # each connector token is one credential; bounded verify work


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    tunnel: Tunnel
    secret: str  # shown once, inside the connector token


def create(session: Session, name: str) -> IssuedCredential:
    tunnel = Tunnel(name=name)
    session.add(tunnel)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("tunnel", "name", name) from None
    return _add_credential(session, tunnel)


def get(session: Session, ref: str) -> Tunnel:
    """By id or by name."""
    tunnel = session.scalar(
        select(Tunnel)
        .options(selectinload(Tunnel.credentials))
        .where((Tunnel.id == ref) | (Tunnel.name == ref))
    )
    if tunnel is None:
        raise NotFound("tunnel", ref)
    return tunnel


def page(
    session: Session,
    *,
    limit: int,
    after: tuple[dt.datetime, str] | None = None,
    name: str | None = None,
) -> Sequence[Tunnel]:
    """Oldest first, keyset-paginated by (created_at, id)."""
    query = (
        select(Tunnel)
        .options(selectinload(Tunnel.credentials))
        .order_by(Tunnel.created_at, Tunnel.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(Tunnel.created_at, Tunnel.id) > tuple_(*after))
    if name:
        query = query.where(Tunnel.name == name)
    return session.scalars(query).all()


def delete_tunnel(session: Session, ref: str) -> Tunnel:
    tunnel = get(session, ref)
    session.delete(tunnel)
    return tunnel


def issue_credential(session: Session, ref: str) -> IssuedCredential:
    """A new connector secret next to the existing ones (old tokens keep working)."""
    tunnel = get(session, ref)
    if len(tunnel.credentials) >= MAX_CREDENTIALS_PER_TUNNEL:
        raise Conflict("tunnel", "credential count", str(MAX_CREDENTIALS_PER_TUNNEL))
    return _add_credential(session, tunnel)


def rotate(session: Session, ref: str) -> IssuedCredential:
    """Revoke every connector secret of the tunnel and issue one new one."""
    tunnel = get(session, ref)
    session.execute(delete(TunnelCredential).where(TunnelCredential.tunnel_id == tunnel.id))
    session.expire(tunnel, ["credentials"])
    tunnel.secret_rotated_at = utcnow()
    return _add_credential(session, tunnel)


def _add_credential(session: Session, tunnel: Tunnel) -> IssuedCredential:
    secret = secrets.new_secret()
    credential = TunnelCredential(tunnel_id=tunnel.id, secret_hash=secrets.digest(secret))
    session.add(credential)
    session.flush()
    session.refresh(tunnel, ["credentials"])
    return IssuedCredential(tunnel, secret)
