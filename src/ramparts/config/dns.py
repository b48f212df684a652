"""The DNS part of a snapshot: locations, upstream resolvers and the team's DNS settings.

Validation of what users type (networks, upstream addresses, settings) lives here too, so the
API and the snapshot builder agree: ``parse_network`` and ``parse_upstream`` raise
``DnsConfigError`` with a message meant for a person.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramparts.store.models import DnsLocation, DnsSettings, DnsUpstream

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"udp": 53, "tcp": 53, "dot": 853, "doh": 443}
"""RFC 1035 §4.2 (53), RFC 7858 §3.1 (853), RFC 8484 (HTTPS, 443)."""
DOH_DEFAULT_PATH = "/dns-query"
"""The path RFC 8484 §3 uses in its examples, and what every public DoH service serves."""
MAX_NETWORKS_PER_LOCATION = 256  # bounds the lookup table and the API body
MAX_BOOTSTRAP_ADDRESSES = 8
MAX_TTL_SETTING = 7 * 86_400  # a week: beyond that a stale answer outlives most renumberings
SETTINGS_ROW_ID = 1


class DnsConfigError(ValueError):
    """A DNS setting as given cannot be used; the message says why."""


class UpstreamKind(enum.Enum):
    UDP = "udp"
    TCP = "tcp"
    DOT = "dot"
    DOH = "doh"


class Unmatched(enum.Enum):
    """What happens to a query that matches no location."""

    REFUSE = "refuse"  # answer REFUSED: the safe default for plain DNS (never an open resolver)
    SERVE = "serve"  # serve it as the default location (or, without one, with no location)


@dataclass(frozen=True, slots=True)
class DnsLocationEntry:
    id: str
    name: str
    networks: tuple[IpNetwork, ...]
    is_default: bool


@dataclass(frozen=True, slots=True)
class UpstreamEntry:
    """A validated upstream. ``addresses`` are the IPs to dial (bootstrap addresses, or the
    host itself when it is an IP); ``tls_name`` is verified in the certificate (DoT/DoH)."""

    name: str
    kind: UpstreamKind
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]
    tls_name: str
    tls_ca_pem: str = ""

    @property
    def url(self) -> str:
        """A DoH URL; for other kinds a ``kind://host:port`` label."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.kind is UpstreamKind.DOH:
            return f"https://{host}:{self.port}{self.path}"
        return f"{self.kind.value}://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DnsConfig:
    locations: tuple[DnsLocationEntry, ...] = ()
    upstreams: tuple[UpstreamEntry, ...] = ()
    unmatched_plain: Unmatched = Unmatched.REFUSE
    unmatched_encrypted: Unmatched = Unmatched.SERVE
    cache_min_ttl: int = 0
    cache_max_ttl: int = 86_400
    negative_max_ttl: int = 3_600
    block_page_ipv4: ipaddress.IPv4Address | None = None
    block_page_ipv6: ipaddress.IPv6Address | None = None
    query_log: bool = True
    log_retention_days: int = 7
    # Upstreams that failed validation against this snapshot (skipped; "name: reason").
    errors: tuple[str, ...] = field(default=())

    def upstream(self, name: str) -> UpstreamEntry | None:
        return next((u for u in self.upstreams if u.name == name), None)

    @property
    def default_location(self) -> DnsLocationEntry | None:
        return next((loc for loc in self.locations if loc.is_default), None)


def empty_dns() -> DnsConfig:
    return DnsConfig()


def parse_network(text: str) -> IpNetwork:
    """A CIDR (host bits cleared) or a single address as /32 or /128."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise DnsConfigError(f"{text!r} is not an IP network (CIDR)") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _split_host_port(text: str, default_port: int) -> tuple[str, int]:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise DnsConfigError(f"{text!r} is not host:port")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""  # a bare IPv6 address or a name
    if not host:
        raise DnsConfigError(f"{text!r} has no host")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise DnsConfigError(f"{text!r}: port must be 1-65535")
        port = int(port_text)
    return host.lower(), port


def parse_upstream(
    name: str,
    kind: str,
    address: str,
    bootstrap: list[str] | tuple[str, ...] = (),
    tls_name: str = "",
    tls_ca_pem: str = "",
) -> UpstreamEntry:
    """Validate one upstream as typed: ``udp``/``tcp``/``dot`` take ``host[:port]``, ``doh``
    takes an ``https://`` URL. A host that is a name needs bootstrap IPs (the resolver never
    asks itself or the system resolver where its upstream is)."""
    try:
        upstream_kind = UpstreamKind(kind)
    except ValueError:
        raise DnsConfigError(
            f"upstream type must be one of udp, tcp, dot, doh, not {kind!r}"
        ) from None
    path = ""
    if upstream_kind is UpstreamKind.DOH:
        parts = urlsplit(address.strip())
        if parts.scheme != "https" or not parts.hostname:
            raise DnsConfigError(f"a DoH upstream is an https:// URL, not {address!r}")
        try:
            port = parts.port or DEFAULT_PORTS["doh"]
        except ValueError:
            raise DnsConfigError(f"{address!r}: invalid port") from None
        host = parts.hostname.lower()
        path = parts.path or DOH_DEFAULT_PATH
        if parts.query or parts.fragment:
            raise DnsConfigError("a DoH URL takes no query or fragment (RFC 8484 §3 template)")
    else:
        if "://" in address:
            raise DnsConfigError(f"give host[:port] for a {kind} upstream, not a URL")
        host, port = _split_host_port(address, DEFAULT_PORTS[upstream_kind.value])
    if len(bootstrap) > MAX_BOOTSTRAP_ADDRESSES:
        raise DnsConfigError(f"at most {MAX_BOOTSTRAP_ADDRESSES} bootstrap addresses")
    boot: list[str] = []
    for ip in bootstrap:
        try:
            boot.append(str(ipaddress.ip_address(ip.strip())))
        except ValueError:
            raise DnsConfigError(f"bootstrap address {ip!r} is not an IP address") from None
    if _is_ip(host):
        host = str(ipaddress.ip_address(host))
        addresses = tuple(boot) or (host,)
    else:
        if not boot:
            raise DnsConfigError(
                f"upstream host {host!r} is a name: give its IP addresses as bootstrap"
            )
        addresses = tuple(boot)
    tls = tls_name.strip().lower() or ("" if _is_ip(host) else host)
    if upstream_kind in (UpstreamKind.UDP, UpstreamKind.TCP) and (tls_name or tls_ca_pem):
        raise DnsConfigError("TLS settings only apply to dot and doh upstreams")
    return UpstreamEntry(name, upstream_kind, host, port, path, addresses, tls, tls_ca_pem)


def parse_unmatched(value: str) -> Unmatched:
    try:
        return Unmatched(value)
    except ValueError:
        raise DnsConfigError("unmatched behaviour is 'refuse' or 'serve'") from None


def check_ttls(min_ttl: int, max_ttl: int, negative_max_ttl: int) -> None:
    if not 0 <= min_ttl <= max_ttl <= MAX_TTL_SETTING:
        raise DnsConfigError(f"need 0 <= cache_min_ttl <= cache_max_ttl <= {MAX_TTL_SETTING}")
    if not 0 <= negative_max_ttl <= MAX_TTL_SETTING:
        raise DnsConfigError(f"need 0 <= negative_max_ttl <= {MAX_TTL_SETTING}")


def build_dns_config(session: Session) -> DnsConfig:
    """Read the DNS rows of the store into a ``DnsConfig`` (invalid rows are skipped and
    named in ``errors``; the API validates on write, so that only happens across versions)."""
    locations = session.scalars(select(DnsLocation).order_by(DnsLocation.created_at)).all()
    upstream_rows = session.scalars(
        select(DnsUpstream).order_by(DnsUpstream.position, DnsUpstream.created_at)
    ).all()
    row = session.get(DnsSettings, SETTINGS_ROW_ID)
    errors: list[str] = []
    entries: list[DnsLocationEntry] = []
    for loc in locations:
        nets: list[IpNetwork] = []
        for text in loc.networks:
            try:
                nets.append(parse_network(text))
            except DnsConfigError as exc:
                errors.append(f"location {loc.name}: {exc}")
        entries.append(DnsLocationEntry(loc.id, loc.name, tuple(nets), loc.is_default))
    upstreams: list[UpstreamEntry] = []
    for u in upstream_rows:
        try:
            upstreams.append(
                parse_upstream(u.name, u.kind, u.address, u.bootstrap, u.tls_name, u.tls_ca_pem)
            )
        except DnsConfigError as exc:
            errors.append(f"upstream {u.name}: {exc}")
    if row is None:
        return DnsConfig(tuple(entries), tuple(upstreams), errors=tuple(errors))
    v4 = ipaddress.IPv4Address(row.block_page_ipv4) if row.block_page_ipv4 else None
    v6 = ipaddress.IPv6Address(row.block_page_ipv6) if row.block_page_ipv6 else None
    return DnsConfig(
        locations=tuple(entries),
        upstreams=tuple(upstreams),
        unmatched_plain=parse_unmatched(row.unmatched_plain),
        unmatched_encrypted=parse_unmatched(row.unmatched_encrypted),
        cache_min_ttl=row.cache_min_ttl,
        cache_max_ttl=row.cache_max_ttl,
        negative_max_ttl=row.negative_max_ttl,
        block_page_ipv4=v4,
        block_page_ipv6=v6,
        query_log=row.query_log,
        log_retention_days=row.log_retention_days,
        errors=tuple(errors),
    )
