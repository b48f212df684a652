"""The filtering resolver: one query in, one answer out, for every listener.

``handle`` runs synchronously on the packet bytes and answers everything it can without an
upstream (errors, refusals, blocks, overrides, cache hits with post-resolution checks). Only a
cache miss returns a ``Pending`` that the listener awaits with ``complete``. Pipeline:

    location -> reply cache -> parse -> plan (pre-resolution + resolver policies, cached per
    snapshot) -> block / override / answer cache (view = location + route) -> upstream
    (coalesced) -> post-resolution policies -> answer (TC for UDP when too big, TLS padding)

The reply cache is the bytes fast path: a finished reply is kept under (location, transport,
query bytes after the ID) until the next second of TTL ageing (or the answer's expiry), so a
repeated query costs one dict lookup and an ID patch. It holds only what the slow path decided
for the same location and bytes in the same snapshot, and is skipped when policies read the
source address or the user (then the slow path's per-plan keys apply).

A snapshot is applied atomically; a query keeps the view it started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ramparts.config.dns import DnsLocationEntry
from ramparts.config.snapshot import Snapshot
from ramparts.dns.cache import AnswerCache, CacheEntry, CacheKey, CacheLimits
from ramparts.dns.constants import (
    CLASS_IN,
    CLASSIC_UDP_SIZE,
    EDE_NOT_READY,
    EDE_PROHIBITED,
    RCODE_MASK,
    RCODE_NOTIMP,
    RCODE_REFUSED,
    RCODE_SERVFAIL,
    TYPE_AXFR,
    TYPE_IXFR,
)
from ramparts.dns.errors import QueryError, ResponseError, UpstreamError
from ramparts.dns.locations import LocationTable
from ramparts.dns.plan import Action, Plan, PolicyView
from ramparts.dns.querylog import QueryLog
from ramparts.dns.stats import ResolverStats
from ramparts.dns.synthesize import cname_answer
from ramparts.dns.upstream.pool import UpstreamPool
from ramparts.dns.wire.build import (
    block_response,
    error_response,
    fit_udp,
    override_response,
    pad_response,
    rcode_response,
)
from ramparts.dns.wire.edns import has_padding
from ramparts.dns.wire.patch import PatchableAnswer, prepare_answer, serve_answer
from ramparts.dns.wire.query import Query, parse_query
from ramparts.policy import Identity

log = logging.getLogger(__name__)

EDE_NO_REACHABLE_AUTHORITY = 22  # RFC 8914 §4.23
MAX_PREFETCH_INFLIGHT = 64
"""Background refreshes of popular entries running at once."""
MAX_REPLIES = 100_000
"""Reply-cache entries per snapshot (cleared when full); one is the reply plus ~200 bytes."""
_NO_EXPIRY = float("inf")
_ZONE_TRANSFERS = frozenset({TYPE_AXFR, TYPE_IXFR})
"""Zone transfers are not a resolver's business: NOTIMP."""
_PLAIN = frozenset({"udp", "tcp"})
_PADDED = frozenset({"dot", "doh"})
"""Encrypted transports pad answers for clients that sent Padding (RFC 8467 §4.1)."""

LogTemplate = tuple[str, str, str, int, str, str, str, str, int, bool]
"""Query-log fields that do not change between repeats of a query: location id and name,
name, type, decision, rule id and name, upstream, rcode, cached."""


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
class _Reply:
    until: float  # monotonic time after which the reply must be rebuilt
    tail: bytes  # the reply without its ID
    template: LogTemplate


@dataclass(slots=True)
class _View:
    """Everything one snapshot decides, swapped as a whole by ``apply``."""

    version: int
    locations: LocationTable
    policies: PolicyView
    query_log: bool
    reusable: bool  # replies may be reused by (location, transport, bytes)
    replies: dict[tuple[str, str, bytes], _Reply] = field(default_factory=dict)


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
        self.cache.limits = CacheLimits(
            min_ttl=config.cache_min_ttl,
            max_ttl=config.cache_max_ttl,
            negative_max_ttl=config.negative_max_ttl,
        )  # new clamps apply to new entries; old ones expire on their own schedule
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
            not (policies.uses_source or policies.uses_identity),
        )
        if previous is not None and previous.version != snapshot.version:
            with contextlib.suppress(RuntimeError):  # no loop: nothing was opened yet
                asyncio.get_running_loop()
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
        if protocol in _PLAIN:
            loc = view.locations.plain(src_ip)
        else:
            loc = view.locations.encrypted(location_id, src_ip)
        reply_key = None
        if loc is not None and view.reusable and identity is None:
            reply_key = (loc.id, protocol, packet[2:])
            reused = view.replies.get(reply_key)
            if reused is not None and started < reused.until:
                self._log(view, protocol, src_ip, reused.template, started)
                return packet[:2] + reused.tail
        try:
            q = parse_query(packet)
        except QueryError as exc:
            reply = error_response(exc)
            if reply is None:
                self.stats.dropped += 1
            else:
                template = _template(loc, "", 0, "error", None, exc.rcode or 0, False)
                self._log(view, protocol, src_ip, template, started)
            return reply
        if loc is None:
            template = _template(None, q.qname, q.qtype, "refused", None, RCODE_REFUSED, False)
            self._log(view, protocol, src_ip, template, started)
            return rcode_response(q, RCODE_REFUSED, ede_code=EDE_PROHIBITED)
        if q.qclass != CLASS_IN or q.qtype in _ZONE_TRANSFERS:
            rcode = RCODE_NOTIMP if q.qtype in _ZONE_TRANSFERS else RCODE_REFUSED
            template = _template(loc, q.qname, q.qtype, "refused", None, rcode, False)
            return self._reply(view, q, protocol, src_ip, rcode_response(q, rcode), template,
                               started, reply_key, _NO_EXPIRY)  # fmt: skip
        policies = view.policies
        key = policies.key(loc, q.qname_wire, q.qtype, src_ip, identity)
        plan = policies.plans.get(key)
        if plan is None:
            plan = policies.plan(key, loc, q.qname, q.qtype, src_ip, identity)
        action = plan.action
        if action is Action.BLOCK or action is Action.OVERRIDE:
            return self._synthesized(
                view, q, plan, protocol, src_ip, loc, started, reply_key, False
            )
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
                return self._synthesized(
                    view, q, post, protocol, src_ip, loc, started, reply_key, True
                )
        if hit.prefetch:
            self._prefetch(cache_key, q, plan)
        template = _template(
            loc, q.qname, q.qtype, plan.decision, plan, entry.rcode, True, entry.source
        )
        # Rebuild when the answer's age reaches the next whole second, or at its expiry.
        until = min(entry.stored_at + hit.age + 1, entry.expires)
        return self._reply(view, q, protocol, src_ip, serve_answer(entry.answer, q, hit.age),
                           template, started, reply_key, until)  # fmt: skip

    def _reply(
        self,
        view: _View,
        q: Query,
        protocol: str,
        src_ip: str,
        reply: bytes,
        template: LogTemplate,
        started: float,
        reply_key: tuple[str, str, bytes] | None,
        until: float,
    ) -> bytes:
        """Finish ``reply`` for the transport, log it, and keep it for repeats."""
        if protocol == "udp":
            if len(reply) > CLASSIC_UDP_SIZE:
                reply = fit_udp(reply, q)
        elif q.edns_options and protocol in _PADDED and has_padding(q.edns_options):
            reply = pad_response(reply)
        if reply_key is not None:
            replies = view.replies
            if len(replies) >= MAX_REPLIES:
                replies.clear()
            replies[reply_key] = _Reply(until, reply[2:], template)
        self._log(view, protocol, src_ip, template, started)
        return reply

    def _synthesized(
        self,
        view: _View,
        q: Query,
        plan: Plan,
        protocol: str,
        src_ip: str,
        loc: DnsLocationEntry,
        started: float,
        reply_key: tuple[str, str, bytes] | None,
        cached: bool,
    ) -> bytes:
        """A block or fixed-address answer (pre- or post-resolution)."""
        if plan.action is Action.BLOCK:
            reply = block_response(q, plan.block) if plan.block else block_response(q)
        else:
            reply = override_response(q, ipv4=plan.ipv4, ipv6=plan.ipv6)
        rcode = reply[3] & RCODE_MASK
        template = _template(loc, q.qname, q.qtype, plan.decision, plan, rcode, cached)
        # Post-resolution verdicts depend on the cached answer: rebuilt with it, each second.
        until = started + 1.0 if cached else _NO_EXPIRY
        return self._reply(view, q, protocol, src_ip, reply, template, started, reply_key, until)

    def _log(
        self, view: _View, protocol: str, src_ip: str, template: LogTemplate, started: float
    ) -> None:
        latency_us = int((self._clock() - started) * 1_000_000)
        self.stats.count(protocol, template[4], template[9], latency_us)
        if view.query_log and self.log is not None:
            self.log.append((self._wallclock(), protocol, src_ip, *template, latency_us))

    # --- cache misses ------------------------------------------------------------------------

    async def complete(self, p: Pending) -> bytes:
        """Resolve a cache miss upstream (identical misses share one upstream query)."""
        q, plan, view = p.query, p.plan, p.view
        try:
            resolved = await self._resolve(p.key, q, plan)
        except (UpstreamError, ResponseError) as exc:
            template = _template(
                p.loc, q.qname, q.qtype, plan.decision, plan, RCODE_SERVFAIL, False
            )
            group = plan.group
            ede = (
                EDE_NOT_READY if group is None or not group.servers else EDE_NO_REACHABLE_AUTHORITY
            )
            reply = rcode_response(q, RCODE_SERVFAIL, ede_code=ede, ede_text=str(exc)[:100])
            return self._reply(view, q, p.protocol, p.src_ip, reply, template, p.started, None, 0)
        if view.policies.has_post:
            post = view.policies.post_plan(plan, resolved.cnames, resolved.addresses)
            if post is not None:
                return self._synthesized(
                    view, q, post, p.protocol, p.src_ip, p.loc, p.started, None, False
                )
        template = _template(p.loc, q.qname, q.qtype, plan.decision, plan, resolved.rcode, False,
                             resolved.upstream)  # fmt: skip
        reply = serve_answer(resolved.answer, q, 0)
        return self._reply(view, q, p.protocol, p.src_ip, reply, template, p.started, None, 0)

    async def _resolve(self, key: CacheKey, q: Query, plan: Plan) -> Resolved:
        """The upstream answer for ``key``; identical misses share one task, which runs on
        its own so that a client going away does not cancel it for the others."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._fetch(key, q.qname_wire, q.qtype, q.qclass, q.do, q.cd, plan),
                name="dns-upstream-query",
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
            packet, parsed, upstream = await cname_answer(
                group, qname_wire, qtype, qclass, plan.cname_wire, do=do, cd=cd
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

    # --- prefetch and background work --------------------------------------------------------

    def _prefetch(self, key: CacheKey, q: Query, plan: Plan) -> None:
        if len(self._background) >= MAX_PREFETCH_INFLIGHT or key in self._inflight:
            return
        self.prefetches += 1
        self._spawn(self._refresh(key, q, plan))

    async def _refresh(self, key: CacheKey, q: Query, plan: Plan) -> None:
        # On failure the entry expires normally and the next miss tries again.
        with contextlib.suppress(UpstreamError, ResponseError):
            await self._resolve(key, q, plan)

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


def _template(
    loc: DnsLocationEntry | None,
    qname: str,
    qtype: int,
    decision: str,
    plan: Plan | None,
    rcode: int,
    cached: bool,
    upstream: str = "",
) -> LogTemplate:
    return (
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
    )
