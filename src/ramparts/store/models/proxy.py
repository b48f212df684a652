"""Proxy tables: endpoints and their tokens (configuration); browser sessions, the edges'
proxy listeners and the request log (state written by edges)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ramparts.store.models.base import HASH_LEN, NAME_MAX, Base, utcnow
from ramparts.store.models.identity import EMAIL_MAX

ENDPOINT_ID_LEN = 16  # a DNS label (the endpoint's subdomain); ours are 10 characters
TOKEN_ID_LEN = 36
PROXY_KIND_MAX = 16  # "source_ip", "authorization"
ADDRESS_TEXT_MAX = 45  # longest IPv6 text form (with an embedded IPv4)
HOST_MAX = 253  # RFC 1035 §2.3.4, presentation form without the final dot
METHOD_MAX = 32  # longer request methods are refused by the parser anyway
DECISION_MAX = 16
IDP_MAX = 64


class ProxyEndpoint(Base):
    """Where a browser or a device enters the forward proxy: by source network
    (``source_ip``) or by identity (``authorization``). ``pac`` is a custom PAC file, or ""
    for the generated one."""

    __tablename__ = "proxy_endpoints"

    id: Mapped[str] = mapped_column(String(ENDPOINT_ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    kind: Mapped[str] = mapped_column(String(PROXY_KIND_MAX))
    networks: Mapped[list[str]] = mapped_column(JSON, default=list)
    allow_private_destinations: Mapped[bool] = mapped_column(Boolean, default=False)
    connect_ports: Mapped[list[int]] = mapped_column(JSON, default=list)
    tls_inspection: Mapped[bool] = mapped_column(Boolean, default=False)
    pac: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class ProxyToken(Base):
    """A per-user credential for non-browser clients of an authorization endpoint; only the
    sha256 of the secret is kept."""

    __tablename__ = "proxy_tokens"

    id: Mapped[str] = mapped_column(String(TOKEN_ID_LEN), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("proxy_endpoints.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    digest: Mapped[str] = mapped_column(String(HASH_LEN), unique=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class ProxySession(Base):
    """A browser that logged in through Access for an authorization endpoint, known by its
    source address (state: written by the login page, read by the proxy)."""

    __tablename__ = "proxy_sessions"
    __table_args__ = (Index("ix_proxy_sessions_endpoint_src", "endpoint_id", "src_ip"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("proxy_endpoints.id", ondelete="CASCADE"))
    src_ip: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    idp: Mapped[str] = mapped_column(String(IDP_MAX), default="")
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProxyListener(Base):
    """Where one edge's proxy listens (state, written by the edge): ``proxy`` (plain) and
    ``proxy_tls`` as "host:port"."""

    __tablename__ = "proxy_listeners"

    edge_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    addresses: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class ProxyRequest(Base):
    """One proxied request or tunnel, written in batches by the edges."""

    __tablename__ = "proxy_requests"
    __table_args__ = (Index("ix_proxy_requests_endpoint_at", "endpoint_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    edge: Mapped[str] = mapped_column(String(128), default="")
    endpoint_id: Mapped[str | None] = mapped_column(String(ENDPOINT_ID_LEN), default=None)
    endpoint_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    src_ip: Mapped[str] = mapped_column(String(ADDRESS_TEXT_MAX))
    user_email: Mapped[str] = mapped_column(String(EMAIL_MAX), default="")
    kind: Mapped[str] = mapped_column(String(16))  # http, connect, inspected
    method: Mapped[str] = mapped_column(String(METHOD_MAX), default="")
    host: Mapped[str] = mapped_column(String(HOST_MAX), default="")
    url: Mapped[str] = mapped_column(Text, default="")  # truncated to 2048 by the writer
    decision: Mapped[str] = mapped_column(String(DECISION_MAX), index=True)
    policy_id: Mapped[str] = mapped_column(String(64), default="")
    policy_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    status: Mapped[int] = mapped_column(Integer, default=0)
    bytes_up: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_down: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_us: Mapped[int] = mapped_column(BigInteger, default=0)
