"""The answer cache: keys, lifetimes and clamps, LRU bounds, prefetch hints."""

from __future__ import annotations

from collections.abc import Callable

import dns.message
import pytest

from ramparts.dns.cache import AnswerCache, CacheLimits, make_key
from ramparts.dns.wire.query import Query, parse_query
from ramparts.dns.wire.response import ParsedResponse, parse_response

MakeQuery = Callable[..., bytes]
MakeResponse = Callable[..., bytes]
SOA = ["ns1.example. hostmaster.example. 1 7200 900 1209600 600"]


def _parsed(wire: bytes, query: Query) -> ParsedResponse:
    return parse_response(
        wire, query_id=7, qname_wire=query.qname_wire, qtype=query.qtype, qclass=query.qclass
    )


@pytest.fixture
def query(make_query: MakeQuery) -> Query:
    return parse_query(make_query("www.example.com", "A"))


@pytest.fixture
def answer(make_response: MakeResponse) -> bytes:
    return make_response(
        "www.example.com", "A", answers=[("www.example.com.", 100, "A", ["192.0.2.1"])]
    )


def test_hit_then_expiry(query: Query, answer: bytes) -> None:
    cache = AnswerCache()
    key = make_key("office", query)
    entry = cache.put(key, answer, _parsed(answer, query), now=1000.0)
    assert entry is not None
    assert entry.ttl == 100
    assert entry.addresses[0].exploded == "192.0.2.1"
    hit = cache.get(key, 1040.7)
    assert hit is not None
    assert hit.age == 40
    assert not hit.prefetch
    served = dns.message.from_wire(hit.serve(query))
    assert served.answer[0].ttl == 60
    assert served.id == query.id
    assert cache.get(key, 1100.0) is None  # expired exactly at stored_at + ttl
    assert len(cache) == 0
    assert cache.bytes_used == 0
    assert cache.stats.hits == 1
    assert cache.stats.misses == 1
    assert cache.stats.expired == 1


def test_views_and_flags_do_not_share_entries(
    make_query: MakeQuery, query: Query, answer: bytes
) -> None:
    cache = AnswerCache()
    cache.put(make_key("office", query), answer, _parsed(answer, query), now=0)
    assert cache.get(make_key("home", query), 1) is None
    do_query = parse_query(make_query("WWW.example.com", "A", use_edns=0, want_dnssec=True))
    assert cache.get(make_key("office", do_query), 1) is None
    upper = parse_query(make_query("WWW.EXAMPLE.com", "A"))
    assert cache.get(make_key("office", upper), 1) is not None  # names are case-insensitive


def test_positive_clamps(query: Query, make_response: MakeResponse) -> None:
    cache = AnswerCache(CacheLimits(min_ttl=30, max_ttl=600))
    short = make_response(
        "www.example.com", "A", answers=[("www.example.com.", 5, "A", ["192.0.2.1"])]
    )
    assert cache.cache_ttl(_parsed(short, query)) == 30
    long = make_response(
        "www.example.com", "A", answers=[("www.example.com.", 86400, "A", ["192.0.2.1"])]
    )
    entry = cache.put(make_key(0, query), long, _parsed(long, query), now=0)
    assert entry is not None
    assert entry.ttl == 600
    hit = cache.get(make_key(0, query), 10)
    assert hit is not None
    assert dns.message.from_wire(hit.serve(query)).answer[0].ttl == 590


def test_negative_caching(query: Query, make_response: MakeResponse) -> None:
    nx = make_response("www.example.com", "A", rcode=3, authority=[("example.", 7200, "SOA", SOA)])
    cache = AnswerCache()
    entry = cache.put(make_key(0, query), nx, _parsed(nx, query), now=0)
    assert entry is not None
    assert entry.ttl == 600
    assert entry.rcode == 3
    hit = cache.get(make_key(0, query), 100)
    assert hit is not None
    reply = dns.message.from_wire(hit.serve(query))
    assert reply.rcode() == 3
    assert reply.authority[0].ttl == 500
    capped = AnswerCache(CacheLimits(negative_max_ttl=60))
    assert capped.cache_ttl(_parsed(nx, query)) == 60
    floored = AnswerCache(CacheLimits(negative_min_ttl=900, negative_max_ttl=3600))
    assert floored.cache_ttl(_parsed(nx, query)) == 900
    no_soa = make_response("www.example.com", "A", rcode=3)
    assert cache.put(make_key(1, query), no_soa, _parsed(no_soa, query), now=0) is None


def test_uncacheable_responses(query: Query, make_response: MakeResponse) -> None:
    cache = AnswerCache()
    refused = make_response("www.example.com", "A", rcode=5)
    assert cache.put(make_key(0, query), refused, _parsed(refused, query), 0) is None
    zero = make_response(
        "www.example.com", "A", answers=[("www.example.com.", 0, "A", ["192.0.2.1"])]
    )
    assert cache.put(make_key(0, query), zero, _parsed(zero, query), 0) is None
    tc = bytearray(make_response("www.example.com", "A"))
    tc[2] |= 0x02
    assert cache.put(make_key(0, query), bytes(tc), _parsed(bytes(tc), query), 0) is None
    referral = make_response(
        "www.example.com", "A", authority=[("example.", 60, "NS", ["ns.example."])]
    )
    assert cache.put(make_key(0, query), referral, _parsed(referral, query), 0) is None
    bare_servfail = bytes.fromhex("0007818200000000 00000000")
    assert cache.put(make_key(0, query), bare_servfail, _parsed(bare_servfail, query), 0) is None
    assert len(cache) == 0


def test_servfail_cached_briefly(query: Query, make_response: MakeResponse) -> None:
    servfail = make_response("www.example.com", "A", rcode=2)
    cache = AnswerCache()
    entry = cache.put(make_key(0, query), servfail, _parsed(servfail, query), 0)
    assert entry is not None
    assert entry.ttl == 5
    assert AnswerCache(CacheLimits(servfail_ttl=0)).cache_ttl(_parsed(servfail, query)) is None


def _keyed_answers(make_query: MakeQuery, make_response: MakeResponse, n: int):  # type: ignore[no-untyped-def]
    for i in range(n):
        name = f"host{i}.example"
        q = parse_query(make_query(name, "A"))
        wire = make_response(name, "A", answers=[(name + ".", 300, "A", ["192.0.2.1"])])
        yield q, wire


def test_lru_bound_by_entries(make_query: MakeQuery, make_response: MakeResponse) -> None:
    cache = AnswerCache(CacheLimits(max_entries=3))
    pairs = list(_keyed_answers(make_query, make_response, 4))
    keys = [make_key(0, q) for q, _ in pairs]
    for key, (q, wire) in zip(keys[:3], pairs[:3], strict=True):
        cache.put(key, wire, _parsed(wire, q), 0)
    assert cache.get(keys[0], 1) is not None  # host0 becomes most recently used
    q, wire = pairs[3]
    cache.put(keys[3], wire, _parsed(wire, q), 2)
    assert len(cache) == 3
    assert keys[1] not in cache
    assert all(k in cache for k in (keys[0], keys[2], keys[3]))
    assert cache.stats.evicted == 1


def test_bound_by_bytes(make_query: MakeQuery, make_response: MakeResponse) -> None:
    pairs = list(_keyed_answers(make_query, make_response, 10))
    probe = AnswerCache()
    first = probe.put(make_key(0, pairs[0][0]), pairs[0][1], _parsed(pairs[0][1], pairs[0][0]), 0)
    assert first is not None
    cache = AnswerCache(CacheLimits(max_bytes=first.cost * 4 + 10))
    for q, wire in pairs:
        cache.put(make_key(0, q), wire, _parsed(wire, q), 0)
    assert len(cache) == 4
    assert cache.bytes_used <= first.cost * 4 + 10
    tiny = AnswerCache(CacheLimits(max_bytes=10))
    q, wire = pairs[0]
    assert tiny.put(make_key(0, q), wire, _parsed(wire, q), 0) is None
    assert len(tiny) == 0


def test_replacing_an_entry_keeps_byte_count(query: Query, answer: bytes) -> None:
    cache = AnswerCache()
    key = make_key(0, query)
    first = cache.put(key, answer, _parsed(answer, query), 0)
    cache.put(key, answer, _parsed(answer, query), 10)
    assert first is not None
    assert len(cache) == 1
    assert cache.bytes_used == first.cost
    assert cache.remove(key)
    assert not cache.remove(key)
    assert cache.bytes_used == 0


def test_prefetch_hint_once_for_popular_entries(query: Query, answer: bytes) -> None:
    cache = AnswerCache(CacheLimits(prefetch_hits=3))
    key = make_key(0, query)
    cache.put(key, answer, _parsed(answer, query), now=0)
    hints = [hit.prefetch for t in (1, 2, 91, 92, 95) if (hit := cache.get(key, t)) is not None]
    # hits 1-2 are early and unpopular; at t=91 (3rd hit, last 10% of 100 s) the hint fires once.
    assert hints == [False, False, True, False, False]
    assert cache.stats.prefetch_signals == 1


def test_unpopular_entries_are_not_prefetched(query: Query, answer: bytes) -> None:
    cache = AnswerCache(CacheLimits(prefetch_hits=5))
    key = make_key(0, query)
    cache.put(key, answer, _parsed(answer, query), now=0)
    assert [h.prefetch for t in (95, 96) if (h := cache.get(key, t))] == [False, False]


def test_purge_expired(make_query: MakeQuery, make_response: MakeResponse) -> None:
    cache = AnswerCache()
    for q, wire in _keyed_answers(make_query, make_response, 5):
        cache.put(make_key(0, q), wire, _parsed(wire, q), 0)
    assert cache.purge_expired(100) == 0
    assert cache.purge_expired(400, budget=3) == 3
    assert len(cache) == 2


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="min_ttl"):
        CacheLimits(min_ttl=10, max_ttl=5)
    with pytest.raises(ValueError, match="negative"):
        CacheLimits(negative_min_ttl=-1)
    with pytest.raises(ValueError, match="max_entries"):
        CacheLimits(max_entries=0)
