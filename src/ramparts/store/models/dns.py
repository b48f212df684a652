"""DNS tables: locations, upstream resolvers, team DNS settings, edge DNS listeners, query log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ramparts.store.models.base import NAME_MAX, Base, new_id, utcnow

LOCATION_ID_LEN = 16  # a DNS label (the DoT hostname's first label); ours are 10 characters
UPSTREAM_ADDRESS_MAX = 300  # a DoH URL or host:port
QNAME_MAX = 253  # RFC 1035 §2.3.4, presentation form without the final dot
ADDRESS_TEXT_MAX = 45  # longest IPv6 text form (with an embedded IPv4)


class DnsLocation(Base):
    """A network whose resolver points at the edge: source CIDRs for plain DNS, and a short
    id that names it in DoT (SNI) and DoH (URL) requests."""

    __tablename__ = "dns_locations"

    id: Mapped[str] = mapped_column(String(LOCATION_ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    networks: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class DnsUpstream(Base):
    """An upstream resolver; ``position`` orders failover (lowest first)."""

    __tablename__ = "dns_upstreams"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # udp, tcp, dot, doh
    address: Mapped[str] = mapped_column(String(UPSTREAM_ADDRESS_MAX))
    bootstrap: Mapped[list[str]] = mapped_column(JSON, default=list)
    tls_name: Mapped[str] = mapped_column(String(253), default="")
    tls_ca_pem: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DnsSettings(Base):
    """One row: the team's DNS behaviour (unmatched queries, cache clamps, block page, log)."""

    __tablename__ = "dns_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unmatched_plain: Mapped[str] = mapped_column(String(16), default="refuse")
    unmatched_encrypted: Mapped[str] = mapped_column(String(16), default="serve")
    cache_min_ttl: Mapped[int] = mapped_column(Integer, default=0)
    cache_max_ttl: Mapped[int] = mapped_column(Integer, default=86_400)
    negative_max_ttl: Mapped[int] = mapped_column(Integer, default=3_600)
    block_page_ipv4: Mapped[str] = mapped_column(String(ADDRESS_TEXT_MAX), default="")
    block_page_ipv6: Mapped[str] = mapped_column(String(ADDRESS_TEXT_MAX), default="")
    query_log: Mapped[bool] = mapped_column(Boolean, default=True)
    log_retention_days: Mapped[int] = mapped_column(Integer, default=7)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DnsEndpoint(Base):
    """Where one edge's DNS listeners are (state, written by the edge), for client settings."""

    __tablename__ = "dns_endpoints"

    edge_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    addresses: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DnsQuery(Base):
    """One answered (or refused) query, written in batches by the edges."""

    __tablename__ = "dns_queries"
    __table_args__ = (Index("ix_dns_queries_location_at", "location_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    edge: Mapped[str] = mapped_column(String(128), default="")
    location_id: Mapped[str | None] = mapped_column(String(LOCATION_ID_LEN), default=None)
    location_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    protocol: Mapped[str] = mapped_column(String(8))
    src_ip: Mapped[str] = mapped_column(String(ADDRESS_TEXT_MAX))
    qname: Mapped[str] = mapped_column(String(QNAME_MAX))
    qtype: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(16), index=True)
    policy_id: Mapped[str] = mapped_column(String(64), default="")
    policy_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    upstream: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    rcode: Mapped[str] = mapped_column(String(12))
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_us: Mapped[int] = mapped_column(Integer, default=0)
