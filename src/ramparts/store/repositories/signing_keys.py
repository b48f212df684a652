"""Access signing keys: create the first one, rotate (the old one keeps verifying for the
overlap), prune keys past it. Private keys are read only by snapshot builders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ramparts.identity.keys import KEY_OVERLAP, KeyRecord, generate_key
from ramparts.store.models import AccessSigningKey, utcnow


def records(session: Session) -> list[KeyRecord]:
    rows = session.scalars(select(AccessSigningKey).order_by(AccessSigningKey.created_at)).all()
    return [
        KeyRecord(r.kid, r.private_pem, dict(r.public_jwk), r.created_at, r.retired_at)
        for r in rows
    ]


def listing(session: Session) -> Sequence[AccessSigningKey]:
    return session.scalars(select(AccessSigningKey).order_by(AccessSigningKey.created_at)).all()


def ensure_current(session: Session, now: dt.datetime | None = None) -> bool:
    """Create a signing key when none signs; True when one was created (bump the version)."""
    live = session.scalar(select(AccessSigningKey.kid).where(AccessSigningKey.retired_at.is_(None)))
    if live is not None:
        return False
    _add(session, now or utcnow())
    return True


def rotate(session: Session, now: dt.datetime | None = None) -> AccessSigningKey:
    """A new signing key; the current ones retire now and are pruned after the overlap."""
    now = now or utcnow()
    for row in session.scalars(
        select(AccessSigningKey).where(AccessSigningKey.retired_at.is_(None))
    ):
        row.retired_at = now
    session.execute(delete(AccessSigningKey).where(AccessSigningKey.retired_at < now - KEY_OVERLAP))
    return _add(session, now)


def _add(session: Session, now: dt.datetime) -> AccessSigningKey:
    key = generate_key()
    row = AccessSigningKey(
        kid=key.kid,
        private_pem=key.private_pem,
        public_jwk=dict(key.public_jwk),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row
