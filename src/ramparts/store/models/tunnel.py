"""Tunnel tables beyond the core: public hostnames routed to tunnels (configuration) and the
connector connections edges currently hold (state, written by edges)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ramparts.store.models.base import Base, new_id, utcnow

HOSTNAME_MAX = 253  # RFC 1035 §2.3.4


class TunnelHostname(Base):
    """A public hostname (exact, or ``*.`` wildcard) whose requests go down a tunnel."""

    __tablename__ = "tunnel_hostnames"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    hostname: Mapped[str] = mapped_column(String(HOSTNAME_MAX), unique=True)
    tunnel_id: Mapped[str] = mapped_column(ForeignKey("tunnels.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TunnelConnectionRecord(Base):
    """One registered connector connection, as recorded by the edge that holds it."""

    __tablename__ = "tunnel_connections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tunnel_id: Mapped[str] = mapped_column(ForeignKey("tunnels.id", ondelete="CASCADE"), index=True)
    edge_id: Mapped[str] = mapped_column(String(36), index=True)
    edge_name: Mapped[str] = mapped_column(String(128))
    connector_id: Mapped[str] = mapped_column(String(36))
    connection_index: Mapped[int] = mapped_column(Integer)
    origin_ip: Mapped[str] = mapped_column(String(64))
    client_version: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(16), default="tcp")
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TunnelConfiguration(Base):
    """A version of a tunnel's remotely managed ingress configuration (newest wins)."""

    __tablename__ = "tunnel_configurations"
    __table_args__ = (UniqueConstraint("tunnel_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tunnel_id: Mapped[str] = mapped_column(ForeignKey("tunnels.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
