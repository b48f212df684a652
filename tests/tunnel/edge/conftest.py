"""Fixtures: an in-process edge tunnel server over real TLS on loopback, with a real store."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ramparts.config.snapshot import Snapshot, build_snapshot
from ramparts.edge.metrics import EdgeMetrics
from ramparts.pki.ca import TeamCA
from ramparts.pki.tls import write_certificate
from ramparts.store import Database
from ramparts.store.repositories import edges, team, tunnels, versions
from ramparts.tunnel.edge.registry import TunnelRegistry
from ramparts.tunnel.edge.server import TunnelServer
from ramparts.tunnel.token import ConnectorToken


@dataclass
class Edge:
    db: Database
    ca: TeamCA
    server: TunnelServer
    registry: TunnelRegistry
    tunnel_id: str
    secret: str
    certfile: Path
    keyfile: Path

    def token(self, secret: str | None = None) -> ConnectorToken:
        return ConnectorToken(
            tunnel_id=self.tunnel_id,
            secret=secret or self.secret,
            edge_addresses=(self.server.addresses["tunnel"],),
            ca_fingerprint=self.ca.fingerprint,
            team_domain="acme.localhost",
            ca_der=ssl.PEM_cert_to_DER_cert(self.ca.cert_pem.decode()),
        )

    def snapshot(self) -> Snapshot:
        return build_snapshot(self.db)

    @property
    def tmp(self) -> Path:
        return self.certfile.parent


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    db.migrate()
    ca = TeamCA.create("acme")
    with db.transaction() as s:
        team.create(
            s,
            name="acme",
            domain="acme.localhost",
            ca_cert_pem=ca.cert_pem.decode(),
            ca_fingerprint=ca.fingerprint,
        )
        versions.ensure_row(s)
        issued = tunnels.create(s, "demo")
        versions.bump(s)
        edges.heartbeat(s, edge_id="edge-1", name="e1", tunnel_address="", snapshot_version=1)
    names = ["127.0.0.1", "localhost", "*.acme.localhost"]
    cert, key = write_certificate(tmp_path, "edge", ca.issue_server_certificate(names))
    registry = TunnelRegistry()
    server = TunnelServer(
        host="127.0.0.1",
        port=0,
        certfile=cert,
        keyfile=key,
        db=db,
        edge_id="edge-1",
        edge_name="e1",
        metrics=EdgeMetrics(),
        registry=registry,
        drain_timeout=2.0,
    )
    await server.start(build_snapshot(db))
    yield Edge(db, ca, server, registry, issued.tunnel.id, issued.secret, cert, key)
    await server.stop()
    db.dispose()
