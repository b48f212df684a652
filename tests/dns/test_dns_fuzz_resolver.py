"""Hypothesis: whatever arrives from the network, the resolver, the stream framing, the DoH
handler and the config parsers return a result or raise their own error, nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress

import dns.message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.config.dns import DnsConfigError, parse_network, parse_upstream
from ramparts.dns.listeners.doh import DohHandler, HttpAnswer, min_ttl
from ramparts.dns.listeners.stream import StreamConnection, _Counter
from ramparts.dns.locations import LocationTable
from ramparts.dns.resolver import Pending, Resolver
from ramparts.policy import Context, PolicyRule

from .conftest import snapshot_for

RULES = [
    PolicyRule("b", "b", Context.DNS, 'any(dns.domains[*] == "ads.test")', "block"),
    PolicyRule(
        "o",
        "o",
        Context.DNS,
        'dns.fqdn == "o.test"',
        "override",
        settings={"override_ips": "192.0.2.1"},
    ),
    PolicyRule("s", "s", Context.DNS, 'dns.query_rtype == "TXT"', "safesearch"),
    PolicyRule("p", "p", Context.DNS_POST, "any(dns.resolved_ips[*] == 192.0.2.9)", "block"),
]


def _resolver() -> Resolver:
    resolver = Resolver()
    resolver.apply(snapshot_for(RULES, [("loc0000001", "office", ["127.0.0.0/8", "::1/128"])], []))
    return resolver


RESOLVER = _resolver()


def _mutations() -> st.SearchStrategy[bytes]:
    base = st.sampled_from(
        [
            dns.message.make_query("www.ads.test", "A").to_wire(),
            dns.message.make_query("o.test", "AAAA", use_edns=0).to_wire(),
            dns.message.make_query("x.test", "TXT", want_dnssec=True).to_wire(),
        ]
    )
    edits = st.dictionaries(st.integers(0, 80), st.integers(0, 255), max_size=6)
    return st.tuples(base, edits).map(lambda t: bytes(t[1].get(i, b) for i, b in enumerate(t[0])))


@settings(max_examples=400, deadline=None)
@given(
    packet=st.one_of(st.binary(max_size=600), _mutations()),
    protocol=st.sampled_from(["udp", "tcp", "dot", "doh"]),
)
def test_handle_never_raises(packet: bytes, protocol: str) -> None:
    out = RESOLVER.handle(packet, protocol, "127.0.0.1", None)
    assert out is None or isinstance(out, bytes | Pending)
    if isinstance(out, bytes):
        assert len(out) >= 12 and out[2] & 0x80  # a response
        if protocol == "udp":
            assert len(out) <= 1232


class _Transport:
    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 5353) if name == "peername" else None

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(st.binary(max_size=300), max_size=8))
def test_stream_framing_never_raises(chunks: list[bytes]) -> None:
    async def run() -> None:
        connection = StreamConnection(RESOLVER, "tcp", _Counter())
        transport = _Transport()
        connection.connection_made(transport)  # type: ignore[arg-type]
        for chunk in chunks:
            if transport.closed:
                break
            connection.data_received(chunk)
        connection.connection_lost(None)

    asyncio.run(run())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "\x00"]),
    target=st.text(max_size=120),
    content_type=st.text(max_size=40),
    body=st.binary(max_size=200),
)
def test_doh_handler_never_raises(method: str, target: str, content_type: str, body: bytes) -> None:
    handler = DohHandler(RESOLVER)

    async def run() -> HttpAnswer:
        headers = {"content-type": content_type, "host": target[:30]}
        return await asyncio.wait_for(
            handler.answer(method, target, headers, body, "127.0.0.1", None), 2
        )

    answer = asyncio.run(run())
    assert 200 <= answer.status < 600


@given(st.binary(max_size=200))
def test_min_ttl_never_raises(data: bytes) -> None:
    result = min_ttl(data)
    assert result is None or result >= 0


@given(
    st.text(max_size=60),
    st.sampled_from(["udp", "tcp", "dot", "doh", "x"]),
    st.lists(st.text(max_size=20), max_size=3),
)
def test_upstream_parser_result_or_config_error(address: str, kind: str, boot: list[str]) -> None:
    try:
        entry = parse_upstream("u", kind, address, boot)
    except DnsConfigError:
        return
    assert entry.addresses and all(ipaddress.ip_address(a) for a in entry.addresses)
    assert 0 < entry.port < 65536


@given(st.text(max_size=50))
def test_network_parser_and_source_lookup(text: str) -> None:
    with contextlib.suppress(DnsConfigError):
        parse_network(text)
    table = LocationTable(snapshot_for([], [("l", "l", ["10.0.0.0/8"])], []).dns, "acme.test")
    assert table.by_source(text) is None or text.startswith("10.") or "::ffff:10." in text.lower()
    assert table.id_from_server_name(text) is None or text.lower().rstrip(".").endswith(
        ".dns.acme.test"
    )
