"""The Access part of a snapshot: applications with their compiled policies, identity
providers, service tokens, group memberships, session revocations and the signing key ring.

Built from the store with the rest of the snapshot; the edge's Access gate and team pages only
read it. A row that no longer validates (say an IdP whose settings an older version wrote) is
skipped and reported in ``errors``; it never stops the edge.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

from sqlalchemy.orm import Session

from ramparts.config.access_rules import (
    Action,
    Rule,
    RuleError,
    Selector,
    make_rule,
    parse_rules,
    validate_policy,
)
from ramparts.identity.errors import IdentityError
from ramparts.identity.keys import EMPTY_RING, KeyRing, build_ring
from ramparts.identity.oidc import OidcSettings
from ramparts.identity.oidc import parse_settings as parse_oidc_settings
from ramparts.identity.otp import SmtpSettings
from ramparts.identity.service_tokens import ServiceTokenEntry
from ramparts.store.models import AccessApplication, AccessPolicy, IdentityProvider, utcnow
from ramparts.store.repositories import (
    access_apps,
    identity_providers,
    identity_users,
    signing_keys,
)
from ramparts.store.repositories import service_tokens as service_token_repo

log = logging.getLogger(__name__)

TEAM_SESSION = dt.timedelta(hours=24)  # how long a login on the team domain lasts
DEFAULT_APP_SESSION = dt.timedelta(hours=24)
SAME_SITE_VALUES = ("lax", "strict", "none")
IDP_TYPES = ("oidc", "otp")

_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    id: str
    name: str
    action: Action
    precedence: int
    include: tuple[Rule, ...]
    require: tuple[Rule, ...] = ()
    exclude: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessApp:
    id: str
    name: str
    domain: str  # exact hostname, or "*.suffix"
    path: str  # "" (the whole host) or a normalised prefix without trailing slash ("/admin")
    aud: str
    session_duration: dt.timedelta
    policies: tuple[CompiledPolicy, ...] = ()  # by precedence
    allowed_idps: tuple[str, ...] = ()  # ids; empty: every enabled IdP
    same_site: str = "lax"
    launcher_visible: bool = True

    def covers(self, normalised_path: str) -> bool:
        if not self.path:
            return True
        return normalised_path == self.path or normalised_path.startswith(self.path + "/")


@dataclass(frozen=True, slots=True)
class IdpEntry:
    id: str
    name: str
    type: str  # oidc, otp
    oidc: OidcSettings | None = None
    smtp: SmtpSettings | None = None


@dataclass(frozen=True, slots=True)
class AccessConfig:
    apps: tuple[AccessApp, ...] = ()
    idps: tuple[IdpEntry, ...] = ()
    # client id -> token
    service_tokens: Mapping[str, ServiceTokenEntry] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # email -> names of store groups
    group_members: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # user id (token sub) -> tokens issued before this instant are refused
    revoked: Mapping[str, dt.datetime] = field(default_factory=lambda: MappingProxyType({}))
    keys: KeyRing = EMPTY_RING
    team_session: dt.timedelta = TEAM_SESSION
    errors: tuple[str, ...] = ()
    # host -> apps on it, longest path first (built in __post_init__)
    _by_host: Mapping[str, tuple[AccessApp, ...]] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )
    _by_aud: Mapping[str, AccessApp] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )

    def __post_init__(self) -> None:
        by_host: dict[str, list[AccessApp]] = {}
        for app in self.apps:
            by_host.setdefault(app.domain, []).append(app)
        ordered = {
            h: tuple(sorted(a, key=lambda app: len(app.path), reverse=True))
            for h, a in by_host.items()
        }
        object.__setattr__(self, "_by_host", MappingProxyType(ordered))
        object.__setattr__(self, "_by_aud", MappingProxyType({a.aud: a for a in self.apps}))

    def app_for(self, host: str, path: str) -> AccessApp | None:
        """The application protecting ``host`` + ``path``: exact host first, then the longest
        ``*.`` wildcard; on a host, the longest path prefix that covers the path."""
        if not self._by_host:
            return None
        normalised = normalise_path(path)
        candidates = self._by_host.get(host)
        found = _covering(candidates, normalised)
        if found is not None:
            return found
        dot = host.find(".")
        while dot != -1:
            found = _covering(self._by_host.get("*" + host[dot:]), normalised)
            if found is not None:
                return found
            dot = host.find(".", dot + 1)
        return None

    def serves_host(self, host: str) -> bool:
        """True when some application (any path) covers ``host``."""
        if host in self._by_host:
            return True
        dot = host.find(".")
        while dot != -1:
            if "*" + host[dot:] in self._by_host:
                return True
            dot = host.find(".", dot + 1)
        return False

    def app_by_aud(self, aud: str) -> AccessApp | None:
        return self._by_aud.get(aud)

    def idp(self, idp_id: str) -> IdpEntry | None:
        return next((i for i in self.idps if i.id == idp_id), None)

    def idps_for(self, app: AccessApp | None) -> tuple[IdpEntry, ...]:
        if app is None or not app.allowed_idps:
            return self.idps
        return tuple(i for i in self.idps if i.id in app.allowed_idps)


def host_matches(domain: str, host: str) -> bool:
    """``host`` is ``domain``, or one label or more under a ``*.`` wildcard ``domain``."""
    if domain.startswith("*."):
        return host.endswith(domain[1:]) and len(host) > len(domain) - 1
    return host == domain


def _covering(apps: tuple[AccessApp, ...] | None, path: str) -> AccessApp | None:
    if apps:
        for app in apps:
            if app.covers(path):
                return app
    return None


def normalise_path(target: str) -> str:
    """The path part of a request target as Access matches it: query dropped, percent-escapes
    decoded, repeated slashes collapsed, dot segments resolved, lower-cased, no trailing
    slash. Over-matching here only ever puts more of a host behind login, never less."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    for _ in range(3):  # double-encoded escapes ("%2561") are decoded too
        decoded = unquote(path, errors="replace")
        if decoded == path:
            break
        path = decoded
    path = _SLASHES.sub("/", path.replace("\\", "/"))
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return ("/" + "/".join(segments)).lower().rstrip("/")


def normalise_prefix(prefix: str) -> str:
    """An application's path prefix in the form ``covers`` compares ("" for the whole host)."""
    if not prefix or prefix == "/":
        return ""
    return normalise_path(prefix if prefix.startswith("/") else "/" + prefix)


def empty_access() -> AccessConfig:
    return AccessConfig()


# -- store rows -> config --------------------------------------------------------------------


def build_access(session: Session, now: dt.datetime | None = None) -> AccessConfig:
    now = now or utcnow()
    errors: list[str] = []
    idps = _idps(identity_providers.list_all(session), errors)
    idp_names = {i.name: i.id for i in idps} | {i.id: i.id for i in idps}
    tokens = {
        t.client_id: ServiceTokenEntry(t.id, t.name, t.client_id, t.secret_hash, t.expires_at)
        for t in service_token_repo.list_all(session)
    }
    token_refs: dict[str, str] = {}
    for t in tokens.values():
        token_refs.update({t.id: t.id, t.name: t.id, t.client_id: t.id})
    policies: dict[str, list[CompiledPolicy]] = {}
    for row in access_apps.all_policies(session):
        compiled = compile_policy(row, idp_names, token_refs, errors)
        if compiled is not None:
            policies.setdefault(row.app_id, []).append(compiled)
    apps = tuple(
        _app(a, tuple(policies.get(a.id, ())), idp_names) for a in access_apps.all_apps(session)
    )
    try:
        keys = build_ring(signing_keys.records(session), now)
    except IdentityError as exc:
        errors.append(f"signing keys: {exc}")
        keys = EMPTY_RING
    for message in errors:
        log.warning("access configuration skipped", extra={"reason": message})
    return AccessConfig(
        apps=apps,
        idps=idps,
        service_tokens=MappingProxyType(tokens),
        group_members=MappingProxyType(identity_users.memberships(session)),
        revoked=MappingProxyType(identity_users.revocations(session)),
        keys=keys,
        errors=tuple(errors),
    )


def compile_policy(
    row: AccessPolicy,
    idp_refs: Mapping[str, str],
    token_refs: Mapping[str, str],
    errors: list[str],
) -> CompiledPolicy | None:
    """A stored policy with IdP and service-token references resolved to ids. A reference to
    something that no longer exists resolves to a value nothing has, so it never matches."""
    try:
        action = Action(row.action)
        lists = [
            _resolve(parse_rules(_texts(getattr(row, f)), f), idp_refs, token_refs)
            for f in ("include", "require", "exclude")
        ]
        validate_policy(action, *lists)
    except (RuleError, ValueError) as exc:
        errors.append(f"policy {row.name!r}: {exc}")
        return None
    return CompiledPolicy(row.id, row.name, action, row.precedence, *lists)


def _resolve(
    rules: Iterable[Rule], idp_refs: Mapping[str, str], token_refs: Mapping[str, str]
) -> tuple[Rule, ...]:
    out: list[Rule] = []
    for rule in rules:
        if rule.selector is Selector.IDP:
            rule = make_rule("idp", idp_refs.get(rule.value, "unknown:" + rule.value))
        elif rule.selector is Selector.SERVICE_TOKEN:
            rule = make_rule("service_token", token_refs.get(rule.value, "unknown:" + rule.value))
        out.append(rule)
    return tuple(out)


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError("stored rules are not a list of strings")
    return value


def _app(
    row: AccessApplication, policies: tuple[CompiledPolicy, ...], idp_refs: Mapping[str, str]
) -> AccessApp:
    allowed = tuple(idp_refs[i] for i in (row.allowed_idps or []) if i in idp_refs)
    if row.allowed_idps and not allowed:
        allowed = ("none",)  # every allowed IdP was deleted: nobody can log in, not everybody
    return AccessApp(
        id=row.id,
        name=row.name,
        domain=row.domain,
        path=row.path,
        aud=row.aud,
        session_duration=dt.timedelta(seconds=row.session_seconds),
        policies=tuple(sorted(policies, key=lambda p: (p.precedence, p.id))),
        allowed_idps=allowed,
        same_site=row.same_site if row.same_site in SAME_SITE_VALUES else "lax",
        launcher_visible=row.launcher_visible,
    )


def _idps(rows: Iterable[IdentityProvider], errors: list[str]) -> tuple[IdpEntry, ...]:
    out: list[IdpEntry] = []
    for row in rows:
        if not row.enabled:
            continue
        try:
            out.append(idp_entry(row.id, row.name, row.type, dict(row.config or {}), row.secret))
        except (IdentityError, ValueError) as exc:
            errors.append(f"identity provider {row.name!r}: {exc}")
    return tuple(out)


def idp_entry(idp_id: str, name: str, kind: str, config: dict[str, Any], secret: str) -> IdpEntry:
    """Validated IdP settings (also what the API runs before it stores a provider)."""
    if kind == "oidc":
        return IdpEntry(idp_id, name, kind, oidc=parse_oidc_settings(config, secret))
    if kind == "otp":
        return IdpEntry(idp_id, name, kind, smtp=smtp_settings(config, secret))
    raise ValueError(f"unknown identity provider type {kind!r} (known: oidc, otp)")


def smtp_settings(config: Mapping[str, Any], password: str) -> SmtpSettings:
    host, port, sender = config.get("smtp_host"), config.get("smtp_port", 587), config.get("from")
    security = config.get("smtp_security", "starttls")
    if not isinstance(host, str) or not host or len(host) > 253:
        raise ValueError("smtp_host is required")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError("smtp_port must be a TCP port")
    if not isinstance(sender, str) or "@" not in sender or len(sender) > 254:
        raise ValueError("from must be an email address")
    if security not in ("starttls", "tls", "none"):
        raise ValueError("smtp_security must be starttls, tls or none")
    if security == "none" and not _loopback(host):
        raise ValueError("smtp_security none (codes in clear text) is only for a loopback relay")
    username = config.get("smtp_username", "")
    if not isinstance(username, str) or len(username) > 256:
        raise ValueError("smtp_username must be text")
    return SmtpSettings(
        host=host,
        port=port,
        sender=sender,
        security=security,
        username=username,
        password=password,
    )


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
