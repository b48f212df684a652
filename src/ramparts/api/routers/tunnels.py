"""/api/v1/tunnels: create, list, get, delete, issue a connector token, rotate the secret."""

from __future__ import annotations

import datetime as dt
import ssl
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ramparts.api.auth import AdminActor, Plane
from ramparts.api.context import ControlPlane
from ramparts.api.errors import ApiError
from ramparts.api.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorParam,
    Limit,
    created_cursor,
    decode_created_cursor,
    set_next,
)
from ramparts.store.models import NAME_MAX, Tunnel
from ramparts.store.repositories import audit, tunnel_routes, tunnels, versions
from ramparts.store.repositories.tunnels import IssuedCredential
from ramparts.tunnel.connector.config import parse_remote_config
from ramparts.tunnel.connector.errors import ConfigError
from ramparts.tunnel.token import ConnectorToken

router = APIRouter(prefix="/tunnels", tags=["tunnels"])

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
TunnelRef = Annotated[
    str, Path(max_length=NAME_MAX, pattern=NAME_PATTERN, description="tunnel id or name")
]


class TunnelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)


class TunnelOut(BaseModel):
    id: str
    name: str
    created_at: dt.datetime
    secret_rotated_at: dt.datetime
    credentials: int = Field(description="number of live connector tokens")


class TunnelWithToken(TunnelOut):
    token: str = Field(description="connector token; shown once, only its digest is stored")


def _out(tunnel: Tunnel) -> TunnelOut:
    return TunnelOut(
        id=tunnel.id,
        name=tunnel.name,
        created_at=tunnel.created_at,
        secret_rotated_at=tunnel.secret_rotated_at,
        credentials=len(tunnel.credentials),
    )


def _with_token(cp: ControlPlane, issued: IssuedCredential) -> TunnelWithToken:
    addresses = cp.tunnel_addresses()
    if not addresses:
        raise ApiError(503, "no_edge", "no edge has announced a tunnel address yet")
    token = ConnectorToken(
        tunnel_id=issued.tunnel.id,
        secret=issued.secret,
        edge_addresses=tuple(addresses),
        ca_fingerprint=cp.team.ca_fingerprint,
        team_domain=cp.team.domain,
        ca_der=ssl.PEM_cert_to_DER_cert(cp.team.ca_cert_pem),
    )
    return TunnelWithToken(**_out(issued.tunnel).model_dump(), token=token.encode())


@router.post("", status_code=201, response_model=TunnelWithToken)
def create_tunnel(body: TunnelCreate, cp: Plane, actor: AdminActor) -> TunnelWithToken:
    with cp.db.transaction() as session:
        issued = tunnels.create(session, body.name)
        result = _with_token(cp, issued)
        audit.record(
            session,
            actor=actor.name,
            action="tunnel.create",
            resource_type="tunnel",
            resource_id=issued.tunnel.id,
            details={"name": body.name},
        )
        versions.bump(session)
    return result


@router.get("", response_model=list[TunnelOut])
def list_tunnels(
    request: Request,
    response: Response,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
    name: Annotated[str | None, Query(max_length=NAME_MAX, description="exact name")] = None,
) -> list[TunnelOut]:
    after = decode_created_cursor(cursor)
    with cp.db.session() as session:
        rows = tunnels.page(session, limit=limit + 1, after=after, name=name)
    page = rows[:limit]
    if len(rows) > limit:
        last = page[-1]
        set_next(request, response, created_cursor(last.created_at, last.id))
    return [_out(t) for t in page]


@router.get("/{ref}", response_model=TunnelOut)
def get_tunnel(ref: TunnelRef, cp: Plane, _actor: AdminActor) -> TunnelOut:
    with cp.db.session() as session:
        return _out(tunnels.get(session, ref))


@router.delete("/{ref}", status_code=204)
def delete_tunnel(ref: TunnelRef, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        tunnel = tunnels.delete_tunnel(session, ref)
        audit.record(
            session,
            actor=actor.name,
            action="tunnel.delete",
            resource_type="tunnel",
            resource_id=tunnel.id,
            details={"name": tunnel.name},
        )
        versions.bump(session)
    return Response(status_code=204)


@router.post("/{ref}/token", status_code=201, response_model=TunnelWithToken)
def issue_token(ref: TunnelRef, cp: Plane, actor: AdminActor) -> TunnelWithToken:
    """A further connector token; earlier tokens keep working (use rotate to revoke them)."""
    with cp.db.transaction() as session:
        issued = tunnels.issue_credential(session, ref)
        result = _with_token(cp, issued)
        audit.record(
            session,
            actor=actor.name,
            action="tunnel.token.issue",
            resource_type="tunnel",
            resource_id=issued.tunnel.id,
        )
        versions.bump(session)
    return result


@router.post("/{ref}/rotate", status_code=201, response_model=TunnelWithToken)
def rotate_secret(ref: TunnelRef, cp: Plane, actor: AdminActor) -> TunnelWithToken:
    """Revoke every connector token of the tunnel and issue a new one."""
    with cp.db.transaction() as session:
        issued = tunnels.rotate(session, ref)
        result = _with_token(cp, issued)
        audit.record(
            session,
            actor=actor.name,
            action="tunnel.rotate",
            resource_type="tunnel",
            resource_id=issued.tunnel.id,
        )
        versions.bump(session)
    return result


# -- public hostnames and connections --------------------------------------------------

HOSTNAME_PATTERN = (  # letters are case-insensitive; stored lower-case
    r"^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)


class HostnameRoute(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hostname: str = Field(
        min_length=1, max_length=253, pattern=HOSTNAME_PATTERN, description="exact or *.suffix"
    )


class HostnameRouteOut(BaseModel):
    hostname: str
    tunnel_id: str
    created_at: dt.datetime


class ConnectionOut(BaseModel):
    id: str
    edge_id: str
    edge_name: str
    connector_id: str
    connection_index: int
    origin_ip: str
    client_version: str
    protocol: str
    opened_at: dt.datetime


@router.post("/{ref}/hostnames", status_code=201, response_model=HostnameRouteOut)
def add_hostname(
    ref: TunnelRef, body: HostnameRoute, cp: Plane, actor: AdminActor
) -> HostnameRouteOut:
    """Route a public hostname to the tunnel (like `tunnel route dns`)."""
    hostname = body.hostname.lower()
    with cp.db.transaction() as session:
        route = tunnel_routes.add_hostname(session, ref, hostname)
        audit.record(
            session,
            actor=actor.name,
            action="tunnel.hostname.add",
            resource_type="tunnel",
            resource_id=route.tunnel_id,
            details={"hostname": hostname},
        )
        versions.bump(session)
        return HostnameRouteOut(
            hostname=route.hostname, tunnel_id=route.tunnel_id, created_at=route.created_at
        )


@router.get("/{ref}/hostnames", response_model=list[HostnameRouteOut])
def list_hostnames(ref: TunnelRef, cp: Plane, _actor: AdminActor) -> list[HostnameRouteOut]:
    with cp.db.session() as session:
        tunnel = tunnels.get(session, ref)
        return [
            HostnameRouteOut(hostname=h.hostname, tunnel_id=h.tunnel_id, created_at=h.created_at)
            for h in tunnel_routes.hostnames(session, tunnel.id)
        ]


@router.delete("/{ref}/hostnames/{hostname}", status_code=204)
def delete_hostname(
    ref: TunnelRef,
    hostname: Annotated[str, Path(max_length=253, pattern=HOSTNAME_PATTERN)],
    cp: Plane,
    actor: AdminActor,
) -> Response:
    with cp.db.transaction() as session:
        tunnel = tunnels.get(session, ref)
        routes = {h.hostname for h in tunnel_routes.hostnames(session, tunnel.id)}
        if hostname.lower() not in routes:
            raise ApiError(404, "not_found", f"hostname {hostname!r} is not routed to {ref!r}")
        tunnel_routes.remove_hostname(session, hostname.lower())
        audit.record(
            session,
            actor=actor.name,
            action="tunnel.hostname.delete",
            resource_type="tunnel",
            resource_id=tunnel.id,
            details={"hostname": hostname.lower()},
        )
        versions.bump(session)
    return Response(status_code=204)


@router.get("/{ref}/connections", response_model=list[ConnectionOut])
def list_connections(ref: TunnelRef, cp: Plane, _actor: AdminActor) -> list[ConnectionOut]:
    """Connector connections held right now by live edges."""
    with cp.db.session() as session:
        tunnel = tunnels.get(session, ref)
        return [
            ConnectionOut(
                id=c.id,
                edge_id=c.edge_id,
                edge_name=c.edge_name,
                connector_id=c.connector_id,
                connection_index=c.connection_index,
                origin_ip=c.origin_ip,
                client_version=c.client_version,
                protocol=c.protocol,
                opened_at=c.opened_at,
            )
            for c in tunnel_routes.live_connections(session, tunnel.id)
        ]


# -- remotely managed configuration ----------------------------------------------------------

MAX_CONFIG_RULES = 10_000


class TunnelConfigBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any] = Field(
        description='connector ingress: {"ingress": [rules…], "originRequest": {…}}'
    )


class TunnelConfigOut(BaseModel):
    tunnel_id: str
    version: int
    config: dict[str, Any]
    created_at: dt.datetime


@router.put("/{ref}/configurations", response_model=TunnelConfigOut)
def put_configuration(
    ref: TunnelRef, body: TunnelConfigBody, cp: Plane, actor: AdminActor
) -> TunnelConfigOut:
    """Store a new version of the tunnel's ingress rules; connected connectors apply it."""
    rules = body.config.get("ingress")
    if isinstance(rules, list) and len(rules) > MAX_CONFIG_RULES:
        raise ApiError(
            422,
            "invalid_request",
            "too many ingress rules",
            [{"field": "config.ingress", "reason": f"more than {MAX_CONFIG_RULES} rules"}],
        )
    try:
        parse_remote_config(body.config)
    except ConfigError as exc:
        field = _config_field(exc)
        raise ApiError(
            422,
            "invalid_request",
            f"invalid configuration: {exc}",
            [{"field": field, "reason": str(exc)}],
        ) from None
    with cp.db.transaction() as session:
        row = tunnel_routes.put_configuration(session, ref, body.config)
        audit.record(
            session,
            actor=actor.name,
            action="tunnel.configuration.put",
            resource_type="tunnel",
            resource_id=row.tunnel_id,
            details={"version": row.version},
        )
        versions.bump(session)
        return TunnelConfigOut(
            tunnel_id=row.tunnel_id,
            version=row.version,
            config=row.config,
            created_at=row.created_at,
        )


@router.get("/{ref}/configurations", response_model=TunnelConfigOut)
def get_configuration(ref: TunnelRef, cp: Plane, _actor: AdminActor) -> TunnelConfigOut:
    with cp.db.session() as session:
        tunnel = tunnels.get(session, ref)
        row = tunnel_routes.latest_configuration(session, tunnel.id)
        if row is None:
            raise ApiError(404, "not_found", f"tunnel {ref!r} has no remote configuration")
        return TunnelConfigOut(
            tunnel_id=row.tunnel_id,
            version=row.version,
            config=row.config,
            created_at=row.created_at,
        )


def _config_field(exc: ConfigError) -> str:
    """``config.ingress[1].service``-style path of the field a ConfigError names."""
    base = f"config.ingress[{exc.rule - 1}]" if exc.rule is not None else "config"
    return f"{base}.{exc.field}" if exc.field else base
