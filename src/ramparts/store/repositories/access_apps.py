"""Access applications and their ordered policies."""

from __future__ import annotations

import datetime as dt
import secrets as pysecrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import AccessApplication, AccessPolicy, utcnow

AUD_BYTES = 32  # the application's audience tag: 64 hex characters, like the brief's
MAX_APPS = 5000  # every app is in each snapshot
MAX_POLICIES_PER_APP = 500
PRECEDENCE_STEP = 10  # gap between automatic precedences, so a policy fits in between
MAX_PRECEDENCE = 2**31 - 1

APP_FIELDS = ("name", "domain", "path", "session_seconds", "allowed_idps", "same_site")
POLICY_FIELDS = ("name", "action", "precedence", "include", "require", "exclude")


def create_app(session: Session, **fields: Any) -> AccessApplication:
    if (session.scalar(select(func.count()).select_from(AccessApplication)) or 0) >= MAX_APPS:
        raise Conflict("application", "count", str(MAX_APPS))
    app = AccessApplication(aud=pysecrets.token_hex(AUD_BYTES), **fields)
    session.add(app)
    _flush_app(session, app)
    return app


def get_app(session: Session, ref: str) -> AccessApplication:
    """By id, name or AUD tag."""
    app = session.scalar(
        select(AccessApplication).where(
            (AccessApplication.id == ref)
            | (AccessApplication.name == ref)
            | (AccessApplication.aud == ref)
        )
    )
    if app is None:
        raise NotFound("application", ref)
    return app


def page_apps(
    session: Session, *, limit: int, after: tuple[dt.datetime, str] | None = None
) -> Sequence[AccessApplication]:
    query = (
        select(AccessApplication)
        .order_by(AccessApplication.created_at, AccessApplication.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(
            tuple_(AccessApplication.created_at, AccessApplication.id) > tuple_(*after)
        )
    return session.scalars(query).all()


def all_apps(session: Session) -> Sequence[AccessApplication]:
    return session.scalars(select(AccessApplication).order_by(AccessApplication.name)).all()


def update_app(session: Session, ref: str, **fields: Any) -> AccessApplication:
    app = get_app(session, ref)
    for key, value in fields.items():
        if key not in APP_FIELDS:
            raise ValueError(key)
        setattr(app, key, value)
    app.updated_at = utcnow()
    _flush_app(session, app)
    return app


def delete_app(session: Session, ref: str) -> AccessApplication:
    app = get_app(session, ref)
    session.delete(app)
    return app


def _flush_app(session: Session, app: AccessApplication) -> None:
    """Conflicts are named by a look-up first (no savepoint needed); a race still ends in a
    Conflict through the unique constraints."""
    with session.no_autoflush:
        others = select(AccessApplication.id).where(AccessApplication.id != app.id)
        if session.scalar(others.where(AccessApplication.name == app.name)) is not None:
            raise Conflict("application", "name", app.name)
        if (
            session.scalar(
                others.where(
                    AccessApplication.domain == app.domain, AccessApplication.path == app.path
                )
            )
            is not None
        ):
            raise Conflict("application", "domain", f"{app.domain}{app.path}")
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("application", "name", app.name) from None


# -- policies ------------------------------------------------------------------------------


def policies(session: Session, app_id: str) -> Sequence[AccessPolicy]:
    return session.scalars(
        select(AccessPolicy)
        .where(AccessPolicy.app_id == app_id)
        .order_by(AccessPolicy.precedence, AccessPolicy.id)
    ).all()


def all_policies(session: Session) -> Sequence[AccessPolicy]:
    return session.scalars(
        select(AccessPolicy).order_by(AccessPolicy.app_id, AccessPolicy.precedence)
    ).all()


def create_policy(session: Session, app: AccessApplication, **fields: Any) -> AccessPolicy:
    count = session.scalar(
        select(func.count()).select_from(AccessPolicy).where(AccessPolicy.app_id == app.id)
    )
    if (count or 0) >= MAX_POLICIES_PER_APP:
        raise Conflict("policy", "count", str(MAX_POLICIES_PER_APP))
    if fields.get("precedence") is None:
        last = session.scalar(
            select(func.max(AccessPolicy.precedence)).where(AccessPolicy.app_id == app.id)
        )
        step = PRECEDENCE_STEP
        fields["precedence"] = step if last is None else min(MAX_PRECEDENCE, int(last) + step)
    policy = AccessPolicy(app_id=app.id, **fields)
    session.add(policy)
    _flush_policy(session, policy)
    return policy


def get_policy(session: Session, app: AccessApplication, ref: str) -> AccessPolicy:
    policy = session.scalar(
        select(AccessPolicy).where(
            AccessPolicy.app_id == app.id, (AccessPolicy.id == ref) | (AccessPolicy.name == ref)
        )
    )
    if policy is None:
        raise NotFound("policy", ref)
    return policy


def update_policy(
    session: Session, app: AccessApplication, ref: str, **fields: Any
) -> AccessPolicy:
    policy = get_policy(session, app, ref)
    for key, value in fields.items():
        if key not in POLICY_FIELDS:
            raise ValueError(key)
        setattr(policy, key, value)
    policy.updated_at = utcnow()
    _flush_policy(session, policy)
    return policy


def delete_policy(session: Session, app: AccessApplication, ref: str) -> AccessPolicy:
    policy = get_policy(session, app, ref)
    session.delete(policy)
    return policy


def _flush_policy(session: Session, policy: AccessPolicy) -> None:
    with session.no_autoflush:
        others = select(AccessPolicy.id).where(
            AccessPolicy.app_id == policy.app_id, AccessPolicy.id != policy.id
        )
        if session.scalar(others.where(AccessPolicy.name == policy.name)) is not None:
            raise Conflict("policy", "name", policy.name)
        if session.scalar(others.where(AccessPolicy.precedence == policy.precedence)) is not None:
            raise Conflict("policy", "precedence", str(policy.precedence))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("policy", "name", policy.name) from None
