"""DNS locations, upstream resolvers, team DNS settings and the edges' DNS endpoints.

Values arrive validated (``ramparts.config.dns`` parses them in the API); this module enforces
what needs the other rows: unique names, one network in one location only, one default.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import DnsEndpoint, DnsLocation, DnsSettings, DnsUpstream, utcnow

LOCATION_ID_BYTES = 5  # 10 hex characters: a short DNS label, 2^40 values
SETTINGS_ROW_ID = 1
MAX_LOCATIONS = 10_000  # bounds the snapshot's lookup table
MAX_UPSTREAMS = 64


def new_location_id() -> str:
    return secrets.token_hex(LOCATION_ID_BYTES)


# --- locations -------------------------------------------------------------------------------


def _check_networks(session: Session, networks: Sequence[str], exclude_id: str | None) -> None:
    """A network may belong to one location only (source lookup must be unambiguous)."""
    wanted = set(networks)
    for loc in session.scalars(select(DnsLocation)).all():
        if loc.id == exclude_id:
            continue
        taken = wanted.intersection(loc.networks)
        if taken:
            raise Conflict("DNS location", "network", sorted(taken)[0])


def _clear_default(session: Session, except_id: str) -> None:
    session.execute(update(DnsLocation).where(DnsLocation.id != except_id).values(is_default=False))


def create_location(
    session: Session, name: str, networks: Sequence[str], is_default: bool = False
) -> DnsLocation:
    count = session.scalar(select(func.count()).select_from(DnsLocation)) or 0
    if count >= MAX_LOCATIONS:
        raise Conflict("DNS location", "count", str(MAX_LOCATIONS))
    _check_networks(session, networks, None)
    location = DnsLocation(
        id=new_location_id(), name=name, networks=list(networks), is_default=is_default
    )
    session.add(location)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("DNS location", "name", name) from None
    if is_default:
        _clear_default(session, location.id)
    return location


def get_location(session: Session, ref: str) -> DnsLocation:
    """By id or by name."""
    location = session.scalar(
        select(DnsLocation).where((DnsLocation.id == ref) | (DnsLocation.name == ref))
    )
    if location is None:
        raise NotFound("DNS location", ref)
    return location


def page_locations(
    session: Session, *, limit: int, after: tuple[dt.datetime, str] | None = None
) -> Sequence[DnsLocation]:
    """Oldest first, keyset-paginated by (created_at, id)."""
    query = select(DnsLocation).order_by(DnsLocation.created_at, DnsLocation.id).limit(limit)
    if after is not None:
        query = query.where(tuple_(DnsLocation.created_at, DnsLocation.id) > tuple_(*after))
    return session.scalars(query).all()


def update_location(
    session: Session,
    ref: str,
    *,
    name: str | None = None,
    networks: Sequence[str] | None = None,
    is_default: bool | None = None,
) -> DnsLocation:
    location = get_location(session, ref)
    if networks is not None:
        _check_networks(session, networks, location.id)
        location.networks = list(networks)
    if name is not None:
        location.name = name
    if is_default is not None:
        location.is_default = is_default
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("DNS location", "name", name or "") from None
    if is_default:
        _clear_default(session, location.id)
    return location


def delete_location(session: Session, ref: str) -> DnsLocation:
    location = get_location(session, ref)
    session.delete(location)
    return location


# --- upstreams -------------------------------------------------------------------------------


def list_upstreams(session: Session) -> Sequence[DnsUpstream]:
    return session.scalars(
        select(DnsUpstream).order_by(DnsUpstream.position, DnsUpstream.created_at)
    ).all()


def add_upstream(
    session: Session,
    *,
    name: str,
    kind: str,
    address: str,
    bootstrap: Sequence[str] = (),
    tls_name: str = "",
    tls_ca_pem: str = "",
    position: int | None = None,
) -> DnsUpstream:
    """Append (or insert at ``position``, 0 first) to the failover order."""
    existing = list(list_upstreams(session))
    if len(existing) >= MAX_UPSTREAMS:
        raise Conflict("DNS upstream", "count", str(MAX_UPSTREAMS))
    if any(u.name == name for u in existing):
        raise Conflict("DNS upstream", "name", name)
    upstream = DnsUpstream(
        name=name,
        kind=kind,
        address=address,
        bootstrap=list(bootstrap),
        tls_name=tls_name,
        tls_ca_pem=tls_ca_pem,
    )
    index = len(existing) if position is None else max(0, min(position, len(existing)))
    existing.insert(index, upstream)
    for pos, item in enumerate(existing):
        item.position = pos
    session.add(upstream)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("DNS upstream", "name", name) from None
    return upstream


def get_upstream(session: Session, ref: str) -> DnsUpstream:
    upstream = session.scalar(
        select(DnsUpstream).where((DnsUpstream.id == ref) | (DnsUpstream.name == ref))
    )
    if upstream is None:
        raise NotFound("DNS upstream", ref)
    return upstream


def delete_upstream(session: Session, ref: str) -> DnsUpstream:
    upstream = get_upstream(session, ref)
    session.delete(upstream)
    session.flush()
    for pos, item in enumerate(list_upstreams(session)):
        item.position = pos
    return upstream


# --- settings --------------------------------------------------------------------------------


def get_settings(session: Session) -> DnsSettings:
    """The settings row; defaults (not yet stored) when nobody changed them."""
    row = session.get(DnsSettings, SETTINGS_ROW_ID)
    if row is None:
        row = DnsSettings(
            id=SETTINGS_ROW_ID,
            unmatched_plain="refuse",
            unmatched_encrypted="serve",
            cache_min_ttl=0,
            cache_max_ttl=86_400,
            negative_max_ttl=3_600,
            block_page_ipv4="",
            block_page_ipv6="",
            query_log=True,
            log_retention_days=7,
            updated_at=utcnow(),
        )
    return row


def update_settings(session: Session, changes: dict[str, Any]) -> DnsSettings:
    row = session.get(DnsSettings, SETTINGS_ROW_ID)
    if row is None:
        row = get_settings(session)
        session.add(row)
    for key, value in changes.items():
        if not hasattr(DnsSettings, key) or key in ("id", "updated_at"):
            raise KeyError(key)
        setattr(row, key, value)
    row.updated_at = utcnow()
    session.flush()
    return row


# --- edge endpoints (state) -------------------------------------------------------------------


def announce_endpoints(session: Session, edge_id: str, addresses: dict[str, str]) -> None:
    row = session.get(DnsEndpoint, edge_id)
    if row is None:
        session.add(DnsEndpoint(edge_id=edge_id, addresses=dict(addresses)))
        return
    row.addresses = dict(addresses)
    row.updated_at = utcnow()


def withdraw_endpoints(session: Session, edge_id: str) -> None:
    row = session.get(DnsEndpoint, edge_id)
    if row is not None:
        session.delete(row)


def endpoints(session: Session, edge_ids: Sequence[str]) -> list[dict[str, str]]:
    """The DNS listener addresses of the given (live) edges, in that order."""
    if not edge_ids:
        return []
    rows = {
        r.edge_id: r
        for r in session.scalars(select(DnsEndpoint).where(DnsEndpoint.edge_id.in_(edge_ids)))
    }
    return [dict(rows[e].addresses) for e in edge_ids if e in rows]
