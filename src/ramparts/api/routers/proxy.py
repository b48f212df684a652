"""/api/v1/proxy: proxy endpoints (with their PAC URL), PAC files, proxy tokens, request log."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from ramparts.api.auth import AdminActor, Plane
from ramparts.api.context import ControlPlane
from ramparts.api.errors import ApiError
from ramparts.api.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorParam,
    Limit,
    created_cursor,
    decode_created_cursor,
    decode_cursor,
    encode_cursor,
    set_next,
)
from ramparts.config.proxy import (
    MAX_CONNECT_PORTS,
    MAX_NETWORKS_PER_ENDPOINT,
    ProxyConfigError,
    endpoint_entry,
    parse_networks,
    parse_ports,
)
from ramparts.proxy.pac import PAC_CONTENT_TYPE, direct_domains, render_pac, validate_pac
from ramparts.store.models import (
    NAME_MAX,
    IdentityProvider,
    ProxyEndpoint,
    ProxyRequest,
    ProxyToken,
    utcnow,
)
from ramparts.store.models.identity import EMAIL_MAX
from ramparts.store.repositories import audit, edges, proxy_listeners, proxy_requests, versions
from ramparts.store.repositories import proxy_endpoints as repo

router = APIRouter(prefix="/proxy", tags=["proxy"])

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
Ref = Annotated[str, Path(max_length=NAME_MAX, pattern=NAME_PATTERN, description="id or name")]
TokenId = Annotated[str, Path(max_length=36, pattern=r"^[0-9a-f]+$")]
MAX_TOKEN_DAYS = 3_650
MAX_PAC_BODY_BYTES = 128 * 1024  # the PAC limit plus JSON escaping; checked again on the text


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(
        422,
        "invalid_request",
        f"invalid request: {field}: {reason}",
        [{"field": field, "reason": reason}],
    )


def _networks(values: list[str]) -> list[str]:
    try:
        return [str(n) for n in parse_networks(values)]
    except ProxyConfigError as exc:
        raise _invalid("networks", str(exc)) from None


def _ports(values: list[int]) -> list[int]:
    try:
        return list(parse_ports(values))
    except ProxyConfigError as exc:
        raise _invalid("connect_ports", str(exc)) from None


def _pac(text: str) -> str:
    try:
        return validate_pac(text)
    except ProxyConfigError as exc:
        raise _invalid("pac", str(exc)) from None


# --- endpoints -------------------------------------------------------------------------------


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    kind: Literal["source_ip", "authorization"] = Field(
        description="source_ip: clients recognised by source network; authorization: by login"
    )
    networks: list[str] = Field(default_factory=list, max_length=MAX_NETWORKS_PER_ENDPOINT)
    allow_private_destinations: bool = Field(
        default=False, description="let clients reach private and loopback addresses"
    )
    connect_ports: list[int] = Field(default_factory=lambda: [443], max_length=MAX_CONNECT_PORTS)
    tls_inspection: bool = False
    pac: str = Field(default="", description="custom PAC file; empty: generated")


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    kind: str | None = Field(default=None, description="fixed at creation; only the same value")
    networks: list[str] | None = Field(default=None, max_length=MAX_NETWORKS_PER_ENDPOINT)
    allow_private_destinations: bool | None = None
    connect_ports: list[int] | None = Field(default=None, max_length=MAX_CONNECT_PORTS)
    tls_inspection: bool | None = None


class EndpointOut(BaseModel):
    id: str
    name: str
    kind: str
    networks: list[str]
    allow_private_destinations: bool
    connect_ports: list[int]
    tls_inspection: bool
    custom_pac: bool
    created_at: dt.datetime
    pac_url: str | None = Field(description="where browsers fetch the PAC file (null: no edge)")
    proxy: str | None = Field(description="plain proxy address, host:port")
    proxy_tls: str | None = Field(description="TLS proxy address, host:port")


def _listener(cp: ControlPlane) -> dict[str, str]:
    """Proxy addresses of a live edge, else the last ones any edge announced, else {}."""
    with cp.db.session() as session:
        live = [e.id for e in edges.live(session)]
        found = proxy_listeners.current(session, live) or proxy_listeners.current(session)
    return found or {}


def _endpoint_out(row: ProxyEndpoint, listener: dict[str, str]) -> EndpointOut:
    plain = listener.get("proxy")
    return EndpointOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        networks=list(row.networks),
        allow_private_destinations=row.allow_private_destinations,
        connect_ports=list(row.connect_ports),
        tls_inspection=row.tls_inspection,
        custom_pac=bool(row.pac),
        created_at=row.created_at,
        pac_url=f"http://{plain}/pac/{row.id}.pac" if plain else None,
        proxy=plain,
        proxy_tls=listener.get("proxy_tls"),
    )


def _settings(row: ProxyEndpoint) -> dict[str, Any]:
    """What the audit log keeps of an endpoint (never the PAC text: it can be large)."""
    return {
        "name": row.name,
        "kind": row.kind,
        "networks": list(row.networks),
        "allow_private_destinations": row.allow_private_destinations,
        "connect_ports": list(row.connect_ports),
        "tls_inspection": row.tls_inspection,
    }


def _check_entry(row_id: str, name: str, kind: str, networks: list[str], ports: list[int]) -> None:
    try:
        endpoint_entry(
            id=row_id,
            name=name,
            kind=kind,
            networks=networks,
            allow_private_destinations=False,
            connect_ports=ports,
            tls_inspection=False,
            pac="",
        )
    except ProxyConfigError as exc:
        raise _invalid("networks", str(exc)) from None


@router.post("/endpoints", status_code=201, response_model=EndpointOut)
def create_endpoint(body: EndpointCreate, cp: Plane, actor: AdminActor) -> EndpointOut:
    networks = _networks(body.networks)
    ports = _ports(body.connect_ports)
    pac = _pac(body.pac) if body.pac else ""
    _check_entry("new", body.name, body.kind, networks, ports)
    with cp.db.transaction() as session:
        row = repo.create_endpoint(
            session,
            name=body.name,
            kind=body.kind,
            networks=networks,
            allow_private_destinations=body.allow_private_destinations,
            connect_ports=ports,
            tls_inspection=body.tls_inspection,
            pac=pac,
        )
        audit.record(
            session,
            actor=actor.name,
            action="proxy.endpoint.create",
            resource_type="proxy_endpoint",
            resource_id=row.id,
            details={**_settings(row), "custom_pac": bool(pac)},
        )
        versions.bump(session)
    return _endpoint_out(row, _listener(cp))


@router.get("/endpoints", response_model=list[EndpointOut])
def list_endpoints(
    request: Request,
    response: Response,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
) -> list[EndpointOut]:
    after = decode_created_cursor(cursor)
    with cp.db.session() as session:
        rows = repo.page_endpoints(session, limit=limit + 1, after=after)
    page = rows[:limit]
    if len(rows) > limit:
        set_next(request, response, created_cursor(page[-1].created_at, page[-1].id))
    listener = _listener(cp)
    return [_endpoint_out(row, listener) for row in page]


@router.get("/endpoints/{ref}", response_model=EndpointOut)
def get_endpoint(ref: Ref, cp: Plane, _actor: AdminActor) -> EndpointOut:
    with cp.db.session() as session:
        row = repo.get_endpoint(session, ref)
    return _endpoint_out(row, _listener(cp))


@router.patch("/endpoints/{ref}", response_model=EndpointOut)
def update_endpoint(ref: Ref, body: EndpointUpdate, cp: Plane, actor: AdminActor) -> EndpointOut:
    networks = _networks(body.networks) if body.networks is not None else None
    ports = _ports(body.connect_ports) if body.connect_ports is not None else None
    with cp.db.transaction() as session:
        row = repo.get_endpoint(session, ref)
        if body.kind is not None and body.kind != row.kind:
            raise _invalid(
                "kind",
                f"the kind of an endpoint is fixed at creation ({row.kind}); "
                "create another endpoint instead",
            )
        _check_entry(
            row.id,
            row.name,
            row.kind,
            networks if networks is not None else list(row.networks),
            ports if ports is not None else list(row.connect_ports),
        )
        row = repo.update_endpoint(
            session,
            row.id,
            name=body.name,
            networks=networks,
            allow_private_destinations=body.allow_private_destinations,
            connect_ports=ports,
            tls_inspection=body.tls_inspection,
        )
        audit.record(
            session,
            actor=actor.name,
            action="proxy.endpoint.update",
            resource_type="proxy_endpoint",
            resource_id=row.id,
            details=body.model_dump(exclude_none=True),
        )
        versions.bump(session)
    return _endpoint_out(row, _listener(cp))


@router.delete("/endpoints/{ref}", status_code=204)
def delete_endpoint(ref: Ref, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        row = repo.delete_endpoint(session, ref)
        audit.record(
            session,
            actor=actor.name,
            action="proxy.endpoint.delete",
            resource_type="proxy_endpoint",
            resource_id=row.id,
            details={"name": row.name},
        )
        versions.bump(session)
    return Response(status_code=204)


# --- PAC files -------------------------------------------------------------------------------


def _idp_urls(cp: ControlPlane) -> list[str]:
    with cp.db.session() as session:
        rows = session.scalars(
            select(IdentityProvider).where(IdentityProvider.enabled.is_(True))
        ).all()
    return [str(r.config.get("issuer", "")) for r in rows if r.type == "oidc"]


@router.get(
    "/endpoints/{ref}/pac",
    response_class=Response,
    responses={200: {"content": {PAC_CONTENT_TYPE: {}, "application/json": {}}}},
)
def get_pac(request: Request, ref: Ref, cp: Plane, _actor: AdminActor) -> Response:
    """The PAC file browsers get for this endpoint (custom, or generated with the proxy
    addresses the edges announced); ``{"pac": ..., "custom": ...}`` when the request
    accepts only ``application/json``."""
    with cp.db.session() as session:
        row = repo.get_endpoint(session, ref)
    entry = endpoint_entry(
        id=row.id,
        name=row.name,
        kind=row.kind,
        networks=row.networks,
        allow_private_destinations=row.allow_private_destinations,
        connect_ports=row.connect_ports,
        tls_inspection=row.tls_inspection,
        pac=row.pac,
    )
    listener = _listener(cp)
    if not entry.pac and not listener.get("proxy") and not listener.get("proxy_tls"):
        raise ApiError(
            409,
            "no_proxy_address",
            "no edge has announced its proxy address yet: start one (`ramparts up`)",
        )
    try:
        text = render_pac(
            entry,
            proxy_http=listener.get("proxy"),
            proxy_https=listener.get("proxy_tls"),
            direct_domains=direct_domains(cp.team.domain, _idp_urls(cp)),
        )
    except ProxyConfigError as exc:
        raise ApiError(409, "no_proxy_address", str(exc)) from None
    if request.headers.get("accept", "").strip().lower() == "application/json":
        return JSONResponse({"pac": text, "custom": bool(entry.pac)})
    return Response(text, media_type=PAC_CONTENT_TYPE)


@router.put(
    "/endpoints/{ref}/pac",
    response_model=EndpointOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {"type": "object", "properties": {"pac": {"type": "string"}}}
                },
            },
            "required": True,
        }
    },
)
async def set_pac(request: Request, ref: Ref, cp: Plane, actor: AdminActor) -> EndpointOut:
    """Replace the generated PAC file with a custom one: the text itself, or
    ``{"pac": "..."}`` as JSON."""
    raw = await request.body()
    if len(raw) > MAX_PAC_BODY_BYTES:
        raise _invalid("pac", f"a PAC file is at most {MAX_PAC_BODY_BYTES} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):
            raise _invalid("body", "not JSON") from None
        if not isinstance(parsed, dict) or set(parsed) != {"pac"}:
            raise _invalid("body", 'give {"pac": "<PAC file text>"}')
        text = parsed["pac"]
        if not isinstance(text, str):
            raise _invalid("pac", "a PAC file is text")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid("pac", "a PAC file is UTF-8 text") from None
    pac = _pac(text)
    return await asyncio.to_thread(_write_pac, cp, ref, actor.name, pac)


@router.delete("/endpoints/{ref}/pac", status_code=204)
def reset_pac(ref: Ref, cp: Plane, actor: AdminActor) -> Response:
    """Back to the generated PAC file."""
    _write_pac(cp, ref, actor.name, "")
    return Response(status_code=204)


def _write_pac(cp: ControlPlane, ref: str, actor: str, pac: str) -> EndpointOut:
    with cp.db.transaction() as session:
        row = repo.set_pac(session, ref, pac)
        audit.record(
            session,
            actor=actor,
            action="proxy.pac.set" if pac else "proxy.pac.reset",
            resource_type="proxy_endpoint",
            resource_id=row.id,
            details={"name": row.name, "bytes": len(pac.encode())},
        )
        versions.bump(session)
    return _endpoint_out(row, _listener(cp))


# --- tokens ----------------------------------------------------------------------------------


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=EMAIL_MAX, pattern=EMAIL_PATTERN)
    name: str = Field(default="", max_length=NAME_MAX)
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_TOKEN_DAYS)


class TokenOut(BaseModel):
    id: str
    endpoint_id: str
    email: str
    name: str
    expires_at: dt.datetime | None
    created_at: dt.datetime


class TokenCreated(TokenOut):
    secret: str = Field(description="shown once: Proxy-Authorization Basic email:secret or Bearer")


def _token_out(row: ProxyToken) -> TokenOut:
    return TokenOut(
        id=row.id,
        endpoint_id=row.endpoint_id,
        email=row.email,
        name=row.name,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


@router.post("/endpoints/{ref}/tokens", status_code=201, response_model=TokenCreated)
def create_token(ref: Ref, body: TokenCreate, cp: Plane, actor: AdminActor) -> TokenCreated:
    expires = utcnow() + dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    with cp.db.transaction() as session:
        endpoint = repo.get_endpoint(session, ref)
        if endpoint.kind != "authorization":
            raise ApiError(
                409,
                "conflict",
                "proxy tokens identify users of authorization endpoints; "
                f"{endpoint.name!r} recognises clients by source network",
                [{"field": "kind", "reason": "not an authorization endpoint"}],
            )
        row, secret = repo.create_token(
            session, endpoint.id, email=body.email, name=body.name, expires_at=expires
        )
        audit.record(
            session,
            actor=actor.name,
            action="proxy.token.create",
            resource_type="proxy_token",
            resource_id=row.id,
            details={
                "endpoint": endpoint.id,
                "email": row.email,
                "name": row.name,
                "expires_at": expires.isoformat() if expires else None,
            },
        )
        versions.bump(session)
        out = _token_out(row)
    return TokenCreated(**out.model_dump(), secret=secret)


@router.get("/endpoints/{ref}/tokens", response_model=list[TokenOut])
def list_tokens(ref: Ref, cp: Plane, _actor: AdminActor) -> list[TokenOut]:
    with cp.db.session() as session:
        return [_token_out(t) for t in repo.list_tokens(session, ref)]


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: TokenId, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        row = repo.delete_token(session, token_id)
        audit.record(
            session,
            actor=actor.name,
            action="proxy.token.revoke",
            resource_type="proxy_token",
            resource_id=row.id,
            details={"endpoint": row.endpoint_id, "email": row.email, "name": row.name},
        )
        versions.bump(session)
    return Response(status_code=204)


# --- request log -----------------------------------------------------------------------------


class RequestOut(BaseModel):
    id: int
    at: dt.datetime
    edge: str
    endpoint_id: str | None
    endpoint: str
    src_ip: str
    user: str
    kind: str
    method: str
    host: str
    url: str
    decision: str
    policy_id: str
    policy: str
    status: int
    bytes_up: int
    bytes_down: int
    duration_ms: float


def _request_out(r: ProxyRequest) -> RequestOut:
    return RequestOut(
        id=r.id,
        at=r.at,
        edge=r.edge,
        endpoint_id=r.endpoint_id,
        endpoint=r.endpoint_name,
        src_ip=r.src_ip,
        user=r.user_email,
        kind=r.kind,
        method=r.method,
        host=r.host,
        url=r.url,
        decision=r.decision,
        policy_id=r.policy_id,
        policy=r.policy_name,
        status=r.status,
        bytes_up=r.bytes_up,
        bytes_down=r.bytes_down,
        duration_ms=round(r.duration_us / 1000, 3),
    )


@router.get("/log", response_model=list[RequestOut])
def request_log(
    request: Request,
    response: Response,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
    endpoint: Annotated[str | None, Query(max_length=NAME_MAX, description="id or name")] = None,
    blocked: Annotated[bool, Query(description="only blocked or refused requests")] = False,
    decision: Annotated[
        Literal["allow", "block", "redirect", "do_not_inspect", "deny", "auth", "error"] | None,
        Query(),
    ] = None,
    user: Annotated[str | None, Query(max_length=EMAIL_MAX, description="email")] = None,
    host: Annotated[str | None, Query(max_length=253, description="host or parent")] = None,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601 time")] = None,
) -> list[RequestOut]:
    """Proxied requests and tunnels, newest first."""
    before = None
    if cursor:
        (value,) = decode_cursor(cursor, 1)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _invalid("cursor", "not a cursor")
        before = value
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    with cp.db.session() as session:
        rows = proxy_requests.query(
            session,
            limit=limit + 1,
            before_id=before,
            endpoint=endpoint,
            blocked=blocked,
            decision=decision,
            user=user,
            host=host,
            since=since,
        )
    page = rows[:limit]
    if len(rows) > limit:
        set_next(request, response, encode_cursor([page[-1].id]))
    return [_request_out(r) for r in page]
