"""The configuration version: bumped by every change that edges must see."""

from __future__ import annotations

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from ramparts.store.database import CONFIG_CHANNEL
from ramparts.store.models import ConfigVersion, utcnow

ROW_ID = 1


def current(session: Session) -> int:
    version = session.scalar(select(ConfigVersion.version).where(ConfigVersion.id == ROW_ID))
    return int(version) if version is not None else 0


def ensure_row(session: Session) -> None:
    if session.get(ConfigVersion, ROW_ID) is None:
        session.add(ConfigVersion(id=ROW_ID, version=1))
        session.flush()


def bump(session: Session) -> int:
    """Increment the version inside the caller's transaction and announce it on commit.

    On PostgreSQL the NOTIFY is transactional: listeners hear it only if the change commits.
    In-process listeners are called by ``Database.transaction`` after the commit.
    """
    ensure_row(session)
    version = session.execute(
        update(ConfigVersion)
        .where(ConfigVersion.id == ROW_ID)
        .values(version=ConfigVersion.version + 1, updated_at=utcnow())
        .returning(ConfigVersion.version)
    ).scalar_one()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:ch, :v)"), {"ch": CONFIG_CHANNEL, "v": str(version)}
        )
    session.info["config_version"] = int(version)
    return int(version)
