"""Access service tokens: client id + secret for machines; the secret is shown once."""

from __future__ import annotations

import datetime as dt
import secrets as pysecrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramparts import secrets
from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import ServiceToken

CLIENT_ID_SUFFIX = ".access"  # the brief's client ids end this way; easy to recognise
SECRET_PREFIX = "rps_"  # noqa: S105 - a prefix that secret scanners can match
MAX_SERVICE_TOKENS = 10_000  # every token is in each snapshot


@dataclass(frozen=True, slots=True)
class IssuedServiceToken:
    token: ServiceToken
    client_secret: str  # the only time it exists in clear


def create(session: Session, name: str, expires_at: dt.datetime | None) -> IssuedServiceToken:
    count = session.scalar(select(func.count()).select_from(ServiceToken)) or 0
    if count >= MAX_SERVICE_TOKENS:
        raise Conflict("service token", "count", str(MAX_SERVICE_TOKENS))
    secret = secrets.new_secret(SECRET_PREFIX)
    token = ServiceToken(
        name=name,
        client_id=pysecrets.token_hex(16) + CLIENT_ID_SUFFIX,
        secret_hash=secrets.digest(secret),
        expires_at=expires_at,
    )
    session.add(token)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("service token", "name", name) from None
    return IssuedServiceToken(token, secret)


def get(session: Session, ref: str) -> ServiceToken:
    """By id, name or client id."""
    token = session.scalar(
        select(ServiceToken).where(
            (ServiceToken.id == ref) | (ServiceToken.name == ref) | (ServiceToken.client_id == ref)
        )
    )
    if token is None:
        raise NotFound("service token", ref)
    return token


def list_all(session: Session) -> Sequence[ServiceToken]:
    return session.scalars(select(ServiceToken).order_by(ServiceToken.created_at)).all()


def rotate(session: Session, ref: str) -> IssuedServiceToken:
    """A new secret for the same client id; the old secret stops working."""
    token = get(session, ref)
    secret = secrets.new_secret(SECRET_PREFIX)
    token.secret_hash = secrets.digest(secret)
    return IssuedServiceToken(token, secret)


def delete(session: Session, ref: str) -> ServiceToken:
    token = get(session, ref)
    session.delete(token)
    return token
