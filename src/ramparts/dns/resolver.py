"""The filtering resolver: one query in, one answer out, for every listener.

``handle`` runs synchronously on the packet bytes and answers everything it can without an
upstream (errors, refusals, blocks, overrides, cache hits with post-resolution checks). Only a
cache miss returns a ``Pending`` that the listener awaits with ``complete``. Pipeline:

    parse -> location -> plan (pre-resolution + resolver policies, cached per snapshot)
          -> block / override / cache (view = location + route) -> upstream (coalesced)
          -> post-resolution policies -> answer (TC for UDP when too big, padding for TLS)

A snapshot is applied atomically; a query keeps the view it started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ramparts.config.dns import DnsLocationEntry
from ramparts.config.snapshot import Snapshot
from ramparts.dns.cache import AnswerCache, CacheEntry, CacheKey, CacheLimits
from ramparts.dns.constants import (
    CLASS_IN,
    CLASSIC_UDP_SIZE,
    EDE_NOT_READY,
    EDE_PROHIBITED,
    FLAG_QR,
    FLAG_RA,
    FLAG_RD,
    HEADER_SIZE,
    RCODE_NOERROR,
    RCODE_NOTIMP,
    RCODE_REFUSED,
    RCODE_SERVFAIL,
    TYPE_A,
    TYPE_AAAA,
    TYPE_AXFR,
    TYPE_CNAME,
    TYPE_IXFR,
)
from ramparts.dns.errors import QueryError, ResponseError, UpstreamError
from ramparts.dns.locations import LocationTable
from ramparts.dns.plan import Action, Plan, PolicyView
from ramparts.dns.querylog import QueryLog, QueryRecord
from ramparts.dns.stats import ResolverStats
from ramparts.dns.upstream.pool import UpstreamGroup, UpstreamPool
from ramparts.dns.wire.build import (
    QNAME_POINTER,
    block_response,
    error_response,
    fit_udp,
    override_response,
    pad_response,
    rcode_response,
    record,
)
from ramparts.dns.wire.edns import has_padding
from ramparts.dns.wire.patch import PatchableAnswer, prepare_answer, serve_answer
from ramparts.dns.wire.query import Query, parse_query
from ramparts.dns.wire.records import uncompressed_records
from ramparts.dns.wire.response import SECTION_ADDITIONAL, ParsedResponse, parse_response
from ramparts.policy import Identity

log = logging.getLogger(__name__)

EDE_NO_REACHABLE_AUTHORITY = 22  # RFC 8914 §4.23
MAX_PREFETCH_INFLIGHT = 64
"""Background refreshes of popular entries running at once."""
CNAME_OVERRIDE_TTL = 60
_REFUSED_SPECIAL = frozenset({TYPE_AXFR, TYPE_IXFR})
"""Zone transfers are not a resolver's business: NOTIMP."""
_PROTOCOLS_PADDED = frozenset({"dot", "doh"})
"""Encrypted transports pad answers for clients that sent Padding (RFC 8467 §4.1)."""


@dataclass(slots=True)
class Resolved:
    """An upstream answer made servable: patchable bytes and what post policies read."""

    answer: PatchableAnswer
    rcode: int
    cnames: tuple[str, ...]
    addresses: tuple[Any, ...]
    entry: CacheEntry | None
    upstream: str


@dataclass(slots=True)
class Pending:
    """A cache miss: the listener awaits ``Resolver.complete(pending)``."""

    query: Query
    plan: Plan
    key: CacheKey
    loc: DnsLocationEntry
    protocol: str
    src_ip: str
    started: float
    view: _View


@dataclass(slots=True)
class _View:
    """Everything one snapshot decides, swapped as a whole by ``apply``."""

    version: int
    locations: LocationTable
    policies: PolicyView
    query_log: bool


class Resolver:
    def __init__(
        self,
        *,
        pool: UpstreamPool | None = None,
        query_log: QueryLog | None = None,
        stats: ResolverStats | None = None,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.pool = pool if pool is not None else UpstreamPool()
        self.cache = AnswerCache()
        self.log = query_log
        self.stats = stats if stats is not None else ResolverStats()
        self._clock = clock
        self._wallclock = wallclock
        self._view: _View | None = None
        self._inflight: dict[CacheKey, asyncio.Task[Resolved]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.prefetches = 0

    # --- configuration -----------------------------------------------------------------------

    def apply(self, snapshot: Snapshot) -> None:
        """Serve ``snapshot`` from now on (queries under way finish on their own view)."""
        config = snapshot.dns
        limits = CacheLimits(
            min_ttl=config.cache_min_ttl,
            max_ttl=config.cache_max_ttl,
            negative_max_ttl=max(config.negative_max_ttl, 0),
        )
        if limits != self.cache.limits:
            # New clamps apply to new entries; old ones expire on their own schedule.
            self.cache.limits = limits
        policies = PolicyView.of(snapshot, self.pool)
        for error in (*policies.errors, *config.errors):
            log.warning("DNS configuration problem", extra={"reason": error})
        self.pool.keep_only((*config.upstreams, *policies.extra_upstreams))
        previous = self._view
        self._view = _View(
            snapshot.version,
            LocationTable(config, snapshot.team_domain),
            policies,
            config.query_log,
        )
        if previous is not None and previous.version != snapshot.version:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return
            self._spawn(self.pool.close_retired())

    @property
    def ready(self) -> bool:
        return self._view is not None

    @property
    def locations(self) -> LocationTable | None:
        """The location table of the current snapshot (listeners map SNI/hosts with it)."""
        view = self._view
        return view.locations if view is not None else None

    @property
    def retention_days(self) -> int:
        view = self._view
        return view.policies.config.log_retention_days if view is not None else 7

    # --- the fast path -----------------------------------------------------------------------

    def handle(
        self,
        packet: bytes,
        protocol: str,
        src_ip: str,
        location_id: str | None = None,
        identity: Identity | None = None,
    ) -> bytes | Pending | None:
        """The answer to ``packet``, ``None`` to send nothing, or a ``Pending`` cache miss."""
        started = self._clock()
        view = self._view
        if view is None:
            return None
        try:
            q = parse_query(packet)
        except QueryError as exc:
            reply = error_response(exc)
            if reply is None:
                self.stats.dropped += 1
            else:
                self._account(
                    view,
                    protocol,
                    src_ip,
                    None,
                    "",
                    0,
                    "error",
                    None,
                    exc.rcode or 0,
                    False,
                    started,
                )
            return reply
        if protocol == "udp" or protocol == "tcp":
            loc = view.locations.plain(src_ip)
        else:
            loc = view.locations.encrypted(location_id, src_ip)
        if loc is None:
            self._account(
                view,
                protocol,
                src_ip,
                None,
                q.qname,
                q.qtype,
                "refused",
                None,
                RCODE_REFUSED,
                False,
                started,
            )
            return rcode_response(q, RCODE_REFUSED, ede_code=EDE_PROHIBITED)
        if q.qclass != CLASS_IN or q.qtype in _REFUSED_SPECIAL:
            rcode = RCODE_NOTIMP if q.qtype in _REFUSED_SPECIAL else RCODE_REFUSED
            self._account(
                view,
                protocol,
                src_ip,
                loc,
                q.qname,
                q.qtype,
                "refused",
                None,
                rcode,
                False,
                started,
            )
            return self._finish(q, protocol, rcode_response(q, rcode))
        policies = view.policies
        key = policies.key(loc, q.qname_wire, q.qtype, src_ip, identity)
        plan = policies.plans.get(key)
        if plan is None:
            plan = policies.plan(key, loc, q.qname, q.qtype, src_ip, identity)
        action = plan.action
        if action is Action.BLOCK:
            reply = block_response(q, plan.block) if plan.block else block_response(q)
            self._account(
                view,
                protocol,
                src_ip,
                loc,
                q.qname,
                q.qtype,
                "block",
                plan,
                RCODE_NOERROR if q.qtype in (TYPE_A, TYPE_AAAA) else RCODE_REFUSED,
                False,
                started,
            )
            return self._finish(q, protocol, reply)
        if action is Action.OVERRIDE:
            reply = override_response(q, ipv4=plan.ipv4, ipv6=plan.ipv6)
            self._account(
                view,
                protocol,
                src_ip,
                loc,
                q.qname,
                q.qtype,
                "override",
                plan,
                RCODE_NOERROR,
                False,
                started,
            )
            return self._finish(q, protocol, reply)
        cache_key = (plan.view, q.qname_wire, q.qtype, q.qclass, q.do, q.cd)
        hit = self.cache.get(cache_key, started)
        if hit is None:
            return Pending(q, plan, cache_key, loc, protocol, src_ip, started, view)
        entry = hit.entry
        if policies.has_post:
            if plan.post_entry is not entry:
                plan.post_plan = policies.post_plan(plan, entry.cnames, entry.addresses)
                plan.post_entry = entry
            post = plan.post_plan
            if post is not None:
                return self._answer_post(view, q, post, protocol, src_ip, loc, started, True)
        if hit.prefetch:
            self._prefetch(cache_key, q, plan)
        reply = serve_answer(entry.answer, q, hit.age)
        self._account(
            view,
            protocol,
            src_ip,
            loc,
            q.qname,
            q.qtype,
            plan.decision,
            plan,
            entry.rcode,
            True,
            started,
            entry.source,
        )
        return self._finish(q, protocol, reply)

    def _finish(self, q: Query, protocol: str, reply: bytes) -> bytes:
        if protocol == "udp":
            if len(reply) > CLASSIC_UDP_SIZE:
                return fit_udp(reply, q)
        elif q.edns_options and protocol in _PROTOCOLS_PADDED and has_padding(q.edns_options):
            return pad_response(reply)
        return reply

    def _answer_post(
        self,
        view: _View,
        q: Query,
        post: Plan,
        protocol: str,
        src_ip: str,
        loc: DnsLocationEntry,
        started: float,
        cached: bool,
    ) -> bytes:
        if post.action is Action.BLOCK:
            reply = block_response(q, post.block) if post.block else block_response(q)
        else:
            reply = override_response(q, ipv4=post.ipv4, ipv6=post.ipv6)
        rcode = int.from_bytes(reply[2:4], "big") & 0xF
        self._account(
            view,
            protocol,
            src_ip,
            loc,
            q.qname,
            q.qtype,
            post.decision,
            post,
            rcode,
            cached,
            started,
        )
        return self._finish(q, protocol, reply)

    def _account(
        self,
        view: _View,
        protocol: str,
        src_ip: str,
        loc: DnsLocationEntry | None,
        qname: str,
        qtype: int,
        decision: str,
        plan: Plan | None,
        rcode: int,
        cached: bool,
        started: float,
        upstream: str = "",
    ) -> None:
        latency_us = int((self._clock() - started) * 1_000_000)
        self.stats.count(protocol, decision, cached, latency_us)
        if view.query_log and self.log is not None:
            self.log.append(
                QueryRecord(
                    self._wallclock(),
                    protocol,
                    src_ip,
                    loc.id if loc is not None else "",
                    loc.name if loc is not None else "",
                    qname,
                    qtype,
                    decision,
                    plan.rule_id if plan is not None else "",
                    plan.rule_name if plan is not None else "",
                    upstream,
                    rcode,
                    cached,
                    latency_us,
                )
            )

    # --- cache misses ------------------------------------------------------------------------

    async def complete(self, p: Pending) -> bytes:
        """Resolve a cache miss upstream (identical misses share one upstream query)."""
        q, plan, view = p.query, p.plan, p.view
        try:
            resolved = await self._resolve(p.key, q.qname_wire, q.qtype, q.qclass, q.do, q.cd, plan)
        except (UpstreamError, ResponseError) as exc:
            self._account(
                view,
                p.protocol,
                p.src_ip,
                p.loc,
                q.qname,
                q.qtype,
                plan.decision,
                plan,
                RCODE_SERVFAIL,
                False,
                p.started,
            )
            ede = (
                EDE_NOT_READY
                if plan.group is None or not plan.group.servers
                else EDE_NO_REACHABLE_AUTHORITY
            )
            return self._finish(
                q,
                p.protocol,
                rcode_response(q, RCODE_SERVFAIL, ede_code=ede, ede_text=str(exc)[:100]),
            )
        if view.policies.has_post:
            post = view.policies.post_plan(plan, resolved.cnames, resolved.addresses)
            if post is not None:
                return self._answer_post(
                    view, q, post, p.protocol, p.src_ip, p.loc, p.started, False
                )
        self._account(
            view,
            p.protocol,
            p.src_ip,
            p.loc,
            q.qname,
            q.qtype,
            plan.decision,
            plan,
            resolved.rcode,
            False,
            p.started,
            resolved.upstream,
        )
        return self._finish(q, p.protocol, serve_answer(resolved.answer, q, 0))

    async def _resolve(
        self,
        key: CacheKey,
        qname_wire: bytes,
        qtype: int,
        qclass: int,
        do: bool,
        cd: bool,
        plan: Plan,
    ) -> Resolved:
        """The upstream answer for ``key``; identical misses share one task, which runs on
        its own so that a client going away does not cancel it for the others."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._fetch(key, qname_wire, qtype, qclass, do, cd, plan), name="dns-upstream-query"
            )
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _fetch(
        self,
        key: CacheKey,
        qname_wire: bytes,
        qtype: int,
        qclass: int,
        do: bool,
        cd: bool,
        plan: Plan,
    ) -> Resolved:
        group = plan.group
        assert group is not None
        if plan.action is Action.CNAME:
            packet, parsed, upstream = await self._resolve_cname(
                group, qname_wire, qtype, qclass, do, cd, plan.cname_wire
            )
        else:
            answer = await group.resolve(qname_wire, qtype, qclass, do=do, cd=cd)
            packet, parsed, upstream = answer.packet, answer.parsed, answer.server.name
        entry = self.cache.put(key, packet, parsed, self._clock())
        if entry is not None:
            entry.source = upstream
            return Resolved(
                entry.answer, entry.rcode, entry.cnames, entry.addresses, entry, upstream
            )
        patchable = prepare_answer(packet, parsed)
        return Resolved(patchable, parsed.rcode, parsed.cnames, parsed.addresses, None, upstream)

    async def _resolve_cname(
        self,
        group: UpstreamGroup,
        qname_wire: bytes,
        qtype: int,
        qclass: int,
        do: bool,
        cd: bool,
        target: bytes,
    ) -> tuple[bytes, ParsedResponse, str]:
        """A synthesized answer: CNAME to ``target`` plus the target's own records (so a stub
        gets addresses in one round trip), parsed and cached like an upstream answer."""
        records: list[bytes] = []
        authority: list[bytes] = []
        rcode = RCODE_NOERROR
        upstream = ""
        if qtype != TYPE_CNAME:
            answer = await group.resolve(target, qtype, qclass, do=do, cd=cd)
            upstream = answer.server.name
            rcode = answer.parsed.rcode & 0xF
            kept = [r for r in answer.parsed.records if r.section != SECTION_ADDITIONAL]
            answers = [r for r in kept if r.section == 0]
            records = uncompressed_records(answer.packet, answers)
            authority = uncompressed_records(answer.packet, [r for r in kept if r.section == 1])
        question = qname_wire + qtype.to_bytes(2, "big") + qclass.to_bytes(2, "big")
        header = (
            (0).to_bytes(2, "big")
            + (FLAG_QR | FLAG_RD | FLAG_RA | rcode).to_bytes(2, "big")
            + (1).to_bytes(2, "big")
            + (1 + len(records)).to_bytes(2, "big")
            + len(authority).to_bytes(2, "big")
            + (0).to_bytes(2, "big")
        )
        cname = record(TYPE_CNAME, CNAME_OVERRIDE_TTL, target, QNAME_POINTER)
        packet = header + question + cname + b"".join(records) + b"".join(authority)
        parsed = parse_response(
            packet, query_id=0, qname_wire=qname_wire, qtype=qtype, qclass=qclass
        )
        assert len(packet) >= HEADER_SIZE
        return packet, parsed, upstream

    # --- prefetch and background work --------------------------------------------------------

    def _prefetch(self, key: CacheKey, q: Query, plan: Plan) -> None:
        if len(self._background) >= MAX_PREFETCH_INFLIGHT or key in self._inflight:
            return
        self.prefetches += 1
        self._spawn(self._refresh(key, q.qname_wire, q.qtype, q.qclass, q.do, q.cd, plan))

    async def _refresh(
        self,
        key: CacheKey,
        qname_wire: bytes,
        qtype: int,
        qclass: int,
        do: bool,
        cd: bool,
        plan: Plan,
    ) -> None:
        # On failure the entry expires normally and the next miss tries again.
        with contextlib.suppress(UpstreamError, ResponseError):
            await self._resolve(key, qname_wire, qtype, qclass, do, cd, plan)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            coro, name="dns-background"
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.pool.close()

    # --- reporting ---------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        now = self._clock()
        cache = self.cache.stats
        return self.stats.export(
            {
                "cache_hits": cache.hits,
                "cache_misses": cache.misses,
                "cache_entries": len(self.cache),
                "prefetches": self.prefetches,
                "log_written": self.log.written if self.log else 0,
                "log_dropped": self.log.dropped if self.log else 0,
                "upstreams": [
                    [s.name, s.address, s.queries, s.errors, 1 if s.up(now) else 0]
                    for s in self.pool.all_servers()
                ],
            }
        )
