"""``originRequest``: how the connector talks to an origin (timeouts, TLS, pooling, Access).

The keys, defaults and meanings are cloudflared's, so a migrated ``config.yml`` keeps working.
A top-level ``originRequest`` changes the defaults for every rule; a rule's own
``originRequest`` overrides single keys of those (``access`` is replaced as a whole).
Durations are Go-style text (``30s``, ``1m30s``, ``250ms``) or a number of seconds; they are
held as float seconds, and 0 means "no limit" as in Go.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ramparts.tunnel.connector import values
from ramparts.tunnel.connector.errors import quote_for_message
from ramparts.tunnel.connector.values import Where

# cloudflared's defaults (ingress/config.go).
DEFAULT_CONNECT_TIMEOUT = 30.0  # seconds to establish a connection to the origin
DEFAULT_TLS_TIMEOUT = 10.0  # seconds for the TLS handshake with an https:// origin
DEFAULT_TCP_KEEP_ALIVE = 30.0  # TCP keep-alive interval on origin connections
DEFAULT_KEEP_ALIVE_CONNECTIONS = 100  # idle connections kept per origin
DEFAULT_KEEP_ALIVE_TIMEOUT = 90.0  # seconds an idle origin connection is kept
DEFAULT_PROXY_ADDRESS = "127.0.0.1"

#: Upper bound on the idle connection pool per origin (each is a socket held open).
MAX_KEEP_ALIVE_CONNECTIONS = 10_000
#: Most Access audience tags on one rule (one per application that may reach it).
MAX_AUD_TAGS = 64
#: Most ipRules entries (cloudflared's SOCKS-proxy filter; parsed only).
MAX_IP_RULES = 1024
#: Longest text accepted for a header or a server name (RFC 1035 §2.3.4 limits names to 253).
MAX_NAME_CHARS = 255


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """``originRequest.access``: check the Access JWT (``Cf-Access-Jwt-Assertion``) here.

    ``team_name`` empty means the team of the connector's token. ``environment`` is parsed
    for compatibility (cloudflared's FedRAMP switch) and not used.
    """

    required: bool = False
    team_name: str = ""
    aud_tags: tuple[str, ...] = ()
    environment: str = ""


@dataclass(frozen=True, slots=True)
class IpRule:
    """One ``ipRules`` entry (cloudflared's SOCKS proxy filter; parsed, not used yet)."""

    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network
    ports: tuple[int, ...]
    allow: bool


@dataclass(frozen=True, slots=True)
class OriginRequest:
    """Effective origin settings of one rule (defaults, then overrides applied)."""

    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    tls_timeout: float = DEFAULT_TLS_TIMEOUT
    tcp_keep_alive: float = DEFAULT_TCP_KEEP_ALIVE
    # Dial the origin's addresses one by one instead of racing IPv6 and IPv4 (RFC 8305).
    no_happy_eyeballs: bool = False
    keep_alive_connections: int = DEFAULT_KEEP_ALIVE_CONNECTIONS
    keep_alive_timeout: float = DEFAULT_KEEP_ALIVE_TIMEOUT
    # Host header sent to the origin instead of the public hostname.
    http_host_header: str | None = None
    # Name expected on the origin's certificate (and sent as SNI) for https:// origins.
    origin_server_name: str | None = None
    # Use the request's public hostname as SNI and certificate name.
    match_sni_to_host: bool = False
    # PEM file of CAs trusted for the origin's certificate (relative paths: config's folder).
    ca_pool: str | None = None
    no_tls_verify: bool = False
    # Send request bodies without chunked encoding (some WSGI servers need it).
    disable_chunked_encoding: bool = False
    # Speak HTTP/2 to https:// origins (used when the origin proxy supports it).
    http2_origin: bool = False
    # Not used yet: cloudflared's built-in bastion and SOCKS services. Parsed so that a
    # migrated config loads; such services are rejected by the ingress rules.
    bastion_mode: bool = False
    proxy_address: str = DEFAULT_PROXY_ADDRESS
    proxy_port: int = 0
    proxy_type: str = ""
    ip_rules: tuple[IpRule, ...] = ()
    access: AccessSettings | None = None


DEFAULT_ORIGIN_REQUEST = OriginRequest()


def parse_origin_request(
    raw: object,
    base: OriginRequest,
    where: Where,
    base_dir: Path | None = None,
) -> OriginRequest:
    """``base`` with the keys of the ``originRequest`` mapping ``raw`` applied."""
    if raw is None:
        return base
    items = values.mapping(raw, where, _FIELDS)
    changes: dict[str, object] = {}
    for key, item in items.items():
        if item is None:  # "key:" with no value leaves the setting as it was
            continue
        attribute, parse = _FIELDS[key]
        changes[attribute] = parse(item, where.at(key))
    ca_pool = changes.get("ca_pool")
    if isinstance(ca_pool, str):
        changes["ca_pool"] = _resolve_path(ca_pool, base_dir)
    return replace(base, **changes)  # type: ignore[arg-type]


def _resolve_path(text: str, base_dir: Path | None) -> str:
    path = Path(text).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    return str(path)


def _duration(value: object, where: Where) -> object:
    return values.duration(value, where)


def _bool(value: object, where: Where) -> object:
    return values.boolean(value, where)


def _pool_size(value: object, where: Where) -> object:
    return values.integer(value, where, 0, MAX_KEEP_ALIVE_CONNECTIONS)


def _port(value: object, where: Where) -> object:
    return values.integer(value, where, 0, values.MAX_PORT)


def _name(value: object, where: Where) -> object:
    """A host name or authority sent on the wire: visible ASCII only (no header injection)."""
    text = values.string(value, where)
    if len(text) > MAX_NAME_CHARS:
        where.fail(f"longer than {MAX_NAME_CHARS} characters")
    if not all("!" <= c <= "~" for c in text):
        where.fail("must be visible ASCII without spaces (use punycode for IDNs)")
    return text


def _path(value: object, where: Where) -> object:
    return values.string(value, where)


def _text(value: object, where: Where) -> object:
    return values.string(value, where, allow_empty=True)


def _proxy_type(value: object, where: Where) -> object:
    text = values.string(value, where, allow_empty=True)
    if text not in ("", "socks"):
        where.fail(f"expected '' or 'socks', got '{quote_for_message(text, 32)}'")
    return text


def _ip_rules(value: object, where: Where) -> object:
    if not isinstance(value, list):
        where.fail(f"expected a list, got {values.describe(value)}")
    if len(value) > MAX_IP_RULES:
        where.fail(f"more than {MAX_IP_RULES} entries")
    rules = []
    for index, entry in enumerate(value):
        at = where.item(index)
        fields = values.mapping(entry, at, ("prefix", "ports", "allow"))
        prefix_text = values.string(fields.get("prefix"), at.at("prefix"))
        try:
            prefix = ipaddress.ip_network(prefix_text, strict=False)
        except ValueError:
            at.at("prefix").fail(f"not an IP prefix: '{quote_for_message(prefix_text, 64)}'")
        ports_raw = fields.get("ports", [])
        if not isinstance(ports_raw, list) or len(ports_raw) > values.MAX_PORT:
            at.at("ports").fail(f"expected a list of ports, got {values.describe(ports_raw)}")
        ports = tuple(
            values.integer(p, at.at("ports").item(i), 1, values.MAX_PORT)
            for i, p in enumerate(ports_raw)
        )
        allow = values.boolean(fields.get("allow", False), at.at("allow"))
        rules.append(IpRule(prefix, ports, allow))
    return tuple(rules)


def _access(value: object, where: Where) -> object:
    fields = values.mapping(value, where, ("required", "teamName", "audTag", "environment"))
    required = values.boolean(fields.get("required", False), where.at("required"))
    team = fields.get("teamName", "")
    team_name = "" if team is None else values.string(team, where.at("teamName"), allow_empty=True)
    tags_raw = fields.get("audTag", [])
    if tags_raw is None:
        tags_raw = []
    if not isinstance(tags_raw, list):
        where.at("audTag").fail(f"expected a list of strings, got {values.describe(tags_raw)}")
    if len(tags_raw) > MAX_AUD_TAGS:
        where.at("audTag").fail(f"more than {MAX_AUD_TAGS} tags")
    tags = tuple(values.string(t, where.at("audTag").item(i)) for i, t in enumerate(tags_raw))
    env = fields.get("environment", "")
    environment = ""
    if env is not None:
        environment = values.string(env, where.at("environment"), allow_empty=True)
    return AccessSettings(required, team_name, tags, environment)


# YAML key -> (OriginRequest attribute, parser).
_FIELDS: dict[str, tuple[str, Callable[[object, Where], object]]] = {
    "connectTimeout": ("connect_timeout", _duration),
    "tlsTimeout": ("tls_timeout", _duration),
    "tcpKeepAlive": ("tcp_keep_alive", _duration),
    "noHappyEyeballs": ("no_happy_eyeballs", _bool),
    "keepAliveConnections": ("keep_alive_connections", _pool_size),
    "keepAliveTimeout": ("keep_alive_timeout", _duration),
    "httpHostHeader": ("http_host_header", _name),
    "originServerName": ("origin_server_name", _name),
    "matchSNItoHost": ("match_sni_to_host", _bool),
    "caPool": ("ca_pool", _path),
    "noTLSVerify": ("no_tls_verify", _bool),
    "disableChunkedEncoding": ("disable_chunked_encoding", _bool),
    "http2Origin": ("http2_origin", _bool),
    "bastionMode": ("bastion_mode", _bool),
    "proxyAddress": ("proxy_address", _text),
    "proxyPort": ("proxy_port", _port),
    "proxyType": ("proxy_type", _proxy_type),
    "ipRules": ("ip_rules", _ip_rules),
    "access": ("access", _access),
}

#: The ``originRequest`` keys understood (cloudflared's names).
ORIGIN_REQUEST_KEYS = tuple(_FIELDS)


def describe_changes(settings: OriginRequest, base: OriginRequest) -> list[str]:
    """``key=value`` (cloudflared names) for each setting that differs from ``base``."""
    out = []
    for key, (attribute, parse) in _FIELDS.items():
        value = getattr(settings, attribute)
        if value == getattr(base, attribute):
            continue
        if parse is _duration:
            text = values.format_duration(value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, AccessSettings):
            text = f"required={str(value.required).lower()}"
            text += f",audTag={'|'.join(value.aud_tags)}" if value.aud_tags else ""
        elif isinstance(value, tuple):
            text = f"{len(value)} entries"
        else:
            text = str(value)
        out.append(f"{key}={text}")
    return out
