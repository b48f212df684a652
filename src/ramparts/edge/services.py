"""The list of services an edge runs. Each capability adds its listener here, in start order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ramparts.access.front import AccessFront
from ramparts.config.feed import SnapshotFeed
from ramparts.dns.service import DnsService, DnsServiceSettings
from ramparts.edge.metrics import EdgeMetrics
from ramparts.edge.service import EdgeService
from ramparts.edge.settings import EdgeSettings
from ramparts.pki.ca import CaError
from ramparts.proxy.destination import DestinationResolver, split_host_port
from ramparts.proxy.inspect import Inspector
from ramparts.proxy.service import ProxyService
from ramparts.store import Database
from ramparts.tunnel.edge.http_ingress import HttpsIngress
from ramparts.tunnel.edge.registry import TunnelRegistry
from ramparts.tunnel.edge.server import TunnelServer


@dataclass(frozen=True, slots=True)
class EdgeContext:
    """What a service may use: settings, metrics, the store (for state and logs, never for
    configuration: that comes from the snapshot), and the edge's TLS certificate."""

    settings: EdgeSettings
    metrics: EdgeMetrics
    db: Database
    feed: SnapshotFeed
    edge_id: str
    certfile: Path
    keyfile: Path


def build_services(ctx: EdgeContext) -> list[EdgeService]:
    tunnels = TunnelRegistry()
    access = AccessFront(db=ctx.db)  # one per edge: the HTTPS listener and the proxy share it
    services: list[EdgeService] = [
        TunnelServer(
            host=ctx.settings.bind_host,
            port=ctx.settings.tunnel_port,
            certfile=ctx.certfile,
            keyfile=ctx.keyfile,
            db=ctx.db,
            edge_id=ctx.edge_id,
            edge_name=ctx.settings.name,
            metrics=ctx.metrics,
            registry=tunnels,
            drain_timeout=ctx.settings.drain_timeout,
        ),
        HttpsIngress(
            host=ctx.settings.bind_host,
            port=ctx.settings.https_port,
            certfile=ctx.certfile,
            keyfile=ctx.keyfile,
            metrics=ctx.metrics,
            registry=tunnels,
            drain_timeout=ctx.settings.drain_timeout,
            access=access,
        ),
    ]
    services.append(_dns_service(ctx))
    services.append(_proxy_service(ctx, access))
    return services


def _proxy_service(ctx: EdgeContext, access: AccessFront) -> ProxyService:
    s = ctx.settings
    resolver = None
    if s.proxy_resolver:
        host, port = split_host_port(s.proxy_resolver, 53)
        resolver = DestinationResolver((host, port))
    return ProxyService(
        host=s.bind_host,
        port=s.proxy_port,
        tls_port=s.proxy_tls_port,
        certfile=ctx.certfile,
        keyfile=ctx.keyfile,
        db=ctx.db,
        edge_id=ctx.edge_id,
        edge_name=s.name,
        registry=ctx.metrics.registry,
        drain_timeout=s.drain_timeout,
        access=access,
        resolver=resolver,
        origin_ca=s.proxy_origin_ca,
        inspector=_inspector(s.data_dir),
    )


def _inspector(data_dir: Path) -> Inspector | None:
    """TLS inspection needs the team CA's key on this edge; without it tunnels are spliced."""
    try:
        return Inspector(data_dir)
    except CaError:
        return None


def _dns_service(ctx: EdgeContext) -> DnsService:
    s = ctx.settings
    return DnsService(
        DnsServiceSettings(
            host=s.bind_host,
            dns_port=s.dns_port,
            dot_port=s.dot_port,
            doh_port=s.doh_port,
            workers=s.dns_workers,
            drain_timeout=s.drain_timeout,
            poll_interval=s.poll_interval,
            hostnames=list(s.hostnames),
        ),
        db=ctx.db,
        edge_id=ctx.edge_id,
        edge_name=s.name,
        data_dir=s.data_dir,
        certfile=ctx.certfile,
        keyfile=ctx.keyfile,
        own_certificate=s.tls_cert is None,
        registry=ctx.metrics.registry,
    )
