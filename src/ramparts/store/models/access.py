"""Access tables: applications (a public hostname and optional path prefix behind login) and
their policies, evaluated in ``precedence`` order."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ramparts.store.models.base import NAME_MAX, Base, new_id, utcnow

HOSTNAME_MAX = 253  # RFC 1035 §2.3.4
PATH_MAX = 1024  # a path prefix; request targets are bounded by the HTTP parser anyway
AUD_LEN = 64  # 32 random bytes, hex


class AccessApplication(Base):
    __tablename__ = "access_applications"
    __table_args__ = (UniqueConstraint("domain", "path", name="uq_access_app_location"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    domain: Mapped[str] = mapped_column(String(HOSTNAME_MAX))
    path: Mapped[str] = mapped_column(String(PATH_MAX), default="")
    aud: Mapped[str] = mapped_column(String(AUD_LEN), unique=True)
    session_seconds: Mapped[int] = mapped_column(Integer, default=86400)
    allowed_idps: Mapped[list[str]] = mapped_column(JSON, default=list)
    same_site: Mapped[str] = mapped_column(String(8), default="lax")
    launcher_visible: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AccessPolicy(Base):
    __tablename__ = "access_policies"
    __table_args__ = (
        UniqueConstraint("app_id", "name", name="uq_access_policy_name"),
        UniqueConstraint("app_id", "precedence", name="uq_access_policy_order"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(
        ForeignKey("access_applications.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    action: Mapped[str] = mapped_column(String(16))
    precedence: Mapped[int] = mapped_column(Integer)
    include: Mapped[list[str]] = mapped_column(JSON, default=list)
    require: Mapped[list[str]] = mapped_column(JSON, default=list)
    exclude: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
