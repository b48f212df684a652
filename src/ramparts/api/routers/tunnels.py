"""/api/v1/tunnels: create, list, get, delete, issue a connector token, rotate the secret."""

from __future__ import annotations

import datetime as dt
import ssl
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ramparts.api.auth import AdminActor, Plane
from ramparts.api.context import ControlPlane
from ramparts.api.errors import ApiError
from ramparts.api.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorParam,
    Limit,
    decode_cursor,
    encode_cursor,
    set_next,
)
from ramparts.store.models import NAME_MAX, Tunnel
from ramparts.store.repositories import audit, tunnels, versions
from ramparts.store.repositories.tunnels import IssuedCredential
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
    after = None
    if cursor:
        created, tunnel_id = decode_cursor(cursor, 2)
        try:
            after = (dt.datetime.fromisoformat(str(created)), str(tunnel_id))
        except ValueError:
            raise ApiError(422, "invalid_request", "invalid cursor") from None
    with cp.db.session() as session:
        rows = tunnels.page(session, limit=limit + 1, after=after, name=name)
    page = rows[:limit]
    if len(rows) > limit:
        last = page[-1]
        set_next(request, response, encode_cursor([last.created_at.isoformat(), last.id]))
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
