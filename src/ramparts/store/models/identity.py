"""Identity tables: users (created at first login), groups, identity providers, service
tokens, the Access signing keys, and one-time PIN challenges (state written by edges)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ramparts.store.models.base import HASH_LEN, NAME_MAX, Base, new_id, utcnow

EMAIL_MAX = 254  # RFC 5321 §4.5.3.1.3 (path) minus the brackets
IDP_TYPE_MAX = 16


class IdentityUser(Base):
    """A person who logged in at least once. ``sessions_revoked_at``: tokens issued before it
    are refused (set by an admin)."""

    __tablename__ = "identity_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    last_idp_id: Mapped[str] = mapped_column(String(36), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    sessions_revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class IdentityGroup(Base):
    """A named group of email addresses, usable in Access policies next to IdP groups."""

    __tablename__ = "identity_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    description: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class IdentityGroupMember(Base):
    __tablename__ = "identity_group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("identity_groups.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), primary_key=True)


class IdentityProvider(Base):
    """An identity provider: ``oidc`` or ``otp`` (one-time PIN by email). ``config`` holds the
    non-secret settings; ``secret`` the client secret or SMTP password (never returned)."""

    __tablename__ = "identity_providers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    type: Mapped[str] = mapped_column(String(IDP_TYPE_MAX))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ServiceToken(Base):
    """A machine credential: client id (public) + secret (only its sha256 is kept)."""

    __tablename__ = "service_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    client_id: Mapped[str] = mapped_column(String(80), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class AccessSigningKey(Base):
    """An RSA key that signs Access tokens. The private key never leaves the store and the
    edges' memory; ``retired_at`` is when a rotation stopped it from signing."""

    __tablename__ = "access_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class OtpChallenge(Base):
    """A one-time PIN sent (or pretended to be sent) to an address. State, not configuration:
    written by edges, never part of a snapshot."""

    __tablename__ = "identity_otp_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idp_id: Mapped[str] = mapped_column(String(36))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), index=True)
    code_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    deliverable: Mapped[bool] = mapped_column(Boolean)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
