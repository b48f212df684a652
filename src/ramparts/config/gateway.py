"""The Gateway part of a snapshot: compiled policy sets (every phase) and the lists they use.

Built from the store when a snapshot is built (off the event loop); DNS, proxy and network
services only read it. Compiling lists of a million entries takes about a second, so a
:class:`GatewayCache` keeps the last result: a snapshot whose policies and list contents are
unchanged reuses it at the cost of one small query; a list is only read and decoded again
when its content hash changed, and a rule only recompiled when it or its lists changed.

A rule that does not compile against the snapshot (say a list it names was deleted by a
concurrent writer) is skipped and reported in ``rule_errors``; it never stops the edge.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import threading
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from ramparts.policy import (
    PHASES,
    Context,
    ListKind,
    PhasePolicies,
    PolicyError,
    PolicyList,
    PolicyRule,
    PolicyRuleError,
    PolicySet,
    compile_policy_set,
    compile_rule,
)
from ramparts.policy.errors import ExpressionError
from ramparts.policy.ipset import IPV6_OFFSET, RangeSet, parse_ip_entry
from ramparts.policy.lexer import TokenKind, tokenize
from ramparts.policy.policyset import CompiledRule
from ramparts.store.models import GatewayList, GatewayPolicy
from ramparts.store.repositories import policy_lists

log = logging.getLogger(__name__)

_LIST_REF = re.compile(r"\$([A-Za-z0-9_][A-Za-z0-9_.\-]*)")


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    policies: PolicySet
    # Lists used by at least one policy (others are not loaded into edges).
    lists: Mapping[str, PolicyList] = field(default_factory=lambda: MappingProxyType({}))
    # Rules that failed to compile against this snapshot (skipped; "name: reason").
    rule_errors: tuple[str, ...] = ()


def empty_gateway() -> GatewayConfig:
    return GatewayConfig(policies=compile_policy_set([], {}))


# -- store rows -> engine objects ------------------------------------------------------------


def policy_rule(row: GatewayPolicy) -> PolicyRule:
    return PolicyRule(
        id=row.id,
        name=row.name,
        phase=Context(row.phase),
        expression=row.expression,
        action=row.action,
        precedence=row.precedence,
        enabled=row.enabled,
        identity=row.identity,
        settings=MappingProxyType(dict(row.settings or {})),
    )


def referenced_lists(*sources: str) -> set[str]:
    """Names of the lists (``$name``) the expressions use."""
    names: set[str] = set()
    for source in sources:
        if "$" not in source:
            continue
        try:
            names.update(str(t.value) for t in tokenize(source) if t.kind is TokenKind.LIST)
        except PolicyError:  # not valid anyway; a textual scan is good enough
            names.update(_LIST_REF.findall(source))
    return names


def list_stub(name: str, kind: str) -> PolicyList:
    """An empty list of the right kind: enough to type-check an expression that names it."""
    return PolicyList(name, ListKind(kind))


def decode_list(name: str, kind: ListKind, entries: Iterable[str]) -> PolicyList:
    """A list from stored (already normalised) entries."""
    if kind is ListKind.IP:
        return PolicyList(name, kind, ranges=RangeSet.of(parse_ip_entry(e) for e in entries))
    return PolicyList(name, kind, values=frozenset(entries))


def stored_entries(plist: PolicyList) -> list[str]:
    """The text form stored for a validated list (IP ranges as CIDRs or ``a-b``)."""
    if plist.kind is not ListKind.IP:
        return list(plist.values)
    return [_range_text(low, high) for low, high in plist.ranges.ranges]


def _range_text(low: int, high: int) -> str:
    v6 = low >= IPV6_OFFSET
    bits = 128 if v6 else 32
    make = ipaddress.IPv6Address if v6 else ipaddress.IPv4Address
    base = IPV6_OFFSET if v6 else 0
    start = make(low - base)
    size = high - low + 1
    if size & (size - 1) == 0 and (low - base) % size == 0:
        prefix = bits - (size.bit_length() - 1)
        return str(start) if prefix == bits else f"{start}/{prefix}"
    return f"{start}-{make(high - base)}"


def rule_error_text(exc: PolicyRuleError) -> str:
    """One line: ``name: part: line L, column C: reason``."""
    cause = exc.cause
    reason = (
        f"line {cause.line}, column {cause.column}: {cause.message}"
        if isinstance(cause, ExpressionError)
        else str(cause)
    )
    return f"{exc.rule_name}: {exc.part}: {reason}"


# -- building with a cache -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CachedList:
    content_hash: str
    plist: PolicyList


@dataclass
class GatewayCache:
    """What the last build compiled; shared by every snapshot build of one process."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    key: str = ""
    config: GatewayConfig | None = None
    lists: dict[str, _CachedList] = field(default_factory=dict)
    rules: dict[tuple[PolicyRule, tuple[tuple[str, str], ...]], CompiledRule] = field(
        default_factory=dict
    )
    #: Builds that reused the whole compiled set / that compiled (for tests and metrics).
    hits: int = 0
    builds: int = 0

    def clear(self) -> None:
        with self.lock:
            self.key, self.config = "", None
            self.lists.clear()
            self.rules.clear()


#: The cache of this process (snapshots, ``POST /policies/test``).
DEFAULT_CACHE = GatewayCache()


def build_gateway(session: Session, cache: GatewayCache | None = None) -> GatewayConfig:
    """Compile the enabled policies of every phase against their lists, from the store."""
    cache = cache if cache is not None else GatewayCache()
    rows = session.scalars(select(GatewayPolicy)).all()
    list_rows = {r.name: r for r in session.scalars(select(GatewayList)).all()}
    rules = [policy_rule(r) for r in rows]
    key = _key(rules, list_rows.values())
    with cache.lock:
        if cache.config is not None and cache.key == key:
            cache.hits += 1
            return cache.config
        config = _build(session, cache, rules, list_rows)
        cache.key, cache.config = key, config
        cache.builds += 1
        return config


def _key(rules: Iterable[PolicyRule], lists: Iterable[GatewayList]) -> str:
    digest = hashlib.sha256()
    for r in sorted(rules, key=lambda r: r.id):
        item: list[object] = [r.id, r.name, r.phase.value, r.enabled, r.precedence]
        item += [r.expression, r.identity, r.action, sorted(r.settings.items())]
        digest.update(json.dumps(item).encode())
    for row in sorted(lists, key=lambda x: x.name):
        digest.update(json.dumps([row.name, row.kind, row.content_hash]).encode())
    return digest.hexdigest()


def _build(
    session: Session,
    cache: GatewayCache,
    rules: list[PolicyRule],
    list_rows: Mapping[str, GatewayList],
) -> GatewayConfig:
    used: dict[PolicyRule, set[str]] = {
        r: referenced_lists(r.expression, r.identity) for r in rules if r.enabled
    }
    wanted = {name for names in used.values() for name in names if name in list_rows}
    loaded = _load_lists(session, cache, {n: list_rows[n] for n in wanted})
    env: dict[str, PolicyList] = {
        name: loaded.get(name) or list_stub(name, row.kind) for name, row in list_rows.items()
    }
    by_phase: dict[Context, list[CompiledRule]] = {p: [] for p in PHASES}
    errors: list[str] = []
    rule_cache: dict[tuple[PolicyRule, tuple[tuple[str, str], ...]], CompiledRule] = {}
    for rule, names in used.items():
        lists_key = tuple(sorted((n, list_rows[n].content_hash) for n in names if n in list_rows))
        rkey = (rule, lists_key)
        compiled = cache.rules.get(rkey)
        if compiled is None:
            try:
                compiled = compile_rule(rule, env)
            except PolicyRuleError as exc:
                errors.append(rule_error_text(exc))
                log.warning("policy skipped", extra={"policy": rule.name, "reason": str(exc)})
                continue
        rule_cache[rkey] = compiled
        by_phase[rule.phase].append(compiled)
    cache.rules = rule_cache
    policies = PolicySet({p: PhasePolicies(p, c) for p, c in by_phase.items()})
    return GatewayConfig(policies, MappingProxyType(dict(loaded)), tuple(errors))


def _load_lists(
    session: Session, cache: GatewayCache, rows: Mapping[str, GatewayList]
) -> dict[str, PolicyList]:
    out: dict[str, PolicyList] = {}
    stale: dict[str, GatewayList] = {}
    for name, row in rows.items():
        hit = cache.lists.get(name)
        if hit is not None and (hit.content_hash, hit.plist.kind.value) == (
            row.content_hash,
            row.kind,
        ):
            out[name] = hit.plist
        else:
            stale[name] = row
    raw = policy_lists.contents(session, [r.id for r in stale.values()])
    for name, row in stale.items():
        encoding, data = raw.get(row.id, (policy_lists.ENCODING, b""))
        try:
            entries = policy_lists.decode_entries(encoding, data) if data else []
            out[name] = decode_list(name, ListKind(row.kind), entries)
        except (ValueError, zlib.error) as exc:
            log.warning("list %s is unreadable: %s", name, exc)
            out[name] = list_stub(name, row.kind)
    cache.lists = {n: _CachedList(rows[n].content_hash, p) for n, p in out.items()}
    return out
