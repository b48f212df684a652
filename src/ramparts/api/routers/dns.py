"""/api/v1/dns: locations (with the client settings to paste), upstreams, settings, query log."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

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
from ramparts.config.dns import (
    DOH_DEFAULT_PATH,
    MAX_BOOTSTRAP_ADDRESSES,
    MAX_NETWORKS_PER_LOCATION,
    DnsConfigError,
    check_ttls,
    parse_network,
    parse_upstream,
)
from ramparts.store.models import NAME_MAX, DnsLocation, DnsQuery, DnsSettings, DnsUpstream
from ramparts.store.repositories import audit, dns_queries, edges, versions
from ramparts.store.repositories import dns as dns_repo

router = APIRouter(prefix="/dns", tags=["dns"])

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
Ref = Annotated[str, Path(max_length=NAME_MAX, pattern=NAME_PATTERN, description="id or name")]
MAX_CA_PEM_CHARS = 64 * 1024  # a CA bundle of a few certificates
MAX_RETENTION_DAYS = 3_650


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(
        422,
        "invalid_request",
        f"invalid request: {field}: {reason}",
        [{"field": field, "reason": reason}],
    )


def _networks(values: list[str], field: str = "networks") -> list[str]:
    out: list[str] = []
    for value in values:
        try:
            out.append(str(parse_network(value)))
        except DnsConfigError as exc:
            raise _invalid(field, str(exc)) from None
    return list(dict.fromkeys(out))


# --- locations -------------------------------------------------------------------------------


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    networks: list[str] = Field(default_factory=list, max_length=MAX_NETWORKS_PER_LOCATION)
    default: bool = False


class LocationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    networks: list[str] | None = Field(default=None, max_length=MAX_NETWORKS_PER_LOCATION)
    default: bool | None = None


class ClientSettings(BaseModel):
    """What to type into a router, a device or a browser to use this location."""

    dns: list[str] = Field(description="plain DNS listeners (UDP and TCP), host:port")
    dot_hostname: str = Field(description="DoT server name (TLS SNI) naming this location")
    dot: list[str] = Field(description="DoT listeners, host:port")
    doh: list[str] = Field(description="DoH URLs (RFC 8484) naming this location")


class LocationOut(BaseModel):
    id: str
    name: str
    networks: list[str]
    default: bool
    created_at: dt.datetime
    client: ClientSettings


def _client(cp: ControlPlane, location_id: str, announced: list[dict[str, str]]) -> ClientSettings:
    dot_name = f"{location_id}.dns.{cp.team.domain}"
    plain: list[str] = []
    dot: list[str] = []
    doh: list[str] = []
    for addresses in announced:
        if "dns_udp" in addresses:
            plain.append(addresses["dns_udp"])
        if "dot" in addresses:
            dot.append(addresses["dot"])
        if "doh" in addresses:
            port = addresses["doh"].rsplit(":", 1)[-1]
            doh.append(f"https://{dot_name}:{port}{DOH_DEFAULT_PATH}")
            doh.append(f"https://dns.{cp.team.domain}:{port}{DOH_DEFAULT_PATH}/{location_id}")
    return ClientSettings(
        dns=_unique(plain), dot_hostname=dot_name, dot=_unique(dot), doh=_unique(doh)
    )


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _announced(cp: ControlPlane) -> list[dict[str, str]]:
    with cp.db.session() as session:
        live = [e.id for e in edges.live(session)]
        return dns_repo.endpoints(session, live)


def _location_out(
    cp: ControlPlane, loc: DnsLocation, announced: list[dict[str, str]]
) -> LocationOut:
    return LocationOut(
        id=loc.id,
        name=loc.name,
        networks=list(loc.networks),
        default=loc.is_default,
        created_at=loc.created_at,
        client=_client(cp, loc.id, announced),
    )


@router.post("/locations", status_code=201, response_model=LocationOut)
def create_location(body: LocationCreate, cp: Plane, actor: AdminActor) -> LocationOut:
    networks = _networks(body.networks)
    with cp.db.transaction() as session:
        loc = dns_repo.create_location(session, body.name, networks, body.default)
        audit.record(
            session,
            actor=actor.name,
            action="dns.location.create",
            resource_type="dns_location",
            resource_id=loc.id,
            details={"name": loc.name, "networks": networks, "default": body.default},
        )
        versions.bump(session)
    return _location_out(cp, loc, _announced(cp))


@router.get("/locations", response_model=list[LocationOut])
def list_locations(
    request: Request,
    response: Response,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
) -> list[LocationOut]:
    after = decode_created_cursor(cursor)
    with cp.db.session() as session:
        rows = dns_repo.page_locations(session, limit=limit + 1, after=after)
    page = rows[:limit]
    if len(rows) > limit:
        set_next(request, response, created_cursor(page[-1].created_at, page[-1].id))
    announced = _announced(cp)
    return [_location_out(cp, loc, announced) for loc in page]


@router.get("/locations/{ref}", response_model=LocationOut)
def get_location(ref: Ref, cp: Plane, _actor: AdminActor) -> LocationOut:
    with cp.db.session() as session:
        loc = dns_repo.get_location(session, ref)
    return _location_out(cp, loc, _announced(cp))


@router.patch("/locations/{ref}", response_model=LocationOut)
def update_location(ref: Ref, body: LocationUpdate, cp: Plane, actor: AdminActor) -> LocationOut:
    networks = _networks(body.networks) if body.networks is not None else None
    with cp.db.transaction() as session:
        loc = dns_repo.update_location(
            session, ref, name=body.name, networks=networks, is_default=body.default
        )
        audit.record(
            session,
            actor=actor.name,
            action="dns.location.update",
            resource_type="dns_location",
            resource_id=loc.id,
            details=body.model_dump(exclude_none=True),
        )
        versions.bump(session)
    return _location_out(cp, loc, _announced(cp))


@router.delete("/locations/{ref}", status_code=204)
def delete_location(ref: Ref, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        loc = dns_repo.delete_location(session, ref)
        audit.record(
            session,
            actor=actor.name,
            action="dns.location.delete",
            resource_type="dns_location",
            resource_id=loc.id,
            details={"name": loc.name},
        )
        versions.bump(session)
    return Response(status_code=204)


# --- upstreams -------------------------------------------------------------------------------


class UpstreamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)
    type: Literal["udp", "tcp", "dot", "doh"]
    address: str = Field(
        min_length=1, max_length=300, description="host[:port], or an https:// URL for doh"
    )
    bootstrap: list[str] = Field(default_factory=list, max_length=MAX_BOOTSTRAP_ADDRESSES)
    tls_name: str = Field(default="", max_length=253)
    tls_ca_pem: str = Field(default="", max_length=MAX_CA_PEM_CHARS)
    position: int | None = Field(default=None, ge=0, description="0 is tried first")


class UpstreamOut(BaseModel):
    id: str
    name: str
    type: str
    address: str
    bootstrap: list[str]
    tls_name: str
    custom_ca: bool
    position: int


def _upstream_out(u: DnsUpstream) -> UpstreamOut:
    return UpstreamOut(
        id=u.id,
        name=u.name,
        type=u.kind,
        address=u.address,
        bootstrap=list(u.bootstrap),
        tls_name=u.tls_name,
        custom_ca=bool(u.tls_ca_pem),
        position=u.position,
    )


@router.get("/upstreams", response_model=list[UpstreamOut])
def list_upstreams(cp: Plane, _actor: AdminActor) -> list[UpstreamOut]:
    with cp.db.session() as session:
        return [_upstream_out(u) for u in dns_repo.list_upstreams(session)]


@router.post("/upstreams", status_code=201, response_model=UpstreamOut)
def add_upstream(body: UpstreamCreate, cp: Plane, actor: AdminActor) -> UpstreamOut:
    if body.tls_ca_pem and "BEGIN CERTIFICATE" not in body.tls_ca_pem:
        raise _invalid("tls_ca_pem", "not a PEM certificate")
    try:
        entry = parse_upstream(
            body.name, body.type, body.address, body.bootstrap, body.tls_name, body.tls_ca_pem
        )
    except DnsConfigError as exc:
        raise _invalid("address", str(exc)) from None
    with cp.db.transaction() as session:
        upstream = dns_repo.add_upstream(
            session,
            name=body.name,
            kind=body.type,
            address=body.address.strip(),
            bootstrap=list(entry.addresses) if body.bootstrap else [],
            tls_name=body.tls_name.strip().lower(),
            tls_ca_pem=body.tls_ca_pem,
            position=body.position,
        )
        audit.record(
            session,
            actor=actor.name,
            action="dns.upstream.add",
            resource_type="dns_upstream",
            resource_id=upstream.id,
            details={"name": body.name, "type": body.type, "address": body.address},
        )
        versions.bump(session)
        return _upstream_out(upstream)


@router.delete("/upstreams/{ref}", status_code=204)
def delete_upstream(ref: Ref, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        upstream = dns_repo.delete_upstream(session, ref)
        audit.record(
            session,
            actor=actor.name,
            action="dns.upstream.delete",
            resource_type="dns_upstream",
            resource_id=upstream.id,
            details={"name": upstream.name},
        )
        versions.bump(session)
    return Response(status_code=204)


# --- settings --------------------------------------------------------------------------------


class SettingsOut(BaseModel):
    unmatched_plain: Literal["refuse", "serve"]
    unmatched_encrypted: Literal["refuse", "serve"]
    cache_min_ttl: int
    cache_max_ttl: int
    negative_max_ttl: int
    block_page_ipv4: str
    block_page_ipv6: str
    query_log: bool
    log_retention_days: int


class SettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unmatched_plain: Literal["refuse", "serve"] | None = Field(
        default=None,
        description="plain DNS from networks in no location (refuse: no open resolver)",
    )
    unmatched_encrypted: Literal["refuse", "serve"] | None = Field(
        default=None, description="DoT/DoH naming no location"
    )
    cache_min_ttl: int | None = Field(default=None, ge=0)
    cache_max_ttl: int | None = Field(default=None, ge=0)
    negative_max_ttl: int | None = Field(default=None, ge=0)
    block_page_ipv4: str | None = Field(default=None, max_length=45)
    block_page_ipv6: str | None = Field(default=None, max_length=45)
    query_log: bool | None = None
    log_retention_days: int | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS)

    @field_validator("block_page_ipv4", "block_page_ipv6")
    @classmethod
    def _address(cls, value: str | None, info: Any) -> str | None:
        if not value:
            return value
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            raise ValueError("not an IP address") from None
        if address.version != (4 if info.field_name.endswith("ipv4") else 6):
            raise ValueError("wrong address family")
        return str(address)


def _settings_out(row: DnsSettings) -> SettingsOut:
    return SettingsOut.model_validate(
        {k: getattr(row, k) for k in SettingsOut.model_fields}, from_attributes=False
    )


@router.get("/settings", response_model=SettingsOut)
def get_settings(cp: Plane, _actor: AdminActor) -> SettingsOut:
    with cp.db.session() as session:
        return _settings_out(dns_repo.get_settings(session))


@router.patch("/settings", response_model=SettingsOut)
def update_settings(body: SettingsUpdate, cp: Plane, actor: AdminActor) -> SettingsOut:
    changes = body.model_dump(exclude_none=True)
    with cp.db.transaction() as session:
        current = dns_repo.get_settings(session)
        merged = {k: changes.get(k, getattr(current, k)) for k in SettingsOut.model_fields}
        try:
            check_ttls(merged["cache_min_ttl"], merged["cache_max_ttl"], merged["negative_max_ttl"])
        except DnsConfigError as exc:
            raise _invalid("cache_max_ttl", str(exc)) from None
        row = dns_repo.update_settings(session, changes)
        audit.record(
            session,
            actor=actor.name,
            action="dns.settings.update",
            resource_type="dns_settings",
            resource_id="team",
            details=changes,
        )
        versions.bump(session)
        return _settings_out(row)


# --- query log -------------------------------------------------------------------------------


class QueryOut(BaseModel):
    id: int
    at: dt.datetime
    edge: str
    location_id: str | None
    location: str
    protocol: str
    src_ip: str
    name: str
    type: str
    decision: str
    policy_id: str
    policy: str
    upstream: str
    rcode: str
    cached: bool
    latency_ms: float


def _query_out(q: DnsQuery) -> QueryOut:
    return QueryOut(
        id=q.id,
        at=q.at,
        edge=q.edge,
        location_id=q.location_id,
        location=q.location_name,
        protocol=q.protocol,
        src_ip=q.src_ip,
        name=q.qname,
        type=q.qtype,
        decision=q.decision,
        policy_id=q.policy_id,
        policy=q.policy_name,
        upstream=q.upstream,
        rcode=q.rcode,
        cached=q.cached,
        latency_ms=round(q.latency_us / 1000, 3),
    )


@router.get("/queries", response_model=list[QueryOut])
def list_queries(
    request: Request,
    response: Response,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
    location: Annotated[str | None, Query(max_length=NAME_MAX, description="id or name")] = None,
    blocked: Annotated[bool, Query(description="only blocked queries")] = False,
    decision: Annotated[
        Literal["allow", "block", "override", "safesearch", "refused", "error"] | None,
        Query(),
    ] = None,
    name: Annotated[str | None, Query(max_length=253, description="name or parent")] = None,
    src_ip: Annotated[str | None, Query(max_length=45)] = None,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601 time")] = None,
) -> list[QueryOut]:
    before = None
    if cursor:
        (value,) = decode_cursor(cursor, 1)
        if not isinstance(value, int):
            raise _invalid("cursor", "not a cursor")
        before = value
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    with cp.db.session() as session:
        rows = dns_queries.page(
            session,
            limit=limit + 1,
            before_id=before,
            location=location,
            decision=decision,
            blocked=blocked,
            qname=name,
            src_ip=src_ip,
            since=since,
        )
    page = rows[:limit]
    if len(rows) > limit:
        set_next(request, response, encode_cursor([page[-1].id]))
    return [_query_out(q) for q in page]
