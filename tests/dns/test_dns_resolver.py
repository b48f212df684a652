"""The resolver pipeline against an in-process upstream: locations, policies in every phase,
cache views, upstream failures, coalescing, prefetch, truncation, padding, the query log."""

from __future__ import annotations

import asyncio
import ipaddress

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import pytest

from ramparts.config.dns import Unmatched
from ramparts.dns.querylog import QueryLog, QueryRecord
from ramparts.dns.resolver import Pending, Resolver
from ramparts.policy import Context, Identity, PolicyRule

from .conftest import FakeUpstream, ask, snapshot_for

OFFICE = ("off1ce0001", "office", ["127.0.0.2/32", "10.0.0.0/8"])
LAB = ("1ab0000001", "lab", ["127.0.0.3/32", "10.1.0.0/16"])  # more specific inside office's /8


def _rule(rid: str, phase: Context, expression: str, action: str, **settings: str) -> PolicyRule:
    return PolicyRule(rid, rid, phase, expression, action, settings=settings)


def _ips(message: dns.message.Message) -> list[str]:
    return [r.to_text() for rrset in message.answer for r in rrset if rrset.rdtype in (1, 28)]


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(query_log=QueryLog(None, "test"))


async def test_location_specific_block_and_default_allow(
    resolver: Resolver, upstream: FakeUpstream
) -> None:
    rules = [
        _rule("ads", Context.DNS,
              'any(dns.domains[*] == "ads.example.test") and dns.location == "office"', "block"),
    ]  # fmt: skip
    resolver.apply(snapshot_for(rules, [OFFICE, LAB], [("u", "udp", f"127.0.0.1:{upstream.port}")]))
    office = await ask(resolver, "ads.example.test", src="127.0.0.2")
    assert office.rcode() == dns.rcode.NOERROR and _ips(office) == ["0.0.0.0"]
    lab = await ask(resolver, "ads.example.test", src="127.0.0.3")
    assert _ips(lab) == ["192.0.2.66"]
    # Longest prefix wins: 10.1.2.3 is in lab's /16 inside office's /8.
    assert _ips(await ask(resolver, "ads.example.test", src="10.1.2.3")) == ["192.0.2.66"]
    assert _ips(await ask(resolver, "ads.example.test", src="10.2.0.1")) == ["0.0.0.0"]
    # Blocked AAAA is ::, other types REFUSED, all with EDE 15 for EDNS clients.
    aaaa = await ask(resolver, "ads.example.test", "AAAA", src="127.0.0.2", use_edns=0)
    assert _ips(aaaa) == ["::"]
    assert [o.code for o in aaaa.options] == [dns.edns.EDE]
    assert aaaa.options[0].to_text().startswith("EDE 15")
    mx = await ask(resolver, "ads.example.test", "MX", src="127.0.0.2")
    assert mx.rcode() == dns.rcode.REFUSED
    # The blocked name never went upstream from the office.
    assert ("udp", "ads.example.test", "AAAA") not in upstream.queries


async def test_unmatched_sources_are_refused_unless_the_team_serves_them(
    resolver: Resolver, upstream: FakeUpstream
) -> None:
    ups = [("u", "udp", f"127.0.0.1:{upstream.port}")]
    resolver.apply(snapshot_for([], [OFFICE], ups))
    refused = await ask(resolver, "www.example.test", src="192.0.2.200", use_edns=0)
    assert refused.rcode() == dns.rcode.REFUSED
    assert refused.options[0].to_text().startswith("EDE 18")
    assert upstream.queries == []
    resolver.apply(snapshot_for([], [OFFICE], ups, version=2, unmatched_plain=Unmatched.SERVE))
    assert _ips(await ask(resolver, "www.example.test", src="192.0.2.200")) == ["192.0.2.10"]
    # Encrypted transports: an unknown location id is refused, none at all is served.
    gone = await ask(resolver, "www.example.test", protocol="dot", location_id="deadbeef00")
    assert gone.rcode() == dns.rcode.REFUSED
    ok = await ask(resolver, "www.example.test", protocol="dot", src="192.0.2.9")
    assert _ips(ok) == ["192.0.2.10"]


async def test_override_and_cname_override(resolver: Resolver, upstream: FakeUpstream) -> None:
    rules = [
        _rule("fixed", Context.DNS, 'dns.fqdn == "intranet.example.test"', "override",
              override_ips="192.0.2.50, 2001:db8::50"),
        _rule("alias", Context.DNS, 'dns.fqdn == "mail.example.test"', "override",
              override_host="www.example.test"),
    ]  # fmt: skip
    resolver.apply(snapshot_for(rules, [OFFICE], [("u", "udp", f"127.0.0.1:{upstream.port}")]))
    assert _ips(await ask(resolver, "intranet.example.test")) == ["192.0.2.50"]
    assert _ips(await ask(resolver, "intranet.example.test", "AAAA")) == ["2001:db8::50"]
    alias = await ask(resolver, "mail.example.test")
    assert [rr.rdtype for rr in alias.answer] == [5, 1]
    assert alias.answer[0].to_text() == "mail.example.test. 60 IN CNAME www.example.test."
    assert _ips(alias) == ["192.0.2.10"]
    # The synthesized answer is cached: asked again, nothing goes upstream.
    before = len(upstream.queries)
    assert _ips(await ask(resolver, "MAIL.example.test")) == ["192.0.2.10"]
    assert len(upstream.queries) == before


async def test_safe_search_rewrites_only_where_the_policy_applies(
    resolver: Resolver, upstream: FakeUpstream
) -> None:
    rules = [_rule("ss", Context.DNS, 'dns.location == "office"', "safesearch")]
    resolver.apply(snapshot_for(rules, [OFFICE, LAB], [("u", "udp", f"127.0.0.1:{upstream.port}")]))
    google = await ask(resolver, "www.google.com", src="127.0.0.2")
    assert google.answer[0].to_text().endswith("CNAME forcesafesearch.google.com.")
    assert _ips(google) == ["216.239.38.120"]
    bing = await ask(resolver, "www.bing.com", src="127.0.0.2")
    assert bing.answer[0].to_text().endswith("CNAME strict.bing.com.")
    # A name that is no search engine is answered as usual.
    assert _ips(await ask(resolver, "www.example.test", src="127.0.0.2")) == ["192.0.2.10"]
    # The lab has no safe search policy: its view of www.google.com is the upstream's.
    lab = await ask(resolver, "www.google.com", src="127.0.0.3")
    assert lab.rcode() == dns.rcode.NXDOMAIN and not lab.answer


async def test_post_resolution_policies_see_ips_and_cnames(
    resolver: Resolver, upstream: FakeUpstream
) -> None:
    rules = [
        _rule("badip", Context.DNS_POST, "any(dns.resolved_ips[*] in {203.0.113.0/24})", "block"),
        _rule("badcdn", Context.DNS_POST, 'any(dns.cname[*] == "cdn.evil.test")', "block"),
    ]
    resolver.apply(snapshot_for(rules, [OFFICE], [("u", "udp", f"127.0.0.1:{upstream.port}")]))
    for _ in range(2):  # miss, then cache hit: both checked
        evil = await ask(resolver, "evil.example.test")
        assert _ips(evil) == ["0.0.0.0"]
        tracked = await ask(resolver, "tracked.example.test")
        assert _ips(tracked) == ["0.0.0.0"]
    assert _ips(await ask(resolver, "www.example.test")) == ["192.0.2.10"]
    assert upstream.queries.count(("udp", "evil.example.test", "A")) == 1


async def test_resolver_policy_routes_names_to_another_upstream_and_views_do_not_mix(
    resolver: Resolver, upstream: FakeUpstream
) -> None:
    internal = await FakeUpstream({("www.example.test", "A"): ["10.9.9.9"]}).start()
    try:
        rules = [
            _rule("corp", Context.DNS_RESOLVER, 'dns.location == "lab"', "resolve",
                  upstream="internal"),
        ]  # fmt: skip
        ups = [
            ("public", "udp", f"127.0.0.1:{upstream.port}"),
            ("internal", "udp", f"127.0.0.1:{internal.port}"),
        ]
        resolver.apply(snapshot_for(rules, [OFFICE, LAB], ups))
        assert _ips(await ask(resolver, "www.example.test", src="127.0.0.3")) == ["10.9.9.9"]
        assert _ips(await ask(resolver, "www.example.test", src="127.0.0.2")) == ["192.0.2.10"]
        # Cached answers stay in their views.
        assert _ips(await ask(resolver, "www.example.test", src="127.0.0.3")) == ["10.9.9.9"]
        assert _ips(await ask(resolver, "www.example.test", src="127.0.0.2")) == ["192.0.2.10"]
        assert len(internal.queries) == 1 and len(upstream.queries) == 1
        # An address instead of a name works too (ad-hoc upstream).
        rules2 = [
            _rule("corp", Context.DNS_RESOLVER, 'dns.location == "lab"', "resolve",
                  upstream=f"udp://127.0.0.1:{internal.port}"),
        ]  # fmt: skip
        resolver.apply(snapshot_for(rules2, [OFFICE, LAB], ups[:1], version=2))
        assert _ips(await ask(resolver, "www.example.test", src="127.0.0.3")) == ["10.9.9.9"]
    finally:
        internal.close()


async def test_identity_and_source_policies_are_keyed_per_user_and_source(
    resolver: Resolver, upstream: FakeUpstream
) -> None:
    rules = [
        _rule("eng", Context.DNS, 'identity.email == "eve@acme.test"', "block"),
        _rule("src", Context.DNS, "dns.src_ip == 10.0.0.66", "block"),
    ]
    resolver.apply(snapshot_for(rules, [OFFICE], [("u", "udp", f"127.0.0.1:{upstream.port}")]))
    eve = Identity(email="eve@acme.test")
    bob = Identity(email="bob@acme.test")
    args = {"protocol": "doh", "location_id": "off1ce0001"}
    assert _ips(await ask(resolver, "www.example.test", identity=eve, **args)) == ["0.0.0.0"]  # type: ignore[arg-type]
    assert _ips(await ask(resolver, "www.example.test", identity=bob, **args)) == ["192.0.2.10"]  # type: ignore[arg-type]
    assert _ips(await ask(resolver, "www.example.test", identity=eve, **args)) == ["0.0.0.0"]  # type: ignore[arg-type]
    assert _ips(await ask(resolver, "www.example.test", src="10.0.0.66")) == ["0.0.0.0"]
    assert _ips(await ask(resolver, "www.example.test", src="10.0.0.67")) == ["192.0.2.10"]


async def test_upstream_failover_health_and_servfail(
    resolver: Resolver, upstream: FakeUpstream
) -> None:
    dead = await FakeUpstream().start()
    dead.mode = "drop"
    try:
        ups = [
            ("dead", "udp", f"127.0.0.1:{dead.port}"),
            ("live", "udp", f"127.0.0.1:{upstream.port}"),
        ]
        resolver.apply(snapshot_for([], [OFFICE], ups))
        answer = await ask(resolver, "www.example.test")
        assert _ips(answer) == ["192.0.2.10"]
        assert len(dead.queries) == 1
        # The dead server is now in backoff: the next miss goes straight to the live one.
        assert _ips(await ask(resolver, "www.example.test", "AAAA")) == ["2001:db8::10"]
        assert len(dead.queries) == 1
        servers = {s.name: s for s in resolver.pool.all_servers()}
        assert servers["dead"].failures == 1 and servers["live"].failures == 0
        # Everything down: SERVFAIL with an extended error, quickly.
        upstream.mode = "drop"
        failed = await ask(resolver, "nothing.example.test", use_edns=0)
        assert failed.rcode() == dns.rcode.SERVFAIL
        assert failed.options[0].to_text().startswith("EDE 22")
    finally:
        dead.close()


async def test_no_upstream_configured_is_servfail_not_ready(resolver: Resolver) -> None:
    resolver.apply(snapshot_for([], [OFFICE], []))
    answer = await ask(resolver, "www.example.test", use_edns=0)
    assert answer.rcode() == dns.rcode.SERVFAIL
    assert answer.options[0].to_text().startswith("EDE 14")


async def test_identical_misses_share_one_upstream_query(
    resolver: Resolver, upstream: FakeUpstream
) -> None:
    resolver.apply(snapshot_for([], [OFFICE], [("u", "udp", f"127.0.0.1:{upstream.port}")]))
    wire = dns.message.make_query("www.example.test", "A").to_wire()
    pendings = [resolver.handle(wire, "udp", "127.0.0.2") for _ in range(20)]
    assert all(isinstance(p, Pending) for p in pendings)
    replies = await asyncio.gather(*(resolver.complete(p) for p in pendings))  # type: ignore[arg-type]
    assert all(_ips(dns.message.from_wire(r)) == ["192.0.2.10"] for r in replies)
    assert upstream.queries == [("udp", "www.example.test", "A")]


async def test_truncation_over_udp_and_tcp_retry_upstream(
    resolver: Resolver, upstream: FakeUpstream
) -> None:
    upstream.records[("big.example.test", "TXT")] = [f'"{"x" * 200} {i}"' for i in range(12)]
    resolver.apply(snapshot_for([], [OFFICE], [("u", "udp", f"127.0.0.1:{upstream.port}")]))
    udp = await ask(resolver, "big.example.test", "TXT", use_edns=0, payload=1232)
    assert udp.flags & dns.flags.TC and not udp.answer
    tcp = await ask(resolver, "big.example.test", "TXT", protocol="tcp", use_edns=0)
    assert not tcp.flags & dns.flags.TC and len(tcp.answer[0]) == 12
    # An upstream that truncates over UDP is asked again over TCP.
    upstream.mode = "truncate"
    answer = await ask(resolver, "www.example.test", "AAAA")
    assert _ips(answer) == ["2001:db8::10"]
    assert ("tcp", "www.example.test", "AAAA") in upstream.queries


async def test_encrypted_answers_are_padded_when_asked(
    resolver: Resolver, upstream: FakeUpstream
) -> None:
    resolver.apply(snapshot_for([], [OFFICE], [("u", "udp", f"127.0.0.1:{upstream.port}")]))
    padding = [dns.edns.GenericOption(dns.edns.PADDING, b"\x00" * 20)]
    wire = dns.message.make_query("www.example.test", "A", use_edns=0, options=padding).to_wire()
    out = resolver.handle(wire, "dot", "127.0.0.2")
    reply = await resolver.complete(out) if isinstance(out, Pending) else out
    assert isinstance(reply, bytes) and len(reply) % 468 == 0
    plain = resolver.handle(wire, "udp", "127.0.0.2")
    assert isinstance(plain, bytes) and len(plain) % 468 != 0


async def test_bad_input_gets_formerr_or_nothing(resolver: Resolver) -> None:
    resolver.apply(snapshot_for([], [OFFICE], []))
    assert resolver.handle(b"\x00\x01", "udp", "127.0.0.2") is None  # too short: dropped
    two_questions = bytearray(dns.message.make_query("a.test", "A").to_wire())
    two_questions[5] = 2
    reply = resolver.handle(bytes(two_questions), "udp", "127.0.0.2")
    assert isinstance(reply, bytes)
    assert dns.message.from_wire(reply, question_only=True).rcode() == dns.rcode.FORMERR
    loop = bytearray(dns.message.make_query("a.test", "A").to_wire())
    loop[12:14] = b"\xc0\x0c"  # a compression pointer to itself in the question
    reply = resolver.handle(bytes(loop), "udp", "127.0.0.2")
    assert isinstance(reply, bytes) and reply[3] & 0xF == dns.rcode.FORMERR
    axfr = await ask(resolver, "example.test", "AXFR")
    assert axfr.rcode() == dns.rcode.NOTIMP
    chaos = dns.message.make_query("version.bind", "TXT", rdclass="CH").to_wire()
    reply = resolver.handle(chaos, "udp", "127.0.0.2")
    assert isinstance(reply, bytes) and reply[3] & 0xF == dns.rcode.REFUSED


async def test_prefetch_refreshes_popular_entries_before_expiry(upstream: FakeUpstream) -> None:
    now = [1000.0]
    resolver = Resolver(clock=lambda: now[0])
    upstream.ttl = 100
    resolver.apply(snapshot_for([], [OFFICE], [("u", "udp", f"127.0.0.1:{upstream.port}")]))
    await ask(resolver, "www.example.test")
    for _ in range(3):  # popular: asked in three different seconds (repeats within one
        now[0] += 1  # second are served from the reply cache and do not count)
        await ask(resolver, "www.example.test")
    now[0] += 92  # last 10% of the TTL
    await ask(resolver, "www.example.test")
    await asyncio.sleep(0.2)
    assert resolver.prefetches == 1
    assert upstream.queries.count(("udp", "www.example.test", "A")) == 2
    now[0] += 10  # the old entry would have expired; the refreshed one serves
    before = len(upstream.queries)
    assert _ips(await ask(resolver, "www.example.test")) == ["192.0.2.10"]
    assert len(upstream.queries) == before


async def test_query_log_records_every_decision(upstream: FakeUpstream) -> None:
    log = QueryLog(None, "edge-1")
    resolver = Resolver(query_log=log)
    rules = [_rule("ads", Context.DNS, 'dns.fqdn == "ads.example.test"', "block")]
    resolver.apply(snapshot_for(rules, [OFFICE], [("u", "udp", f"127.0.0.1:{upstream.port}")]))
    await ask(resolver, "www.example.test")
    await ask(resolver, "www.example.test")
    await ask(resolver, "ads.example.test")
    await ask(resolver, "www.example.test", src="192.0.2.1")
    records = [QueryRecord(*r) for r in log.pending]
    assert [(r.decision, r.cached, r.rule_name, r.upstream) for r in records] == [
        ("allow", False, "", "u"),
        ("allow", True, "", "u"),
        ("block", False, "ads", ""),
        ("refused", False, "", ""),
    ]
    assert records[0].location_name == "office" and records[3].location_id == ""
    assert all(r.latency_us >= 0 for r in records)
    # Turned off in the team settings: nothing is logged, counters still count.
    resolver.apply(
        snapshot_for(rules, [OFFICE], [("u", "udp", f"127.0.0.1:{upstream.port}")],
                     version=2, query_log=False)
    )  # fmt: skip
    await ask(resolver, "www.example.test")
    assert len(log.pending) == 4
    exported = resolver.export()
    assert sum(n for *_k, n in exported["queries"]) == 5
    assert exported["upstreams"][0][:2] == ["u", "127.0.0.1"]


async def test_block_page_ip_and_block_reason(resolver: Resolver, upstream: FakeUpstream) -> None:
    rules = [
        _rule("ads", Context.DNS, 'dns.fqdn == "ads.example.test"', "block", block_reason="ads"),
        _rule("raw", Context.DNS, 'dns.fqdn == "raw.example.test"', "block", block_page="off"),
    ]
    resolver.apply(
        snapshot_for(rules, [OFFICE], [("u", "udp", f"127.0.0.1:{upstream.port}")],
                     block_page_ipv4=ipaddress.IPv4Address("192.0.2.80"))
    )  # fmt: skip
    page = await ask(resolver, "ads.example.test", use_edns=0)
    assert _ips(page) == ["192.0.2.80"]
    assert page.options[0].to_text() == "EDE 15 (Blocked): ads"
    assert _ips(await ask(resolver, "raw.example.test")) == ["0.0.0.0"]
