"""Users (recorded at login by edges) and groups of email addresses (managed by admins)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import IdentityGroup, IdentityGroupMember, IdentityUser, utcnow

MAX_GROUP_MEMBERS = 100_000  # every membership is in each snapshot


def record_login(
    session: Session, *, email: str, name: str, idp_id: str, now: dt.datetime | None = None
) -> IdentityUser:
    """The user with ``email`` (created on first login), with its last login updated."""
    now = now or utcnow()
    user = session.scalar(select(IdentityUser).where(IdentityUser.email == email))
    if user is None:
        user = IdentityUser(email=email, name=name, last_idp_id=idp_id, created_at=now)
        try:
            with session.begin_nested():
                session.add(user)
                session.flush()
        except IntegrityError:  # another edge created it at the same moment
            user = session.scalars(select(IdentityUser).where(IdentityUser.email == email)).one()
    user.last_login_at = now
    user.last_idp_id = idp_id
    if name:
        user.name = name
    return user


def get_user(session: Session, ref: str) -> IdentityUser:
    user = session.scalar(
        select(IdentityUser).where((IdentityUser.id == ref) | (IdentityUser.email == ref.lower()))
    )
    if user is None:
        raise NotFound("user", ref)
    return user


def page_users(
    session: Session, *, limit: int, after: tuple[dt.datetime, str] | None = None
) -> Sequence[IdentityUser]:
    query = select(IdentityUser).order_by(IdentityUser.created_at, IdentityUser.id).limit(limit)
    if after is not None:
        query = query.where(tuple_(IdentityUser.created_at, IdentityUser.id) > tuple_(*after))
    return session.scalars(query).all()


def revoke_sessions(session: Session, ref: str, now: dt.datetime | None = None) -> IdentityUser:
    """Tokens issued to the user before now are refused from the next snapshot on."""
    user = get_user(session, ref)
    user.sessions_revoked_at = now or utcnow()
    return user


def revocations(session: Session) -> dict[str, dt.datetime]:
    rows = session.execute(
        select(IdentityUser.id, IdentityUser.sessions_revoked_at).where(
            IdentityUser.sessions_revoked_at.is_not(None)
        )
    ).all()
    return {user_id: at for user_id, at in rows if at is not None}


# -- groups ------------------------------------------------------------------------------


def create_group(
    session: Session, name: str, description: str, emails: Iterable[str]
) -> IdentityGroup:
    group = IdentityGroup(name=name, description=description)
    session.add(group)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("group", "name", name) from None
    set_members(session, group, emails)
    return group


def get_group(session: Session, ref: str) -> IdentityGroup:
    group = session.scalar(
        select(IdentityGroup).where((IdentityGroup.id == ref) | (IdentityGroup.name == ref))
    )
    if group is None:
        raise NotFound("group", ref)
    return group


def list_groups(session: Session) -> Sequence[IdentityGroup]:
    return session.scalars(select(IdentityGroup).order_by(IdentityGroup.name)).all()


def members(session: Session, group_id: str) -> list[str]:
    return list(
        session.scalars(
            select(IdentityGroupMember.email)
            .where(IdentityGroupMember.group_id == group_id)
            .order_by(IdentityGroupMember.email)
        )
    )


def set_members(session: Session, group: IdentityGroup, emails: Iterable[str]) -> None:
    wanted = sorted({e.lower() for e in emails})
    total = session.scalar(select(func.count()).select_from(IdentityGroupMember)) or 0
    if total + len(wanted) > MAX_GROUP_MEMBERS:
        raise Conflict("group", "member count", str(MAX_GROUP_MEMBERS))
    session.execute(delete(IdentityGroupMember).where(IdentityGroupMember.group_id == group.id))
    session.add_all(IdentityGroupMember(group_id=group.id, email=e) for e in wanted)
    session.flush()


def memberships(session: Session) -> dict[str, frozenset[str]]:
    """email -> names of the store groups it belongs to."""
    rows = session.execute(
        select(IdentityGroupMember.email, IdentityGroup.name).join(
            IdentityGroup, IdentityGroup.id == IdentityGroupMember.group_id
        )
    ).all()
    found: dict[str, set[str]] = {}
    for email, name in rows:
        found.setdefault(email, set()).add(name)
    return {email: frozenset(names) for email, names in found.items()}


def delete_group(session: Session, ref: str) -> IdentityGroup:
    group = get_group(session, ref)
    session.delete(group)
    return group
