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
            access=AccessFront(db=ctx.db),
        ),
    ]
    services.append(_dns_service(ctx))
    return services


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
