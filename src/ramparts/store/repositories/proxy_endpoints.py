"""Proxy endpoints and the proxy tokens of authorization endpoints.

Values arrive validated (``ramparts.config.proxy`` checks them in the API); this module
enforces what needs the other rows: unique names, a source network in one endpoint only,
counts, and that the kind never changes.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ramparts import secrets as issued
from ramparts.store.errors import Conflict, NotFound
from ramparts.store.models import ProxyEndpoint, ProxyToken

ENDPOINT_ID_BYTES = 5  # 10 hex characters: a short DNS label (the endpoint's subdomain)
TOKEN_ID_BYTES = 8  # 16 hex characters: short enough to type in `token revoke`
TOKEN_SECRET_PREFIX = "rpx_"  # noqa: S105 - a prefix, recognisable in leaked-secret scans
MAX_ENDPOINTS = 10_000  # bounds the snapshot's lookup table
MAX_TOKENS = 100_000  # every token is in each snapshot


def new_endpoint_id() -> str:
    return secrets.token_hex(ENDPOINT_ID_BYTES)


def new_token_secret() -> str:
    return issued.new_secret(TOKEN_SECRET_PREFIX)


# --- endpoints -------------------------------------------------------------------------------


def _check_networks(session: Session, networks: Sequence[str], exclude_id: str | None) -> None:
    """A network may belong to one endpoint only (the source lookup must be unambiguous;
    nested networks are fine: the longest prefix wins)."""
    wanted = set(networks)
    if not wanted:
        return
    for row in session.scalars(select(ProxyEndpoint)).all():
        if row.id == exclude_id:
            continue
        taken = wanted.intersection(row.networks)
        if taken:
            raise Conflict("proxy endpoint", "network", sorted(taken)[0])


def create_endpoint(
    session: Session,
    *,
    name: str,
    kind: str,
    networks: Sequence[str] = (),
    allow_private_destinations: bool = False,
    connect_ports: Sequence[int] = (443,),
    tls_inspection: bool = False,
    pac: str = "",
) -> ProxyEndpoint:
    count = session.scalar(select(func.count()).select_from(ProxyEndpoint)) or 0
    if count >= MAX_ENDPOINTS:
        raise Conflict("proxy endpoint", "count", str(MAX_ENDPOINTS))
    if session.scalar(select(ProxyEndpoint.id).where(ProxyEndpoint.name == name)) is not None:
        raise Conflict("proxy endpoint", "name", name)
    _check_networks(session, networks, None)
    endpoint = ProxyEndpoint(
        id=new_endpoint_id(),
        name=name,
        kind=kind,
        networks=list(networks),
        allow_private_destinations=allow_private_destinations,
        connect_ports=list(connect_ports),
        tls_inspection=tls_inspection,
        pac=pac,
    )
    session.add(endpoint)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # created by another writer at the same moment
        raise Conflict("proxy endpoint", "name", name) from None
    return endpoint


def get_endpoint(session: Session, ref: str) -> ProxyEndpoint:
    """By id or by name."""
    endpoint = session.scalar(
        select(ProxyEndpoint).where((ProxyEndpoint.id == ref) | (ProxyEndpoint.name == ref))
    )
    if endpoint is None:
        raise NotFound("proxy endpoint", ref)
    return endpoint


def page_endpoints(
    session: Session, *, limit: int, after: tuple[dt.datetime, str] | None = None
) -> Sequence[ProxyEndpoint]:
    """Oldest first, keyset-paginated by (created_at, id)."""
    query = select(ProxyEndpoint).order_by(ProxyEndpoint.created_at, ProxyEndpoint.id)
    if after is not None:
        query = query.where(tuple_(ProxyEndpoint.created_at, ProxyEndpoint.id) > tuple_(*after))
    return session.scalars(query.limit(limit)).all()


def update_endpoint(
    session: Session,
    ref: str,
    *,
    name: str | None = None,
    networks: Sequence[str] | None = None,
    allow_private_destinations: bool | None = None,
    connect_ports: Sequence[int] | None = None,
    tls_inspection: bool | None = None,
) -> ProxyEndpoint:
    """Change what is given (None: unchanged). The kind is fixed at creation."""
    endpoint = get_endpoint(session, ref)
    if name is not None and name != endpoint.name:
        other = session.scalar(select(ProxyEndpoint.id).where(ProxyEndpoint.name == name))
        if other is not None:
            raise Conflict("proxy endpoint", "name", name)
        endpoint.name = name
    if networks is not None:
        _check_networks(session, networks, endpoint.id)
        endpoint.networks = list(networks)
    if allow_private_destinations is not None:
        endpoint.allow_private_destinations = allow_private_destinations
    if connect_ports is not None:
        endpoint.connect_ports = list(connect_ports)
    if tls_inspection is not None:
        endpoint.tls_inspection = tls_inspection
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("proxy endpoint", "name", name or "") from None
    return endpoint


def set_pac(session: Session, ref: str, pac: str) -> ProxyEndpoint:
    """A custom PAC file (validated by the caller), or "" for the generated one."""
    endpoint = get_endpoint(session, ref)
    endpoint.pac = pac
    session.flush()
    return endpoint


def delete_endpoint(session: Session, ref: str) -> ProxyEndpoint:
    """Its tokens and browser sessions go with it (ON DELETE CASCADE)."""
    endpoint = get_endpoint(session, ref)
    session.delete(endpoint)
    session.flush()
    return endpoint


# --- tokens ----------------------------------------------------------------------------------


def create_token(
    session: Session,
    endpoint_ref: str,
    *,
    email: str,
    name: str = "",
    expires_at: dt.datetime | None = None,
) -> tuple[ProxyToken, str]:
    """A new token and its secret (returned once; only the digest is stored)."""
    endpoint = get_endpoint(session, endpoint_ref)
    count = session.scalar(select(func.count()).select_from(ProxyToken)) or 0
    if count >= MAX_TOKENS:
        raise Conflict("proxy token", "count", str(MAX_TOKENS))
    secret = new_token_secret()
    token = ProxyToken(
        id=secrets.token_hex(TOKEN_ID_BYTES),
        endpoint_id=endpoint.id,
        email=email.strip().lower(),
        name=name,
        digest=issued.digest(secret),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(session: Session, endpoint_ref: str) -> Sequence[ProxyToken]:
    endpoint = get_endpoint(session, endpoint_ref)
    return session.scalars(
        select(ProxyToken)
        .where(ProxyToken.endpoint_id == endpoint.id)
        .order_by(ProxyToken.created_at, ProxyToken.id)
    ).all()


def get_token(session: Session, token_id: str) -> ProxyToken:
    token = session.get(ProxyToken, token_id)
    if token is None:
        raise NotFound("proxy token", token_id)
    return token


def delete_token(session: Session, token_id: str) -> ProxyToken:
    token = get_token(session, token_id)
    session.delete(token)
    session.flush()
    return token
