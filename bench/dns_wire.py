"""DNS wire fast path vs dnspython: parse a query, look it up in a cache, serve the answer.

    .venv/bin/python bench/dns_wire.py [--seconds 1.0] [--names 1000]

Ours: ``parse_query`` + ``AnswerCache.get`` + ``serve_answer`` (ID/flags/TTLs patched on bytes).
Anchor: dnspython on the same packets: ``dns.message.from_wire``, a dict cache of response
messages, ``make_response`` with TTL-adjusted copies of the cached RRsets, ``to_wire``.
Also prints ours split into steps, the block path (parse + block answer) and the miss path
(parse an upstream response + store it). Single core.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import dns.flags
import dns.message
import dns.name
import dns.rrset

from ramparts.dns.cache import AnswerCache, make_key
from ramparts.dns.constants import TYPE_A, TYPE_AAAA
from ramparts.dns.wire.build import block_response
from ramparts.dns.wire.names import name_from_text
from ramparts.dns.wire.patch import serve_answer
from ramparts.dns.wire.query import parse_query
from ramparts.dns.wire.response import parse_response

VIEW = "office"
STORED_AT = 1_000.0
NOW = 1_037.0


def _random_case(name: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.3 else c for c in name)


def build_packets(count: int, seed: int = 6) -> tuple[list[bytes], list[tuple[str, str, bytes]]]:
    """Client queries (mixed A/AAAA, half with EDNS, random IDs and case) and upstream answers."""
    rng = random.Random(seed)
    queries: list[bytes] = []
    upstream: list[tuple[str, str, bytes]] = []
    for i in range(count):
        name = f"host{i}.site{i % 37}.example.com"
        rdtype = "A" if i % 3 else "AAAA"
        up_query = dns.message.make_query(name, rdtype, use_edns=0)
        up_query.id = 7
        response = dns.message.make_response(up_query)
        response.answer.append(
            dns.rrset.from_text(name + ".", 300, "IN", "CNAME", f"edge{i}.cdn.net.")
        )
        data = ["192.0.2.1", "192.0.2.2"] if rdtype == "A" else ["2001:db8::1", "2001:db8::2"]
        response.answer.append(dns.rrset.from_text(f"edge{i}.cdn.net.", 60, "IN", rdtype, *data))
        upstream.append((name, rdtype, response.to_wire()))
        for _ in range(2):
            use_edns = 0 if rng.random() < 0.5 else None
            message = (
                dns.message.make_query(_random_case(name, rng), rdtype, use_edns=0, payload=1232)
                if use_edns == 0
                else dns.message.make_query(_random_case(name, rng), rdtype)
            )
            message.id = rng.randrange(65536)
            queries.append(message.to_wire())
    rng.shuffle(queries)
    return queries, upstream


def fill_ours(upstream: list[tuple[str, str, bytes]]) -> AnswerCache:
    cache = AnswerCache()
    for name, rdtype, wire in upstream:
        qname_wire = name_from_text(name).lower()
        qtype = TYPE_A if rdtype == "A" else TYPE_AAAA
        parsed = parse_response(wire, query_id=7, qname_wire=qname_wire, qtype=qtype, qclass=1)
        cache.put((VIEW, qname_wire, qtype, 1, False, False), wire, parsed, STORED_AT)
    return cache


def fill_dnspython(
    upstream: list[tuple[str, str, bytes]],
) -> dict[tuple[str, dns.name.Name, int, int], tuple[float, dns.message.Message]]:
    cache: dict[tuple[str, dns.name.Name, int, int], tuple[float, dns.message.Message]] = {}
    for _name, _rdtype, wire in upstream:
        message = dns.message.from_wire(wire)
        question = message.question[0]
        cache[(VIEW, question.name, question.rdtype, question.rdclass)] = (STORED_AT, message)
    return cache


def run_ours(packets: list[bytes], cache: AnswerCache) -> Callable[[], int]:
    get = cache.get

    def loop() -> int:
        total = 0
        for packet in packets:
            q = parse_query(packet)
            hit = get(make_key(VIEW, q), NOW)
            assert hit is not None
            total += len(hit.serve(q))
        return total

    return loop


def run_dnspython(
    packets: list[bytes],
    cache: dict[tuple[str, dns.name.Name, int, int], tuple[float, dns.message.Message]],
) -> Callable[[], int]:
    def loop() -> int:
        total = 0
        for packet in packets:
            query = dns.message.from_wire(packet)
            question = query.question[0]
            stored_at, cached = cache[(VIEW, question.name, question.rdtype, question.rdclass)]
            age = int(NOW - stored_at)
            response = dns.message.make_response(query)
            for rrset in cached.answer:
                copy = dns.rrset.RRset(rrset.name, rrset.rdclass, rrset.rdtype)
                copy.update(rrset)
                copy.ttl = max(0, rrset.ttl - age)
                response.answer.append(copy)
            response.flags |= dns.flags.RA
            total += len(response.to_wire())
        return total

    return loop


def measure(loop: Callable[[], int], ops_per_loop: int, seconds: float) -> float:
    """Best ops/s over repeated loops within ``seconds`` (at least 3 loops)."""
    best = 0.0
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < 3 or time.perf_counter() < deadline:
        start = time.perf_counter()
        loop()
        elapsed = time.perf_counter() - start
        best = max(best, ops_per_loop / elapsed)
        rounds += 1
    return best


def check_same_answers(packets: list[bytes], cache: AnswerCache) -> None:
    """Our patched bytes must say what dnspython would: same ID, question, records, TTLs."""
    for packet in packets[:50]:
        q = parse_query(packet)
        hit = cache.get(make_key(VIEW, q), NOW)
        assert hit is not None
        ours = dns.message.from_wire(serve_answer(hit.entry.answer, q, hit.age))
        query = dns.message.from_wire(packet)
        assert ours.id == query.id
        assert ours.question == query.question
        assert [r.ttl for r in ours.answer] == [300 - 37, 60 - 37]
        assert (ours.edns >= 0) == (query.edns >= 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--names", type=int, default=1000, help="distinct cached names")
    args = parser.parse_args()

    packets, upstream = build_packets(args.names)
    ours_cache = fill_ours(upstream)
    check_same_answers(packets, ours_cache)
    anchor_cache = fill_dnspython(upstream)
    n = len(packets)

    anchor = measure(run_dnspython(packets, anchor_cache), n, args.seconds)
    ours = measure(run_ours(packets, ours_cache), n, args.seconds)

    parsed = [parse_query(p) for p in packets]
    keys = [make_key(VIEW, q) for q in parsed]
    hits = [ours_cache.get(k, NOW) for k in keys]
    parse_only = measure(lambda: sum(1 for p in packets if parse_query(p)), n, args.seconds / 2)
    get_only = measure(lambda: sum(1 for k in keys if ours_cache.get(k, NOW)), n, args.seconds / 2)
    serve_only = measure(
        lambda: sum(
            len(serve_answer(h.entry.answer, q, h.age))
            for h, q in zip(hits, parsed, strict=True)
            if h is not None
        ),
        n,
        args.seconds / 2,
    )
    block = measure(lambda: sum(len(block_response(parse_query(p))) for p in packets), n,
                    args.seconds / 2)  # fmt: skip

    store = measure(lambda: len(fill_ours(upstream)), len(upstream), args.seconds / 2)

    print(f"packets: {n} queries over {args.names} cached names (A/AAAA, half EDNS)")
    print(f"dnspython  parse+cache+respond : {anchor:>10,.0f} ops/s")
    print(f"ramparts   parse+cache+patch   : {ours:>10,.0f} ops/s")
    print(f"ratio ours/dnspython           : {ours / anchor:>10.1f}x")
    print(f"  steps: parse {parse_only:,.0f}/s, cache get {get_only:,.0f}/s, "
          f"patch {serve_only:,.0f}/s; parse+block answer {block:,.0f}/s; "
          f"miss path (parse upstream response + store) {store:,.0f}/s")  # fmt: skip
    print("context (issue 6): unbound cached answers ~71,000 q/s end to end on this machine")


if __name__ == "__main__":
    main()
