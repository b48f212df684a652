"""Admin API tokens: created with a name, shown once, verified by digest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramparts import secrets
from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import ApiToken, utcnow

TOKEN_PREFIX = "rpt_"  # noqa: S105 - makes leaked tokens easy to spot (secret scanners, logs)
DISPLAY_PREFIX_LEN = 10
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # avoid a write on every request


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the only time the plain token exists


def create(session: Session, name: str, expires_at: dt.datetime | None = None) -> IssuedToken:
    secret = secrets.new_secret(TOKEN_PREFIX)
    token = ApiToken(
        name=name,
        token_hash=secrets.digest(secret),
        prefix=secret[:DISPLAY_PREFIX_LEN],
        expires_at=expires_at,
    )
    session.add(token)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("api token", "name", name) from None
    return IssuedToken(token, secret)


def count_active(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))
        )
        or 0
    )


def authenticate(
    session: Session, presented: str, now: dt.datetime | None = None
) -> ApiToken | None:
    """The live token matching ``presented``, or None. Looked up by digest (an index hit)."""
    now = now or utcnow()
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == secrets.digest(presented)))
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token


def list_all(session: Session) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)).all()


def revoke(session: Session, token_id: str) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        raise NotFound("api token", token_id)
    token.revoked_at = utcnow()
    return token
