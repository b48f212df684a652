"""config/proxy.py: the endpoint lookup by source address, and validation of typed values."""

from __future__ import annotations

import hashlib
import ipaddress
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.config.proxy import (
    DEFAULT_CONNECT_PORTS,
    MAX_CONNECT_PORTS,
    EndpointKind,
    ProxyConfig,
    ProxyConfigError,
    ProxyEndpointEntry,
    empty_proxy,
    endpoint_entry,
    parse_network,
    parse_ports,
    token_digest,
)
from ramparts.config.snapshot import Snapshot
from ramparts.proxy.pac import validate_pac


def _entry(endpoint_id: str, *networks: str, kind: str = "source_ip") -> ProxyEndpointEntry:
    return endpoint_entry(
        id=endpoint_id,
        name=endpoint_id,
        kind=kind,
        networks=networks,
        allow_private_destinations=False,
        connect_ports=(),
        tls_inspection=False,
        pac="",
    )


def _config(*entries: ProxyEndpointEntry) -> ProxyConfig:
    return ProxyConfig(MappingProxyType({e.id: e for e in entries}), MappingProxyType({}))


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_longest_prefix_wins_ipv4_and_ipv6() -> None:
    config = _config(
        _entry("wide", "10.0.0.0/8", "2001:db8::/32"),
        _entry("narrow", "10.1.2.0/24", "2001:db8:1::/48"),
        _entry("host", "10.1.2.3", "2001:db8:1::7"),
        _entry("roaming", kind="authorization"),
    )
    assert config.endpoint_for_source(ip("10.9.9.9")).id == "wide"  # type: ignore[union-attr]
    assert config.endpoint_for_source(ip("10.1.2.9")).id == "narrow"  # type: ignore[union-attr]
    assert config.endpoint_for_source(ip("10.1.2.3")).id == "host"  # type: ignore[union-attr]
    assert config.endpoint_for_source(ip("11.0.0.1")) is None
    assert config.endpoint_for_source(ip("2001:db8:2::1")).id == "wide"  # type: ignore[union-attr]
    assert config.endpoint_for_source(ip("2001:db8:1::8")).id == "narrow"  # type: ignore[union-attr]
    assert config.endpoint_for_source(ip("2001:db8:1::7")).id == "host"  # type: ignore[union-attr]
    assert config.endpoint_for_source(ip("2001:db9::1")) is None
    # A dual-stack socket reports IPv4 clients as IPv4-mapped IPv6 addresses.
    assert config.endpoint_for_source(ip("::ffff:10.1.2.3")).id == "host"  # type: ignore[union-attr]
    assert [e.id for e in config.authorization_endpoints()] == ["roaming"]


def test_catch_all_networks_and_empty_config() -> None:
    config = _config(_entry("all4", "0.0.0.0/0"), _entry("all6", "::/0"))
    assert config.endpoint_for_source(ip("203.0.113.1")).id == "all4"  # type: ignore[union-attr]
    assert config.endpoint_for_source(ip("::1")).id == "all6"  # type: ignore[union-attr]
    empty = empty_proxy()
    assert empty.endpoint_for_source(ip("127.0.0.1")) is None
    assert empty.authorization_endpoints() == ()
    assert Snapshot(1, "acme", "acme.localhost", "fp").proxy == empty


@given(st.ip_addresses())
def test_lookup_agrees_with_a_linear_scan(address: ipaddress.IPv4Address) -> None:
    entries = [
        _entry("a", "0.0.0.0/1", "fe80::/10"),
        _entry("b", "10.0.0.0/8", "::/1"),
        _entry("c", "10.128.0.0/9", "::ffff:0:0/96"),
        _entry("d", "192.168.0.0/16", "2001:db8::/32"),
        _entry("e", "192.168.1.0/24", "2001:db8::/64"),
    ]
    config = _config(*entries)
    found = config.endpoint_for_source(address)
    candidates = [(net.prefixlen, e.id) for e in entries for net in e.networks if address in net]
    if address.version == 6 and address.ipv4_mapped is not None:  # type: ignore[union-attr]
        mapped = address.ipv4_mapped  # type: ignore[union-attr]
        candidates = [(n.prefixlen, e.id) for e in entries for n in e.networks if mapped in n]
    expected = max(candidates)[1] if candidates else None
    assert (found.id if found else None) == expected


def test_endpoint_entry_checks_kind_networks_and_ports() -> None:
    entry = endpoint_entry(
        id="x",
        name="x",
        kind="source_ip",
        networks=["10.1.2.3/8", "10.0.0.0/8", " 2001:db8::1 "],
        allow_private_destinations=True,
        connect_ports=["443", 8443, 443],
        tls_inspection=False,
        pac="",
    )
    assert entry.kind is EndpointKind.SOURCE_IP
    assert entry.networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::1/128"),
    )
    assert entry.connect_ports == frozenset({443, 8443})
    with pytest.raises(ProxyConfigError, match="at least one source network"):
        _entry("y")
    with pytest.raises(ProxyConfigError, match="no source network"):
        _entry("z", "10.0.0.0/8", kind="authorization")
    with pytest.raises(ProxyConfigError, match="kind"):
        _entry("w", "10.0.0.0/8", kind="transparent")


def test_ports_defaults_and_limits() -> None:
    assert parse_ports([]) == DEFAULT_CONNECT_PORTS == (443,)
    assert parse_ports([8443, "22", 22]) == (22, 8443)
    for bad in (0, 65536, -1, "http", "1e3", True, "٣"):
        with pytest.raises(ProxyConfigError):
            parse_ports([bad])  # type: ignore[list-item]
    assert len(parse_ports(range(1, MAX_CONNECT_PORTS + 1))) == MAX_CONNECT_PORTS
    with pytest.raises(ProxyConfigError, match="at most"):
        parse_ports(range(1, MAX_CONNECT_PORTS + 2))


def test_token_digest_is_sha256_hex() -> None:
    assert token_digest("rpx_abc") == hashlib.sha256(b"rpx_abc").hexdigest()


@given(st.text(max_size=80))
def test_parse_network_raises_only_its_error(text: str) -> None:
    try:
        network = parse_network(text)
    except ProxyConfigError:
        return
    assert isinstance(network, ipaddress.IPv4Network | ipaddress.IPv6Network)


@given(st.lists(st.one_of(st.integers(), st.text(max_size=8), st.booleans()), max_size=80))
def test_parse_ports_raises_only_its_error(values: list[int | str]) -> None:
    try:
        ports = parse_ports(values)
    except ProxyConfigError:
        return
    assert ports and all(0 < p < 65536 for p in ports) and list(ports) == sorted(set(ports))


@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_validate_pac_raises_only_its_error(text: str) -> None:
    try:
        out = validate_pac(text)
    except ProxyConfigError:
        return
    assert "FindProxyForURL" in out
