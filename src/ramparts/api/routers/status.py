"""/api/v1/health (no auth) and /api/v1/status: team, config version, live edges."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from ramparts import __version__
from ramparts.api.auth import AdminActor, Plane
from ramparts.store.repositories import edges, versions

router = APIRouter(tags=["status"])


class Health(BaseModel):
    status: str


class EdgeOut(BaseModel):
    id: str
    name: str
    tunnel_address: str
    snapshot_version: int
    started_at: dt.datetime
    last_seen_at: dt.datetime


class StatusOut(BaseModel):
    version: str
    team_name: str
    team_domain: str
    ca_fingerprint: str
    ca_cert_pem: str
    config_version: int
    edges: list[EdgeOut]


@router.get("/health", response_model=Health)
def health() -> Health:
    return Health(status="ok")


@router.get("/status", response_model=StatusOut)
def status(cp: Plane, _actor: AdminActor) -> StatusOut:
    with cp.db.session() as session:
        config_version = versions.current(session)
        live = [
            EdgeOut(
                id=e.id,
                name=e.name,
                tunnel_address=e.tunnel_address,
                snapshot_version=e.snapshot_version,
                started_at=e.started_at,
                last_seen_at=e.last_seen_at,
            )
            for e in edges.live(session)
        ]
    return StatusOut(
        version=__version__,
        team_name=cp.team.name,
        team_domain=cp.team.domain,
        ca_fingerprint=cp.team.ca_fingerprint,
        ca_cert_pem=cp.team.ca_cert_pem,
        config_version=config_version,
        edges=live,
    )
