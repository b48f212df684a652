"""Core tables: team, config version, API tokens, audit log, tunnels, virtual networks, edges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ramparts.store.models.base import HASH_LEN, NAME_MAX, Base, new_id, utcnow


class Team(Base):
    """The one team of this installation: its domain and the public half of its CA."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    domain: Mapped[str] = mapped_column(String(253))
    ca_cert_pem: Mapped[str] = mapped_column(Text)
    ca_fingerprint: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConfigVersion(Base):
    """One row: the version of the configuration edges serve. Every change bumps it."""

    __tablename__ = "config_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """An admin API token. Only its sha256 is kept; the token is shown once at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    token_hash: Mapped[str] = mapped_column(String(HASH_LEN), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class AuditEvent(Base):
    """Who changed what, when. Details never hold secrets."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Tunnel(Base):
    """A named tunnel: connectors authenticate to it with one of its credentials."""

    __tablename__ = "tunnels"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    secret_rotated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    credentials: Mapped[list[TunnelCredential]] = relationship(
        back_populates="tunnel", cascade="all, delete-orphan", passive_deletes=True
    )


class TunnelCredential(Base):
    """One connector secret of a tunnel, stored as sha256 only."""

    __tablename__ = "tunnel_credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tunnel_id: Mapped[str] = mapped_column(ForeignKey("tunnels.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(HASH_LEN), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    tunnel: Mapped[Tunnel] = relationship(back_populates="credentials")


class VirtualNetwork(Base):
    """An isolated routing table, so that overlapping private CIDRs can coexist."""

    __tablename__ = "virtual_networks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Route(Base):
    """CIDR -> next hop inside a virtual network; a tunnel is one kind of next hop."""

    __tablename__ = "routes"
    __table_args__ = (UniqueConstraint("virtual_network_id", "network", "priority"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    virtual_network_id: Mapped[str] = mapped_column(
        ForeignKey("virtual_networks.id", ondelete="CASCADE"), index=True
    )
    network: Mapped[str] = mapped_column(String(49))  # an IPv6 CIDR is at most 43 chars
    tunnel_id: Mapped[str | None] = mapped_column(
        ForeignKey("tunnels.id", ondelete="CASCADE"), default=None
    )
    priority: Mapped[int] = mapped_column(Integer, default=100)
    comment: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EdgeNode(Base):
    """An edge process that serves this store's snapshots (state, not configuration)."""

    __tablename__ = "edge_nodes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    tunnel_address: Mapped[str] = mapped_column(String(300), default="")
    snapshot_version: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
