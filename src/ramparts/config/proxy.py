"""The proxy part of a snapshot: endpoints (by source network or by identity) and the
per-user proxy tokens of authorization endpoints.

Validation of what users type (networks, CONNECT ports, the kind/network combination) lives
here too, so that the API and the snapshot builder agree; every check raises
``ProxyConfigError`` with a message meant for a person.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramparts import secrets
from ramparts.store.models import ProxyEndpoint, ProxyToken
from ramparts.store.repositories import identity_users

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_CONNECT_PORTS = (443,)
"""CONNECT is for TLS to web servers; anything else is opt-in per endpoint (squid's default
``http_access deny CONNECT !SSL_ports`` with SSL_ports 443)."""
MAX_CONNECT_PORTS = 64  # bounds the API body and the per-endpoint set
MAX_NETWORKS_PER_ENDPOINT = 256  # bounds the lookup table and the API body
MAX_NETWORK_TEXT = 64  # longest CIDR text worth parsing (an IPv6 address with /128 is 43)


class ProxyConfigError(ValueError):
    """A proxy setting as given cannot be used; the message says why."""


class EndpointKind(enum.Enum):
    SOURCE_IP = "source_ip"  # clients are recognised by their source address
    AUTHORIZATION = "authorization"  # clients identify themselves (Access login or a token)


@dataclass(frozen=True, slots=True)
class ProxyEndpointEntry:
    id: str
    name: str
    kind: EndpointKind
    networks: tuple[IpNetwork, ...]
    allow_private_destinations: bool
    connect_ports: frozenset[int]
    tls_inspection: bool
    pac: str  # custom PAC text, or "" for the generated one


@dataclass(frozen=True, slots=True)
class ProxyTokenEntry:
    id: str
    endpoint_id: str
    email: str
    groups: tuple[str, ...]  # the user's groups in the identity store
    expires_at: float | None  # unix seconds; None: never


# Per address family: (shift, {network >> shift: entry}) from the longest prefix down.
_PrefixTable = tuple[tuple[int, Mapping[int, ProxyEndpointEntry]], ...]


def _prefix_table(entries: Iterable[ProxyEndpointEntry], version: int) -> _PrefixTable:
    bits = 32 if version == 4 else 128
    by_length: dict[int, dict[int, ProxyEndpointEntry]] = {}
    for entry in entries:
        if entry.kind is not EndpointKind.SOURCE_IP:
            continue
        for net in entry.networks:
            if net.version != version:
                continue
            shift = bits - net.prefixlen
            # The first endpoint (oldest) keeps a network given twice; the API refuses that.
            by_length.setdefault(shift, {}).setdefault(int(net.network_address) >> shift, entry)
    return tuple((shift, MappingProxyType(table)) for shift, table in sorted(by_length.items()))


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    endpoints: Mapping[str, ProxyEndpointEntry] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # sha256 hex digest of the secret -> token
    tokens: Mapping[str, ProxyTokenEntry] = field(default_factory=lambda: MappingProxyType({}))
    _v4: _PrefixTable = field(init=False, repr=False, compare=False)
    _v6: _PrefixTable = field(init=False, repr=False, compare=False)
    _authorization: tuple[ProxyEndpointEntry, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.endpoints, MappingProxyType):
            object.__setattr__(self, "endpoints", MappingProxyType(dict(self.endpoints)))
        if not isinstance(self.tokens, MappingProxyType):
            object.__setattr__(self, "tokens", MappingProxyType(dict(self.tokens)))
        entries = list(self.endpoints.values())
        object.__setattr__(self, "_v4", _prefix_table(entries, 4))
        object.__setattr__(self, "_v6", _prefix_table(entries, 6))
        object.__setattr__(
            self,
            "_authorization",
            tuple(e for e in entries if e.kind is EndpointKind.AUTHORIZATION),
        )

    def endpoint_for_source(self, ip: IpAddress) -> ProxyEndpointEntry | None:
        """The source-IP endpoint whose network holds ``ip``; the longest prefix wins. An
        IPv4-mapped IPv6 address (a dual-stack socket) is looked up as IPv4."""
        if ip.version == 6:
            mapped = ip.ipv4_mapped
            if mapped is not None:
                ip = mapped
        table = self._v4 if ip.version == 4 else self._v6
        value = int(ip)
        for shift, networks in table:
            found = networks.get(value >> shift)
            if found is not None:
                return found
        return None

    def authorization_endpoints(self) -> tuple[ProxyEndpointEntry, ...]:
        return self._authorization


def empty_proxy() -> ProxyConfig:
    return ProxyConfig()


def token_digest(secret: str) -> str:
    """How a proxy token secret is stored and looked up (the key of ``ProxyConfig.tokens``):
    sha256, hex."""
    return secrets.digest(secret)


# --- validation ----------------------------------------------------------------------------


def parse_kind(text: str) -> EndpointKind:
    try:
        return EndpointKind(text)
    except ValueError:
        raise ProxyConfigError(
            f"endpoint kind must be 'source_ip' or 'authorization', not {text!r}"
        ) from None


def parse_network(text: str) -> IpNetwork:
    """A CIDR (host bits cleared) or a single address as /32 or /128."""
    if not isinstance(text, str) or len(text) > MAX_NETWORK_TEXT:
        raise ProxyConfigError(f"{str(text)[:MAX_NETWORK_TEXT]!r} is not an IP network (CIDR)")
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ProxyConfigError(f"{text!r} is not an IP network (CIDR)") from None


def parse_networks(values: Iterable[str]) -> tuple[IpNetwork, ...]:
    """Each network parsed, duplicates dropped, order kept."""
    out: dict[IpNetwork, None] = {}
    for text in values:
        out[parse_network(text)] = None
        if len(out) > MAX_NETWORKS_PER_ENDPOINT:
            raise ProxyConfigError(f"at most {MAX_NETWORKS_PER_ENDPOINT} networks per endpoint")
    return tuple(out)


def parse_ports(values: Iterable[int | str]) -> tuple[int, ...]:
    """CONNECT ports: integers 1-65535, at most ``MAX_CONNECT_PORTS``; sorted, unique. An
    empty list means the default (443)."""
    ports: set[int] = set()
    for value in values:
        if isinstance(value, bool):
            raise ProxyConfigError(f"{value!r} is not a port")
        if isinstance(value, str):
            text = value.strip()
            if not (text.isascii() and text.isdigit()) or len(text) > 5:
                raise ProxyConfigError(f"{value[:16]!r} is not a port (1-65535)")
            value = int(text)
        if not isinstance(value, int) or not 0 < value < 65536:
            raise ProxyConfigError(f"{value!r} is not a port (1-65535)")
        ports.add(value)
        if len(ports) > MAX_CONNECT_PORTS:
            raise ProxyConfigError(f"at most {MAX_CONNECT_PORTS} CONNECT ports")
    return tuple(sorted(ports)) if ports else DEFAULT_CONNECT_PORTS


def check_networks_for_kind(kind: EndpointKind, networks: tuple[IpNetwork, ...]) -> None:
    if kind is EndpointKind.SOURCE_IP and not networks:
        raise ProxyConfigError("a source_ip endpoint needs at least one source network")
    if kind is EndpointKind.AUTHORIZATION and networks:
        raise ProxyConfigError(
            "an authorization endpoint identifies users, not networks: give no source network"
        )


def endpoint_entry(
    *,
    id: str,
    name: str,
    kind: str,
    networks: Iterable[str],
    allow_private_destinations: bool,
    connect_ports: Iterable[int | str],
    tls_inspection: bool,
    pac: str,
) -> ProxyEndpointEntry:
    """An endpoint as stored or typed, validated (raises ``ProxyConfigError``)."""
    endpoint_kind = parse_kind(kind)
    nets = parse_networks(networks)
    check_networks_for_kind(endpoint_kind, nets)
    return ProxyEndpointEntry(
        id=id,
        name=name,
        kind=endpoint_kind,
        networks=nets,
        allow_private_destinations=bool(allow_private_destinations),
        connect_ports=frozenset(parse_ports(connect_ports)),
        tls_inspection=bool(tls_inspection),
        pac=pac,
    )


# --- the snapshot part ---------------------------------------------------------------------


def build_proxy_config(session: Session) -> ProxyConfig:
    """Read the proxy rows of the store (the caller's consistent read). Rows that no longer
    validate are skipped: the API validates on write, so that only happens across versions."""
    rows = session.scalars(
        select(ProxyEndpoint).order_by(ProxyEndpoint.created_at, ProxyEndpoint.id)
    ).all()
    endpoints: dict[str, ProxyEndpointEntry] = {}
    for row in rows:
        try:
            endpoints[row.id] = endpoint_entry(
                id=row.id,
                name=row.name,
                kind=row.kind,
                networks=row.networks,
                allow_private_destinations=row.allow_private_destinations,
                connect_ports=row.connect_ports,
                tls_inspection=row.tls_inspection,
                pac=row.pac,
            )
        except ProxyConfigError:
            continue
    tokens: dict[str, ProxyTokenEntry] = {}
    token_rows = session.scalars(select(ProxyToken).order_by(ProxyToken.created_at)).all()
    if token_rows:
        groups = identity_users.memberships(session)
        for token in token_rows:
            if token.endpoint_id not in endpoints:
                continue
            tokens[token.digest] = ProxyTokenEntry(
                id=token.id,
                endpoint_id=token.endpoint_id,
                email=token.email,
                groups=tuple(sorted(groups.get(token.email, ()))),
                expires_at=token.expires_at.timestamp() if token.expires_at else None,
            )
    return ProxyConfig(MappingProxyType(endpoints), MappingProxyType(tokens))
