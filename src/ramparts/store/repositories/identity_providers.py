"""Identity providers (OIDC, one-time PIN). The secret column is write-only for the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import IdentityProvider, utcnow

MAX_IDPS = 50  # each is a button on the login page


def create(
    session: Session, *, name: str, type: str, config: dict[str, Any], secret: str
) -> IdentityProvider:
    if (session.scalar(select(func.count()).select_from(IdentityProvider)) or 0) >= MAX_IDPS:
        raise Conflict("identity provider", "count", str(MAX_IDPS))
    idp = IdentityProvider(name=name, type=type, config=config, secret=secret)
    session.add(idp)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("identity provider", "name", name) from None
    return idp


def get(session: Session, ref: str) -> IdentityProvider:
    idp = session.scalar(
        select(IdentityProvider).where(
            (IdentityProvider.id == ref) | (IdentityProvider.name == ref)
        )
    )
    if idp is None:
        raise NotFound("identity provider", ref)
    return idp


def list_all(session: Session) -> Sequence[IdentityProvider]:
    return session.scalars(
        select(IdentityProvider).order_by(IdentityProvider.created_at, IdentityProvider.id)
    ).all()


def update(
    session: Session,
    ref: str,
    *,
    config: dict[str, Any] | None = None,
    secret: str | None = None,
    enabled: bool | None = None,
) -> IdentityProvider:
    idp = get(session, ref)
    if config is not None:
        idp.config = config
    if secret is not None:
        idp.secret = secret
    if enabled is not None:
        idp.enabled = enabled
    idp.updated_at = utcnow()
    return idp


def delete(session: Session, ref: str) -> IdentityProvider:
    idp = get(session, ref)
    session.delete(idp)
    return idp
