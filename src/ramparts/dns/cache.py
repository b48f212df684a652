"""The answer cache: validated upstream responses kept as patchable bytes.

Pure: the caller passes ``now`` (seconds, any monotonic origin) and never a clock. Keys hold a
caller-supplied view (location, user or policy version) so policy-dependent answers never
leak between them, plus the lower-case wire name, type, class, DO and CD bits.

Lifetimes follow the response (RFC 1035 §3.2.1 TTLs, RFC 2308 §5 for negative answers),
clamped to ``CacheLimits``. Expired entries go lazily (on lookup or eviction); the cache is
bounded by entry count and by bytes, least recently used first. Serve-stale (RFC 8767) is
not implemented: an expired entry is a miss.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

from ramparts.dns.wire.patch import PatchableAnswer, prepare_answer, serve_answer
from ramparts.dns.wire.query import Query
from ramparts.dns.wire.response import AnswerKind, ParsedResponse

CacheKey = tuple[Hashable, bytes, int, int, bool, bool]
"""(view, lower-case wire qname, qtype, qclass, DO bit, CD bit)."""

# Defaults follow unbound (cache-min-ttl 0, cache-max-ttl 86400, cache-max-negative-ttl 3600,
# cache-min-negative-ttl 0): respect the zone owners' TTLs, cap a day / an hour (RFC 2308 §5
# recommends one to three hours for negative caching).
DEFAULT_MIN_TTL = 0
DEFAULT_MAX_TTL = 86_400
DEFAULT_NEGATIVE_MIN_TTL = 0
DEFAULT_NEGATIVE_MAX_TTL = 3_600
DEFAULT_SERVFAIL_TTL = 5
"""SERVFAIL is cached briefly so a broken zone does not hammer upstreams (RFC 2308 §7.1 allows
up to five minutes; unbound keeps failures about 5 s)."""
DEFAULT_MAX_ENTRIES = 100_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
ENTRY_OVERHEAD_BYTES = 400
"""Rough Python cost of one entry beyond its wire bytes (key tuple, entry, answer objects)."""
DEFAULT_PREFETCH_HITS = 3
"""An entry asked for this often is worth refreshing before it expires (unbound prefetches
any entry hit in its last 10%; Blocky needs a few hits: we sit between)."""
PREFETCH_WINDOW = 0.1
"""Prefetch in the last 10% of the original TTL (unbound's rule)."""
MIN_PREFETCH_TTL = 10
"""Entries shorter-lived than this are not prefetched: the refresh would barely help."""


@dataclass(frozen=True, slots=True)
class CacheLimits:
    """Validated cache settings (seconds, counts, bytes)."""

    min_ttl: int = DEFAULT_MIN_TTL
    max_ttl: int = DEFAULT_MAX_TTL
    negative_min_ttl: int = DEFAULT_NEGATIVE_MIN_TTL
    negative_max_ttl: int = DEFAULT_NEGATIVE_MAX_TTL
    servfail_ttl: int = DEFAULT_SERVFAIL_TTL
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_bytes: int = DEFAULT_MAX_BYTES
    prefetch_hits: int = DEFAULT_PREFETCH_HITS

    def __post_init__(self) -> None:
        if not 0 <= self.min_ttl <= self.max_ttl:
            raise ValueError("need 0 <= min_ttl <= max_ttl")
        if not 0 <= self.negative_min_ttl <= self.negative_max_ttl:
            raise ValueError("need 0 <= negative_min_ttl <= negative_max_ttl")
        if self.servfail_ttl < 0 or self.max_entries < 1 or self.max_bytes < 1:
            raise ValueError("servfail_ttl >= 0, max_entries >= 1 and max_bytes >= 1 required")
        if self.prefetch_hits < 1:
            raise ValueError("prefetch_hits must be at least 1")


@dataclass(slots=True)
class CacheEntry:
    """One cached response and what post-resolution policies need from it."""

    answer: PatchableAnswer
    kind: AnswerKind
    rcode: int
    stored_at: float
    ttl: int
    expires: float
    cnames: tuple[str, ...]
    addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]
    hits: int = 0
    prefetch_signalled: bool = False
    cost: int = field(default=0)
    source: str = ""  # the upstream that gave the answer (query log)


@dataclass(slots=True)
class CacheHit:
    """A lookup result: ``prefetch`` is True once per entry when the caller should refresh
    it in the background (popular and in the last 10% of its TTL)."""

    entry: CacheEntry
    age: int
    prefetch: bool

    def serve(self, query: Query) -> bytes:
        """The cached answer patched for ``query`` (ID, flags, TTLs, OPT)."""
        return serve_answer(self.entry.answer, query, self.age)


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    inserts: int = 0
    expired: int = 0
    evicted: int = 0
    prefetch_signals: int = 0


def make_key(view: Hashable, query: Query) -> CacheKey:
    """The cache key for ``query`` as seen from ``view`` (location, user, policy version)."""
    return (view, query.qname_wire, query.qtype, query.qclass, query.do, query.cd)


class AnswerCache:
    """A bounded LRU cache of patchable answers."""

    def __init__(self, limits: CacheLimits | None = None) -> None:
        self.limits = limits if limits is not None else CacheLimits()
        self._entries: OrderedDict[CacheKey, CacheEntry] = OrderedDict()
        self._bytes = 0
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def get(self, key: CacheKey, now: float) -> CacheHit | None:
        """The live entry for ``key`` or ``None`` (an expired entry is dropped here)."""
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        if now >= entry.expires:
            self._remove(key, entry)
            self.stats.expired += 1
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        entry.hits += 1
        self.stats.hits += 1
        age = int(now - entry.stored_at) if now > entry.stored_at else 0
        prefetch = False
        if (
            not entry.prefetch_signalled
            and entry.hits >= self.limits.prefetch_hits
            and entry.ttl >= MIN_PREFETCH_TTL
            and entry.expires - now <= entry.ttl * PREFETCH_WINDOW
        ):
            entry.prefetch_signalled = True
            self.stats.prefetch_signals += 1
            prefetch = True
        return CacheHit(entry, age, prefetch)

    def cache_ttl(self, parsed: ParsedResponse) -> int | None:
        """How long ``parsed`` may be cached under these limits, ``None`` if not at all."""
        if parsed.truncated or not parsed.question:
            return None  # retry over TCP / an error reply without the question: not servable
        lim = self.limits
        kind = parsed.kind
        if kind is AnswerKind.ANSWER and parsed.min_ttl is not None:
            return min(max(parsed.min_ttl, lim.min_ttl), lim.max_ttl)
        if kind in (AnswerKind.NXDOMAIN, AnswerKind.NODATA) and parsed.negative_ttl is not None:
            return min(max(parsed.negative_ttl, lim.negative_min_ttl), lim.negative_max_ttl)
        if kind is AnswerKind.SERVFAIL and lim.servfail_ttl > 0:
            return lim.servfail_ttl
        return None

    def put(
        self, key: CacheKey, packet: bytes, parsed: ParsedResponse, now: float
    ) -> CacheEntry | None:
        """Store the validated upstream response ``packet``; ``None`` when it is not
        cacheable (truncated, no question, referral, error other than SERVFAIL, negative
        without SOA, TTL 0)."""
        ttl = self.cache_ttl(parsed)
        if not ttl:
            return None
        lim = self.limits
        # Positive records keep their own (clamped) TTLs; records of negative and SERVFAIL
        # answers never outlive the entry, so clients do not cache them longer than we do.
        if parsed.kind is AnswerKind.ANSWER:
            lo, hi = lim.min_ttl, lim.max_ttl
        elif parsed.kind is AnswerKind.SERVFAIL:
            lo, hi = ttl, ttl
        else:
            lo, hi = lim.negative_min_ttl, ttl
        answer = prepare_answer(packet, parsed, min_ttl=lo, max_ttl=hi)
        entry = CacheEntry(
            answer=answer,
            kind=parsed.kind,
            rcode=parsed.rcode,
            stored_at=now,
            ttl=ttl,
            expires=now + ttl,
            cnames=parsed.cnames,
            addresses=parsed.addresses,
            cost=answer.size + len(key[1]) + ENTRY_OVERHEAD_BYTES,
        )
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.cost
        self._entries[key] = entry
        self._bytes += entry.cost
        self.stats.inserts += 1
        self._evict(now)
        return entry if key in self._entries else None

    def remove(self, key: CacheKey) -> bool:
        entry = self._entries.get(key)
        if entry is None:
            return False
        self._remove(key, entry)
        return True

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def purge_expired(self, now: float, budget: int = 1000) -> int:
        """Drop up to ``budget`` expired entries from the LRU end; returns how many."""
        removed = 0
        for key, entry in list(self._entries.items())[:budget]:
            if now >= entry.expires:
                self._remove(key, entry)
                self.stats.expired += 1
                removed += 1
        return removed

    def _remove(self, key: CacheKey, entry: CacheEntry) -> None:
        del self._entries[key]
        self._bytes -= entry.cost

    def _evict(self, now: float) -> None:
        lim = self.limits
        entries = self._entries
        while entries and (len(entries) > lim.max_entries or self._bytes > lim.max_bytes):
            _key, entry = entries.popitem(last=False)
            self._bytes -= entry.cost
            if now >= entry.expires:
                self.stats.expired += 1
            else:
                self.stats.evicted += 1
