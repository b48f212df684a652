"""What the policies decide for a query, computed once per (location, name, type[, source,
identity]) and snapshot, then reused: the per-query policy cost is one dict lookup.

A ``Plan`` holds the pre-resolution verdict (allow, block, override, safe search), the
upstream group chosen by resolver policies, and the cache view under which answers are stored
(location id + route: answers from different upstreams or rewrites never mix). Post-resolution
verdicts depend on the answer too; they are remembered per cache entry on the plan.

Plans are valid for one snapshot: policies, lists and locations only change with a new one.
The key includes the source address only when a rule reads ``dns.src_ip``, and the user only
when a rule reads identity fields, so that the common case shares plans across clients.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

import dns.rdatatype

from ramparts.config.dns import (
    DnsConfig,
    DnsConfigError,
    DnsLocationEntry,
    UpstreamEntry,
    parse_upstream,
)
from ramparts.config.snapshot import Snapshot
from ramparts.dns.constants import EDE_BLOCKED
from ramparts.dns.errors import NameFormatError
from ramparts.dns.safesearch import safe_target
from ramparts.dns.upstream.pool import UpstreamGroup, UpstreamPool
from ramparts.dns.wire.build import BlockAnswer
from ramparts.dns.wire.names import name_from_text
from ramparts.policy import Context, Decision, Identity, PolicySet, dns_request, ir
from ramparts.policy.policyset import PhasePolicies

MAX_PLANS = 200_000
"""Plans kept per snapshot (cleared when full); one is a few hundred bytes."""
DEFAULT_ROUTE = "default"
"""Name of the group of all configured upstreams, in order."""
_SCHEMES = {"udp": "udp", "tcp": "tcp", "tls": "dot", "https": "doh"}


class Action(IntEnum):
    ALLOW = 0
    BLOCK = 1
    OVERRIDE = 2  # fixed addresses
    CNAME = 3  # override_host or safe search: a CNAME plus the target's records


@dataclass(slots=True)
class Plan:
    action: Action
    decision: str  # query log word: allow, block, override, safesearch
    rule_id: str
    rule_name: str
    group: UpstreamGroup | None
    view: Hashable
    block: BlockAnswer | None = None
    ipv4: tuple[ipaddress.IPv4Address, ...] = ()
    ipv6: tuple[ipaddress.IPv6Address, ...] = ()
    cname_wire: bytes = b""
    request: dict[str, object] | None = None  # base request of post-resolution policies
    post_entry: object = None  # the cache entry post_plan was computed for
    post_plan: Plan | None = None

    @property
    def upstream(self) -> str:
        return self.group.name if self.group is not None else ""


@dataclass(slots=True)
class PolicyView:
    """Policies, upstream groups and block answers of one snapshot, with its plan cache."""

    policies: PolicySet
    config: DnsConfig
    pool: UpstreamPool
    pre: PhasePolicies = field(init=False)
    resolver: PhasePolicies = field(init=False)
    post: PhasePolicies = field(init=False)
    has_post: bool = field(init=False)
    uses_source: bool = field(init=False)
    uses_identity: bool = field(init=False)
    default_group: UpstreamGroup = field(init=False)
    block: BlockAnswer = field(init=False)
    extra_upstreams: list[UpstreamEntry] = field(init=False)
    errors: list[str] = field(init=False)
    plans: dict[Hashable, Plan] = field(init=False)
    _groups: dict[str, UpstreamGroup] = field(init=False)

    def __post_init__(self) -> None:
        self.pre = self.policies[Context.DNS]
        self.resolver = self.policies[Context.DNS_RESOLVER]
        self.post = self.policies[Context.DNS_POST]
        self.has_post = len(self.post) > 0
        keys = {
            key
            for phase in (self.pre, self.resolver, self.post)
            for compiled in phase.rules
            for key in _keys(compiled.node)
        }
        self.uses_source = "dns.src_ip" in keys
        self.uses_identity = any(k.startswith("identity.") for k in keys)
        self.default_group = self.pool.group(DEFAULT_ROUTE, self.config.upstreams)
        self.block = BlockAnswer(
            ipv4=self.config.block_page_ipv4 or ipaddress.IPv4Address(0),
            ipv6=self.config.block_page_ipv6 or ipaddress.IPv6Address(0),
        )
        self.plans = {}
        self.errors = []
        self.extra_upstreams = []
        self._groups = {}
        for compiled in self.resolver.rules:  # build resolver groups now, not per query
            self._route(compiled.rule.settings)

    @classmethod
    def of(cls, snapshot: Snapshot, pool: UpstreamPool) -> PolicyView:
        return cls(snapshot.gateway.policies, snapshot.dns, pool)

    def key(
        self,
        loc: DnsLocationEntry,
        qname_wire: bytes,
        qtype: int,
        src_ip: str,
        identity: Identity | None,
    ) -> Hashable:
        if not (self.uses_source or self.uses_identity):
            return (loc.id, qname_wire, qtype)
        user = identity.email if identity is not None and self.uses_identity else None
        return (loc.id, qname_wire, qtype, src_ip if self.uses_source else None, user)

    def plan(
        self,
        key: Hashable,
        loc: DnsLocationEntry,
        qname: str,
        qtype: int,
        src_ip: str,
        identity: Identity | None,
    ) -> Plan:
        """Evaluate pre-resolution and resolver policies (first match wins, default allow)
        and remember the result under ``key``."""
        request = dns_request(
            qname,
            dns.rdatatype.to_text(qtype),  # type: ignore[arg-type]
            src_ip=src_ip or None,
            location=loc.name or None,
            identity=identity,
        )
        decision = self.pre.evaluate(request)
        plan = self._plan_for(decision, loc, qname, request)
        if self.has_post and plan.action in (Action.ALLOW, Action.CNAME):
            plan.request = request
        plans = self.plans
        if len(plans) >= MAX_PLANS:
            plans.clear()
        plans[key] = plan
        return plan

    def _plan_for(
        self, decision: Decision, loc: DnsLocationEntry, qname: str, request: dict[str, object]
    ) -> Plan:
        rule = decision.rule
        rule_id, rule_name = (rule.id, rule.name) if rule is not None else ("", "")
        settings = decision.settings
        action = decision.action
        if action == "block":
            return Plan(
                Action.BLOCK, "block", rule_id, rule_name, None, None, self._block(settings)
            )
        if action == "override":
            override = self._override(settings, decision, loc)
            if override is not None:
                return override
        if action in ("safesearch", "ytrestricted"):
            target = safe_target(qname, action, settings.get("youtube", "strict"))
            if target is not None:
                return self._cname(target, "safesearch", rule_id, rule_name, loc, qname)
        group = self._resolver_group(request)
        return Plan(Action.ALLOW, "allow", rule_id, rule_name, group, (loc.id, group.name))

    def _resolver_group(self, request: dict[str, object]) -> UpstreamGroup:
        if not len(self.resolver):
            return self.default_group
        decision = self.resolver.evaluate(request)
        return self._route(decision.settings) if decision.rule is not None else self.default_group

    def _route(self, settings: Mapping[str, str]) -> UpstreamGroup:
        """The group a resolver policy names: ``upstream`` is a configured upstream's name or
        an address (``udp://ip:port``, ``tcp://``, ``tls://name:port``, ``https://…``, or
        ``ip[:port]``); several may be given, comma-separated, for failover."""
        spec = settings.get("upstream", "").strip()
        if not spec:
            return self.default_group
        group = self._groups.get(spec)
        if group is not None:
            return group
        entries: list[UpstreamEntry] = []
        for part in (p.strip() for p in spec.split(",")):
            entry = self.config.upstream(part) or self._adhoc(part, settings)
            if entry is not None:
                entries.append(entry)
        group = self.pool.group(spec, entries)
        self._groups[spec] = group
        return group

    def _adhoc(self, spec: str, settings: Mapping[str, str]) -> UpstreamEntry | None:
        scheme, sep, rest = spec.partition("://")
        kind = _SCHEMES.get(scheme) if sep else "udp"
        address = spec if kind == "doh" else (rest if sep else spec)
        if kind is None:
            self.errors.append(f"resolver policy upstream {spec!r}: unknown scheme")
            return None
        boot = [b for b in settings.get("bootstrap", "").split(",") if b.strip()]
        try:
            entry = parse_upstream(spec, kind, address, boot, settings.get("tls_name", ""))
        except DnsConfigError as exc:
            self.errors.append(f"resolver policy upstream {spec!r}: {exc}")
            return None
        self.extra_upstreams.append(entry)
        return entry

    def _block(self, settings: Mapping[str, str]) -> BlockAnswer:
        page = settings.get("block_page", "on").lower() not in ("off", "false", "0")
        reason = settings.get("block_reason", "")
        if page and not reason:
            return self.block
        base = self.block if page else BlockAnswer()
        return BlockAnswer(base.ipv4, base.ipv6, base.ttl, base.other_rcode, EDE_BLOCKED, reason)

    def _override(
        self, settings: Mapping[str, str], decision: Decision, loc: DnsLocationEntry
    ) -> Plan | None:
        rule = decision.rule
        rule_id, rule_name = (rule.id, rule.name) if rule is not None else ("", "")
        host = settings.get("override_host", "").strip().rstrip(".")
        if host:
            return self._cname(host, "override", rule_id, rule_name, loc, host)
        v4: list[ipaddress.IPv4Address] = []
        v6: list[ipaddress.IPv6Address] = []
        for text in settings.get("override_ips", "").split(","):
            try:
                address = ipaddress.ip_address(text.strip())
            except ValueError:
                continue
            (v4 if isinstance(address, ipaddress.IPv4Address) else v6).append(address)  # type: ignore[arg-type]
        if not (v4 or v6):
            self.errors.append(f"override policy {rule_name!r} has no override_ips/override_host")
            return None
        return Plan(
            Action.OVERRIDE,
            "override",
            rule_id,
            rule_name,
            None,
            None,
            ipv4=tuple(v4),
            ipv6=tuple(v6),
        )

    def _cname(
        self,
        target: str,
        decision: str,
        rule_id: str,
        rule_name: str,
        loc: DnsLocationEntry,
        qname: str,
    ) -> Plan:
        try:
            target_wire = name_from_text(target).lower()
        except (ValueError, NameFormatError):
            self.errors.append(f"policy {rule_name!r}: {target!r} is not a domain name")
            target_wire = b"\x00"
        group = self._resolver_group(dns_request(target, location=loc.name or None))
        view = (loc.id, "cname", target_wire, group.name)
        return Plan(Action.CNAME, decision, rule_id, rule_name, group, view, cname_wire=target_wire)

    def post_plan(
        self, plan: Plan, cnames: tuple[str, ...], addresses: tuple[object, ...]
    ) -> Plan | None:
        """The post-resolution verdict for an answer (``None``: serve it as it is)."""
        base = plan.request
        if base is None:
            return None
        request = dict(base)
        request.update(
            dns_request(
                str(base["dns.fqdn"]),
                str(base["dns.query_rtype"]),
                resolved_ips=[str(a) for a in addresses],
                cname=list(cnames),
            )
        )
        decision = self.post.evaluate(request)
        if decision.rule is None or decision.action == "allow":
            return None
        if decision.action == "block":
            rule = decision.rule
            block = self._block(decision.settings)
            return Plan(Action.BLOCK, "block", rule.id, rule.name, None, None, block)
        if decision.action == "override":
            override = self._override(
                decision.settings, decision, DnsLocationEntry("", "", (), False)
            )
            if override is not None and override.action is Action.OVERRIDE:
                return override
        return None


def _keys(node: ir.Node) -> Iterator[str]:
    if isinstance(node, ir.Member | ir.InRanges | ir.Regex):
        yield node.key
    elif isinstance(node, ir.AllOf | ir.OneOf):
        for part in node.parts:
            yield from _keys(part)
    else:
        yield from _keys(node.part)
