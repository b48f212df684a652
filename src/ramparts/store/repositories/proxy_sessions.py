"""Browser sessions of authorization proxy endpoints: a client address bound to a user.

Written by the team domain's proxy login page after an Access login, read by the proxy (which
caches them briefly). Browsers cannot present a token to a proxy without a dialog, so a
logged-in user's source address stands for them until the session expires or they log out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ramparts.store.models import ProxySession, new_id, utcnow


def bind(
    session: Session,
    *,
    endpoint_id: str,
    src_ip: str,
    email: str,
    groups: Sequence[str],
    idp: str,
    expires_at: dt.datetime,
) -> ProxySession:
    """Bind ``src_ip`` to a user on an endpoint (replacing an earlier binding of that IP)."""
    session.execute(
        delete(ProxySession).where(
            ProxySession.endpoint_id == endpoint_id, ProxySession.src_ip == src_ip
        )
    )
    row = ProxySession(
        id=new_id(),
        endpoint_id=endpoint_id,
        src_ip=src_ip,
        email=email,
        groups=list(groups),
        idp=idp,
        expires_at=expires_at,
        created_at=utcnow(),
    )
    session.add(row)
    return row


def find(
    session: Session, endpoint_id: str, src_ip: str, now: dt.datetime | None = None
) -> ProxySession | None:
    """The live binding of ``src_ip`` on the endpoint, if any."""
    return session.scalars(
        select(ProxySession)
        .where(
            ProxySession.endpoint_id == endpoint_id,
            ProxySession.src_ip == src_ip,
            ProxySession.expires_at > (now or utcnow()),
        )
        .order_by(ProxySession.created_at.desc())
        .limit(1)
    ).first()


def end_for_user(session: Session, email: str) -> int:
    """Remove every binding of a user (logout); returns how many."""
    result = session.execute(delete(ProxySession).where(ProxySession.email == email))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_expired(session: Session, now: dt.datetime | None = None) -> int:
    result = session.execute(
        delete(ProxySession).where(ProxySession.expires_at <= (now or utcnow()))
    )
    return int(getattr(result, "rowcount", 0) or 0)
