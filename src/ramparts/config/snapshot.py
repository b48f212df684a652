"""Versioned, immutable snapshots of the configuration that edges serve.

A snapshot is built from the store in one consistent read and never changes afterwards. Edges
swap the whole object at once; work that started on an older snapshot keeps its reference and
finishes on it, so a change never drops in-flight requests.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ramparts.config.access import AccessConfig, build_access, empty_access
from ramparts.config.dns import DnsConfig, build_dns_config, empty_dns
from ramparts.config.gateway import DEFAULT_CACHE, GatewayConfig, build_gateway, empty_gateway
from ramparts.config.proxy import ProxyConfig, build_proxy_config, empty_proxy
from ramparts.store import Database, StoreUnavailable
from ramparts.store.models import Route, Tunnel, TunnelConfiguration, VirtualNetwork
from ramparts.store.repositories import team as team_repo
from ramparts.store.repositories import tunnel_routes, versions

MAX_BUILD_ATTEMPTS = 5  # retries when a change commits while the snapshot is being read

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class TunnelEntry:
    id: str
    name: str
    credential_digests: frozenset[str]
    # remotely managed ingress configuration pushed to connectors (version 0: none)
    config_version: int = 0
    config_json: bytes = b""


@dataclass(frozen=True, slots=True)
class VirtualNetworkEntry:
    id: str
    name: str
    is_default: bool


@dataclass(frozen=True, slots=True)
class RouteEntry:
    network: IpNetwork
    virtual_network_id: str
    tunnel_id: str | None
    priority: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    team_name: str
    team_domain: str
    ca_fingerprint: str
    tunnels: Mapping[str, TunnelEntry] = field(default_factory=lambda: MappingProxyType({}))
    virtual_networks: tuple[VirtualNetworkEntry, ...] = ()
    routes: tuple[RouteEntry, ...] = ()
    gateway: GatewayConfig = field(default_factory=empty_gateway)
    # public hostname (exact or "*.suffix") -> tunnel id
    tunnel_hostnames: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    dns: DnsConfig = field(default_factory=empty_dns)
    access: AccessConfig = field(default_factory=empty_access)
    proxy: ProxyConfig = field(default_factory=empty_proxy)

    def tunnel(self, tunnel_id: str) -> TunnelEntry | None:
        return self.tunnels.get(tunnel_id)

    def tunnel_for_host(self, host: str) -> str | None:
        """The tunnel serving ``host``: an exact route, else the longest ``*.`` wildcard."""
        routes = self.tunnel_hostnames
        found = routes.get(host)
        if found is not None:
            return found
        dot = host.find(".")
        while dot != -1:
            found = routes.get("*" + host[dot:])
            if found is not None:
                return found
            dot = host.find(".", dot + 1)
        return None


class SnapshotNotReady(StoreUnavailable):
    """The store has no team yet: the control plane has not initialised it."""


def build_snapshot(db: Database) -> Snapshot:
    """Read a consistent snapshot: the version is read before and after; a change in between
    (every change bumps it in its own transaction) means another attempt."""
    for _ in range(MAX_BUILD_ATTEMPTS):
        with db.session() as session:
            before = versions.current(session)
            snapshot = _read(session, before)
            session.rollback()
            if versions.current(session) == before:
                return snapshot
    raise StoreUnavailable("configuration kept changing while a snapshot was built")


def _read(session: Session, version: int) -> Snapshot:
    team = team_repo.get(session)
    if team is None:
        raise SnapshotNotReady("the store has not been initialised by the control plane yet")
    tunnels = session.scalars(select(Tunnel).options(selectinload(Tunnel.credentials))).all()
    configs = tunnel_routes.latest_configurations(session)
    vnets = session.scalars(select(VirtualNetwork).order_by(VirtualNetwork.name)).all()
    routes = session.scalars(select(Route).order_by(Route.priority, Route.network)).all()
    return Snapshot(
        version=version,
        team_name=team.name,
        team_domain=team.domain,
        ca_fingerprint=team.ca_fingerprint,
        tunnels=MappingProxyType(
            {
                t.id: TunnelEntry(
                    t.id,
                    t.name,
                    frozenset(c.secret_hash for c in t.credentials),
                    *_remote_config(configs.get(t.id)),
                )
                for t in tunnels
            }
        ),
        virtual_networks=tuple(VirtualNetworkEntry(v.id, v.name, v.is_default) for v in vnets),
        routes=tuple(
            RouteEntry(
                ipaddress.ip_network(r.network), r.virtual_network_id, r.tunnel_id, r.priority
            )
            for r in routes
        ),
        dns=build_dns_config(session),
        access=build_access(session),
        proxy=build_proxy_config(session),
        gateway=build_gateway(session, DEFAULT_CACHE),
        tunnel_hostnames=MappingProxyType(
            {h.hostname: h.tunnel_id for h in tunnel_routes.hostnames(session)}
        ),
    )


def _remote_config(row: TunnelConfiguration | None) -> tuple[int, bytes]:
    if row is None:
        return 0, b""
    return row.version, json.dumps(row.config, separators=(",", ":")).encode()
