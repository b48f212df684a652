"""The connector's ``config.yml`` (cloudflared's shape), its credentials file and ``--url``.

::

    tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef      # id or name
    credentials-file: /etc/ramparts/tunnel.json       # relative paths: next to this file
    protocol: auto                                    # auto | tcp | quic (http2 = tcp)
    ha-connections: 4
    grace-period: 30s
    metrics: 127.0.0.1:2000
    originRequest:                                    # defaults for every rule
      connectTimeout: 10s
    ingress:
      - hostname: app.example.com
        service: http://127.0.0.1:8000
      - hostname: "*.example.com"
        path: ^/api/
        service: https://10.0.0.5
        originRequest: {noTLSVerify: true}
      - service: http_status:404                      # the last rule catches everything

The credentials file holds the connector token: either the token text alone, or JSON with
``{"token": "…"}``, or JSON with one key per :class:`ConnectorToken` field (bytes in base64).
Unknown keys are errors (naming the key); ``no-autoupdate`` and ``autoupdate-freq`` are
accepted and ignored. Errors are :class:`ConfigError`, one line naming the rule and field.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, TypeVar

import yaml

from ramparts.config.paths import user_config_dir
from ramparts.tunnel.connector import values
from ramparts.tunnel.connector.errors import ConfigError, quote_for_message
from ramparts.tunnel.connector.ingress import IngressRules, parse_ingress
from ramparts.tunnel.connector.origin_request import (
    DEFAULT_ORIGIN_REQUEST,
    OriginRequest,
    parse_origin_request,
)
from ramparts.tunnel.connector.services import HELLO_WORLD_NAMES, Service, parse_service
from ramparts.tunnel.connector.values import HostPort, Where
from ramparts.tunnel.token import ConnectorToken, TokenError

Protocol = Literal["auto", "tcp", "quic"]
EdgeIpVersion = Literal["auto", "4", "6"]

PROTOCOLS: tuple[Protocol, ...] = ("auto", "tcp", "quic")
#: cloudflared's name for its TCP transport; accepted so a migrated config loads.
PROTOCOL_ALIASES: dict[str, Protocol] = {"http2": "tcp"}
EDGE_IP_VERSIONS: tuple[EdgeIpVersion, ...] = ("auto", "4", "6")
#: cloudflared's log level names -> ours.
LOG_LEVELS = {"debug": "debug", "info": "info", "warn": "warning", "warning": "warning",
              "error": "error", "fatal": "error"}  # fmt: skip
DEFAULT_HA_CONNECTIONS = 4
#: Each HA connection is a TLS or QUIC session to an edge; more than this only costs memory.
MAX_HA_CONNECTIONS = 64
DEFAULT_GRACE_PERIOD = 30.0  # seconds to drain in-flight requests after SIGTERM
DEFAULT_RETRIES = 5  # cloudflared's default: connection attempts before backing off longer
MAX_RETRIES = 1000
#: A config file is a few KiB; 1 MiB leaves room for thousands of rules.
MAX_CONFIG_BYTES = 1 << 20
#: A credentials file holds one token (a few hundred bytes, a few KiB with a CA certificate).
MAX_CREDENTIALS_BYTES = 64 << 10
#: Keys accepted for compatibility and ignored, with the reason given as a warning.
IGNORED_KEYS = {
    "no-autoupdate": "ignored: Ramparts connectors are updated with their package",
    "autoupdate-freq": "ignored: Ramparts connectors are updated with their package",
}
CONFIG_KEYS = (
    "tunnel",
    "credentials-file",
    "ingress",
    "originRequest",
    "url",
    "protocol",
    "ha-connections",
    "grace-period",
    "metrics",
    "edge-ip-version",
    "retries",
    "loglevel",
    "logfile",
    *IGNORED_KEYS,
)
CONFIG_FILE_NAME = "connector.yml"
SYSTEM_CONFIG_PATH = Path("/etc/ramparts") / CONFIG_FILE_NAME
_NON_URL_PREFIXES = ("unix:", "unix+tls:", "http_status:")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """A validated connector configuration.

    ``ingress`` is None when the file has no rules: they come from the control plane (or
    ``--url``); until then serve :meth:`IngressRules.unconfigured`. ``credentials`` is None
    when the file names no credentials file (the token then comes from ``--token``).
    """

    source: Path | None = None
    tunnel: str | None = None
    credentials_file: Path | None = None
    credentials: ConnectorToken | None = None
    ingress: IngressRules | None = None
    origin_request: OriginRequest = DEFAULT_ORIGIN_REQUEST
    protocol: Protocol = "auto"
    ha_connections: int = DEFAULT_HA_CONNECTIONS
    grace_period: float = DEFAULT_GRACE_PERIOD
    metrics: HostPort | None = None
    edge_ip_version: EdgeIpVersion = "auto"
    retries: int = DEFAULT_RETRIES
    log_level: str | None = None
    log_file: Path | None = None
    warnings: tuple[str, ...] = ()


def default_config_paths() -> tuple[Path, ...]:
    """Where a config is looked for without ``--config``, in order."""
    return (user_config_dir() / CONFIG_FILE_NAME, SYSTEM_CONFIG_PATH)


def load_config(path: str | Path, *, read_credentials: bool = True) -> ConnectorConfig:
    """Read, parse and validate a config file (and its credentials file unless told not to)."""
    source = Path(path).expanduser()
    data = _read_limited(source, MAX_CONFIG_BYTES, Where())
    return parse_config(
        load_yaml(data, str(source)), source=source, read_credentials=read_credentials
    )


def load_yaml(data: bytes | str, name: str = "<config>") -> object:
    """YAML to Python values; syntax errors and duplicate keys name the line and column."""
    try:
        return yaml.load(data, Loader=_Loader)  # noqa: S506 (_Loader is a SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        problem = exc.problem or exc.context or "invalid YAML"
        hint = ' (quote a lone * as "*")' if "alias" in str(exc.context or "") else ""
        raise ConfigError(f"invalid YAML: {problem}{hint}", source=where) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", source=name) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", source=name) from None


def parse_config(
    data: object, *, source: Path | None = None, read_credentials: bool = True
) -> ConnectorConfig:
    """Validate the parsed YAML of a config file (``source`` anchors relative paths)."""
    base_dir = source.parent if source is not None else None
    items = values.mapping({} if data is None else data, Where(), CONFIG_KEYS)
    warnings = [f"{key}: {IGNORED_KEYS[key]}" for key in items if key in IGNORED_KEYS]

    origin = parse_origin_request(
        items.get("originRequest"), DEFAULT_ORIGIN_REQUEST, Where("originRequest"), base_dir
    )
    ingress = None
    if items.get("ingress") is not None:
        ingress = parse_ingress(items["ingress"], origin, base_dir)
    if ingress is not None:
        warnings += shadowed_warnings(ingress)
    if items.get("url") is not None:
        if ingress is not None:
            Where("url").fail("cannot be combined with ingress rules (remove one of them)")
        ingress = IngressRules.single(_url_service(items["url"], Where("url")), origin)

    protocol: Protocol = "auto"
    if "protocol" in items:
        protocol = _protocol(items["protocol"], Where("protocol"), warnings)

    tunnel = _optional(items, "tunnel", values.string)
    credentials_file = None
    credentials = None
    if items.get("credentials-file") is not None:
        text = values.string(items["credentials-file"], Where("credentials-file"))
        credentials_file = _resolve(text, base_dir)
        if read_credentials:
            credentials = read_credentials_file(credentials_file)
            _check_tunnel_matches(tunnel, credentials)
    log_file = _optional(items, "logfile", values.string)
    grace_period = _optional(items, "grace-period", values.duration)
    return ConnectorConfig(
        source=source,
        tunnel=tunnel,
        credentials_file=credentials_file,
        credentials=credentials,
        ingress=ingress,
        origin_request=origin,
        protocol=protocol,
        ha_connections=_int(items, "ha-connections", DEFAULT_HA_CONNECTIONS, MAX_HA_CONNECTIONS, 1),
        grace_period=DEFAULT_GRACE_PERIOD if grace_period is None else grace_period,
        metrics=_optional(items, "metrics", values.host_port),
        edge_ip_version=_edge_ip_version(items.get("edge-ip-version"), Where("edge-ip-version")),
        retries=_int(items, "retries", DEFAULT_RETRIES, MAX_RETRIES, 0),
        log_level=_log_level(items.get("loglevel"), Where("loglevel")),
        log_file=_resolve(log_file, base_dir) if log_file else None,
        warnings=tuple(warnings),
    )


def quick_config(url: str, base: ConnectorConfig | None = None) -> ConnectorConfig:
    """The ``--url`` quick form: one catch-all rule to that origin (``host:port`` means http)."""
    base = base if base is not None else ConnectorConfig()
    where = Where("--url")
    if base.ingress is not None:
        where.fail(f"cannot be combined with the ingress rules of {base.source or 'the config'}")
    service = _url_service(url, where)
    return replace(base, ingress=IngressRules.single(service, base.origin_request))


def shadowed_warnings(rules: IngressRules) -> list[str]:
    """One line per rule that can never match, naming the earlier rule that takes its traffic."""
    return [
        f"ingress rule {rule.number} ({rule.hostname}) is never used: rule {earlier.number}"
        f" ({earlier.hostname}) takes all its requests first"
        for rule, earlier in rules.shadowed()
    ]


def parse_remote_config(doc: object) -> IngressRules:
    """A configuration pushed by the control plane: ``{"ingress": […], "originRequest": {…}}``."""
    items = values.mapping(doc, Where(), ("ingress", "originRequest"))
    origin = parse_origin_request(
        items.get("originRequest"), DEFAULT_ORIGIN_REQUEST, Where("originRequest")
    )
    return parse_ingress(items.get("ingress"), origin)


def read_credentials_file(path: Path) -> ConnectorToken:
    """The token in a credentials file (token text, ``{"token": …}`` or the token's fields)."""
    where = Where("credentials-file")
    text = _read_limited(path, MAX_CREDENTIALS_BYTES, where).decode("utf-8", "replace").strip()
    try:
        if not text.startswith(("{", "[")):
            return ConnectorToken.decode(text)
        try:
            body = json.loads(text)
        except ValueError as exc:
            where.fail(f"{path} is not valid JSON: {exc}")
        return _token_from_json(body, where)
    except TokenError as exc:
        where.fail(f"{path}: {exc}")


def credentials_json(token: ConnectorToken) -> str:
    """The JSON credentials-file form of ``token`` (one key per field; bytes in base64)."""
    body: dict[str, object] = {}
    for field in dataclasses.fields(token):
        value = getattr(token, field.name)
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        elif isinstance(value, tuple):
            value = list(value)
        body[field.name] = value
    return json.dumps(body, indent=2) + "\n"


class _Loader(yaml.SafeLoader):
    """A SafeLoader refusing duplicate keys (an error in YAML; PyYAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"duplicate key '{key_node.value}'",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_limited(path: Path, limit: int, where: Where) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        where.fail(f"cannot read {path}: {exc.strerror or exc}")
    if len(data) > limit:
        where.fail(f"{path} is larger than {limit} bytes")
    return data


def _resolve(text: str, base_dir: Path | None) -> Path:
    path = Path(text).expanduser()
    return base_dir / path if base_dir is not None and not path.is_absolute() else path


def _optional(items: dict[str, object], key: str, parse: Callable[[object, Where], T]) -> T | None:
    value = items.get(key)
    return None if value is None else parse(value, Where(key))


def _int(items: dict[str, object], key: str, default: int, high: int, low: int) -> int:
    value = items.get(key)
    return default if value is None else values.integer(value, Where(key), low, high)


def _protocol(value: object, where: Where, warnings: list[str]) -> Protocol:
    text = values.string(value, where).lower()
    if text in PROTOCOL_ALIASES:
        warnings.append(f"protocol: '{text}' is read as '{PROTOCOL_ALIASES[text]}'")
        return PROTOCOL_ALIASES[text]
    for protocol in PROTOCOLS:
        if text == protocol:
            return protocol
    where.fail(f"expected auto, tcp or quic, got '{quote_for_message(text, 32)}'")


def _edge_ip_version(value: object, where: Where) -> EdgeIpVersion:
    if value is None:
        return "auto"
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        for version in EDGE_IP_VERSIONS:
            if value.lower() == version:
                return version
    where.fail(f"expected 4, 6 or auto, got '{quote_for_message(str(value), 32)}'")


def _log_level(value: object, where: Where) -> str | None:
    if value is None:
        return None
    text = values.string(value, where).lower()
    if text not in LOG_LEVELS:
        where.fail(f"expected one of debug, info, warn, error, got '{quote_for_message(text, 32)}'")
    return LOG_LEVELS[text]


def _url_service(value: object, where: Where) -> Service:
    text = values.string(value, where).strip()
    if (
        "://" not in text
        and not text.startswith(_NON_URL_PREFIXES)
        and text not in HELLO_WORLD_NAMES
    ):
        text = "http://" + text  # cloudflared's --url localhost:8000 means http
    return parse_service(text, where)


def _check_tunnel_matches(tunnel: str | None, credentials: ConnectorToken) -> None:
    """A ``tunnel`` given as an id must be the credentials' tunnel (a name cannot be checked)."""
    if tunnel is None:
        return
    try:
        tunnel_id = uuid.UUID(tunnel)
    except ValueError:
        return
    if tunnel_id != uuid.UUID(credentials.tunnel_id):
        Where("tunnel").fail(
            f"{tunnel} is not the tunnel of credentials-file ({credentials.tunnel_id})"
        )


def _token_from_json(body: object, where: Where) -> ConnectorToken:
    """``{"token": "…"}`` or one key per ConnectorToken field; validated as a token is."""
    if isinstance(body, dict) and "TunnelSecret" in body:
        where.fail(
            "this is a cloudflared credentials file; use the token of `ramparts tunnel token`"
        )
    if isinstance(body, dict) and set(body) == {"token"}:
        return ConnectorToken.decode(values.string(body["token"], where.at("token")))
    fields = {f.name: f for f in dataclasses.fields(ConnectorToken)}
    items = values.mapping(body, where, fields)
    kwargs: dict[str, object] = {}
    for name, field in fields.items():
        at = where.at(name)
        if name not in items:
            at.fail("missing")
        value = items[name]
        if field.type == "bytes":
            text = values.string(value, at)
            try:
                kwargs[name] = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                at.fail("expected base64 text")
        elif str(field.type).startswith("tuple"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                at.fail(f"expected a list of strings, got {values.describe(value)}")
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = values.string(value, at, allow_empty=True)
    token = ConnectorToken(**kwargs)  # type: ignore[arg-type]
    return ConnectorToken.decode(token.encode())  # the token's own checks, in one place
