"""Compiler: typed fields per context, values, lists, regexes, and evaluation semantics."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.policy import (
    Context,
    ExpressionError,
    Identity,
    ListKind,
    PolicyCompileError,
    build_request,
    compile_expression,
    dns_request,
    http_request,
    make_list,
    network_request,
)
from ramparts.policy.request import RequestError

LISTS = {
    "blocked_list": make_list("blocked_list", ListKind.DOMAIN, ["example.com", "*.ads.net"]),
    "hosts": make_list("hosts", ListKind.HOST, ["exact.example.org"]),
    "nets": make_list("nets", ListKind.IP, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1-192.0.2.9"]),
    "urls": make_list("urls", ListKind.URL, ["example.com/admin", "http://Other.org/x/"]),
    "people": make_list("people", ListKind.EMAIL, ["Alice@Example.com"]),
}


def ok(expr: str, context: Context, request: dict[str, object]) -> bool:
    return compile_expression(expr, context, LISTS)(request)


def test_domains_match_name_and_parents_fqdn_is_exact() -> None:
    expr = 'any(dns.domains[*] == "example.com")'
    assert ok(expr, Context.DNS, dns_request("example.com"))
    assert ok(expr, Context.DNS, dns_request("a.b.EXAMPLE.com."))
    assert not ok(expr, Context.DNS, dns_request("notexample.com"))
    assert not ok(expr, Context.DNS, dns_request("example.com.evil.net"))
    assert ok('dns.fqdn == "example.com"', Context.DNS, dns_request("Example.COM."))
    assert not ok('dns.fqdn == "example.com"', Context.DNS, dns_request("a.example.com"))


def test_domain_list_blocks_subdomains_host_list_is_exact() -> None:
    expr = "any(dns.domains[*] in $blocked_list)"
    assert ok(expr, Context.DNS, dns_request("a.b.example.com"))
    assert ok(expr, Context.DNS, dns_request("x.ads.net"))
    assert not ok(expr, Context.DNS, dns_request("example.org"))
    assert ok("dns.fqdn in $hosts", Context.DNS, dns_request("exact.example.org"))
    assert not ok("dns.fqdn in $hosts", Context.DNS, dns_request("a.exact.example.org"))
    assert ok('dns.fqdn in {"a.example" "b.example"}', Context.DNS, dns_request("b.example"))


def test_query_type_and_regex() -> None:
    assert ok('dns.query_rtype == "aaaa"', Context.DNS, dns_request("x.org", "AAAA"))
    assert not ok('dns.query_rtype == "AAAA"', Context.DNS, dns_request("x.org", "A"))
    # Names are lower-cased, so patterns on them are case-blind.
    assert ok('dns.fqdn matches "^API\\."', Context.DNS, dns_request("api.example.com"))
    assert not ok('dns.fqdn matches "^api\\."', Context.DNS, dns_request("xapi.example.com"))


def test_http_fields_from_uri() -> None:
    req = http_request("https://Shop.Example.com:8443/admin/users?q=1", "post")
    assert ok('http.request.uri.path matches "^/admin"', Context.HTTP, req)
    assert ok('http.request.method in {"POST" "PUT"}', Context.HTTP, req)
    assert ok('http.request.host == "shop.example.com"', Context.HTTP, req)
    assert ok('any(http.request.domains[*] == "example.com")', Context.HTTP, req)
    assert ok('http.request.uri.query == "q=1"', Context.HTTP, req)
    assert not ok('http.request.uri.path matches "^/users"', Context.HTTP, req)


def test_url_lists_compare_without_scheme_and_query() -> None:
    assert ok(
        "http.request.uri in $urls", Context.HTTP, http_request("https://example.com/admin?x")
    )
    assert ok("http.request.uri in $urls", Context.HTTP, http_request("http://other.org/x"))
    assert not ok("http.request.uri in $urls", Context.HTTP, http_request("http://example.com/"))


def test_network_ips_ports() -> None:
    req = network_request("10.1.2.3", 8080, "TCP")
    assert ok("net.dst.ip in {10.0.0.0/8 192.168.1.1}", Context.NETWORK, req)
    assert ok("net.dst.port in {80 443 8000..8080}", Context.NETWORK, req)
    assert not ok("net.dst.port in {80 443 8000..8079}", Context.NETWORK, req)
    assert ok("net.dst.port >= 1024 and net.dst.port < 8081", Context.NETWORK, req)
    assert not ok("net.dst.port > 8080", Context.NETWORK, req)
    assert ok("net.dst.ip in $nets", Context.NETWORK, req)
    assert ok("net.dst.ip == 10.0.0.0/8", Context.NETWORK, req)
    assert ok('net.protocol == "tcp"', Context.NETWORK, req)
    assert ok("net.dst.port == 22", Context.NETWORK, network_request("192.168.1.1", 22))
    v6 = network_request("2001:db8::5", 443)
    assert ok("net.dst.ip in $nets", Context.NETWORK, v6)
    assert not ok("net.dst.ip in {10.0.0.0/8}", Context.NETWORK, v6)
    assert ok("net.dst.ip in $nets", Context.NETWORK, network_request("192.0.2.9", 1))
    # IPv4-mapped IPv6 counts as IPv4.
    assert ok("net.dst.ip == 10.1.2.3", Context.NETWORK, network_request("::ffff:10.1.2.3", 1))
    assert ok("net.dst.ip != 10.1.2.4", Context.NETWORK, req)


def test_identity_in_every_context_and_absent_identity() -> None:
    who = Identity(email="Bob@Example.com", groups=("eng", "ops"), name="Bob", idp="okta")
    expr = 'identity.email matches ".*@example\\.com$" and any(identity.groups[*] == "eng")'
    assert ok(expr, Context.DNS, dns_request("x.org", identity=who))
    assert ok(expr, Context.HTTP, http_request("http://x.org/", identity=who))
    assert ok(expr, Context.NETWORK, network_request("1.1.1.1", 53, identity=who))
    assert ok('any(identity.groups[*].name in {"ops"})', Context.IDENTITY, who.fields())
    assert ok(
        "identity.email in $people", Context.IDENTITY, {"identity.email": "alice@example.com"}
    )
    anonymous = dns_request("x.org")
    assert not ok(expr, Context.DNS, anonymous)
    # A comparison on an absent field is false, even "!="; "not (==)" is true.
    assert not ok('identity.email != "a@b.c"', Context.DNS, anonymous)
    assert ok('not identity.email == "a@b.c"', Context.DNS, anonymous)


def test_post_resolution_fields() -> None:
    req = dns_request("x.org", resolved_ips=["10.9.9.9", "1.1.1.1"], cname=["Edge.CDN.net."])
    assert ok("any(dns.resolved_ips[*] in $nets)", Context.DNS_POST, req)
    assert ok('any(dns.cname[*] == "edge.cdn.net")', Context.DNS_POST, req)
    assert not ok("any(dns.resolved_ips[*] in {8.8.8.8})", Context.DNS_POST, req)
    assert ok("any(dns.resolved_ips[*] != 10.9.9.9)", Context.DNS_POST, req)


def test_boolean_combinators() -> None:
    req = network_request("10.0.0.1", 22)
    assert ok("net.dst.port == 1 or net.dst.port == 2 or net.dst.port == 22", Context.NETWORK, req)
    assert not ok(
        "net.dst.port == 22 and net.dst.port == 2 and net.dst.port == 22", Context.NETWORK, req
    )
    assert ok(
        "net.dst.port == 22 && !(net.dst.port == 23) || net.dst.port == 1", Context.NETWORK, req
    )


@pytest.mark.parametrize(
    ("expr", "context", "column", "fragment"),
    [
        ('net.dst.port == "x"', Context.NETWORK, 17, "not a string"),
        ('dns.fqdn == "x.org"', Context.NETWORK, 1, "not available in network"),
        ("net.dst.port == 1", Context.IDENTITY, 1, "not available in identity"),
        ("any(dns.resolved_ips[*] == 1.1.1.1)", Context.DNS, 5, "only in: dns_post"),
        ("any(dns.domains[*] in $nope)", Context.DNS, 23, "unknown list $nope"),
        ('net.dst.ip matches "10\\."', Context.NETWORK, 1, "'matches' needs a string"),
        ('dns.fqdn matches "(a)\\1"', Context.DNS, 19, "backreferences"),
        ('dns.fqdn matches "a(?=b)"', Context.DNS, 19, "lookahead"),
        ('dns.fqdn matches "(a+)+$"', Context.DNS, 19, "exponential"),
        ('dns.fqdn matches "a{2000}"', Context.DNS, 19, "repetition"),
        ('dns.fqdn matches "[a"', Context.DNS, 19, "invalid regex"),
        ("net.dst.port > 70000", Context.NETWORK, 16, "out of range"),
        ('dns.fqdn < "a"', Context.DNS, 1, "needs an integer field"),
        ('dns.domains == "a.org"', Context.DNS, 1, "is an array"),
        ('any(dns.fqdn[*] == "a.org")', Context.DNS, 5, "not an array"),
        ('dns.fqdn == "not a name"', Context.DNS, 13, "not a valid domain"),
        ("dns.src_ip in $blocked_list", Context.DNS, 15, "takes lists of kind: ip"),
        ('net.dst.ip == "1.1.1.1"', Context.NETWORK, 15, "not a string"),
        ("dns.fqdm == 1", Context.DNS, 1, "'dns.fqdn'"),
        ("dns.content_category == 1", Context.DNS, 1, "reserved"),
        ("device.os == 1", Context.DNS, 1, "reserved"),
        ("net.dst.port in {90..80}", Context.NETWORK, 18, "downwards"),
    ],
)
def test_compile_errors_are_positioned(
    expr: str, context: Context, column: int, fragment: str
) -> None:
    with pytest.raises(PolicyCompileError) as info:
        compile_expression(expr, context, LISTS)
    assert info.value.column == column
    assert fragment in str(info.value)


def test_build_request_from_strings() -> None:
    req = build_request(
        {"dns.fqdn": "A.Example.com.", "dns.query_rtype": "aaaa", "dns.src_ip": "10.0.0.1"}
    )
    assert req["dns.domains"] == ("a.example.com", "example.com", "com")
    pred = compile_expression(
        "any(dns.domains[*] in $blocked_list) and dns.src_ip in $nets"
        ' and dns.query_rtype == "AAAA"',
        Context.DNS,
        LISTS,
    )
    assert pred(req)
    http = build_request({"http.request.uri": "https://example.com/admin", "net.dst.port": "443"})
    assert http["http.request.host"] == "example.com"
    assert http["net.dst.port"] == 443
    with pytest.raises(RequestError):
        build_request({"nope": 1})
    with pytest.raises(RequestError):
        build_request({"net.dst.port": "x"})
    with pytest.raises(RequestError):
        build_request({"identity.groups": "eng"})


_SOUP = [
    "dns.fqdn",
    "dns.domains[*]",
    "net.dst.port",
    "net.dst.ip",
    "identity.groups[*]",
    "identity.email",
    "http.request.uri",
    "any(",
    "(",
    ")",
    "==",
    "!=",
    "<",
    "in",
    "matches",
    "and",
    "or",
    "not",
    '"example.com"',
    '"(a)\\1"',
    '"[x"',
    "22",
    "70000",
    "10.0.0.0/8",
    "{80 443}",
    "{1..2}",
    "$blocked_list",
    "$nets",
    "$nope",
    '"x"',
    '{"a.org"}',
]


@settings(max_examples=600, deadline=None)
@given(
    st.lists(st.sampled_from(_SOUP), max_size=14).map(" ".join),
    st.sampled_from(list(Context)),
)
def test_fuzz_compile_raises_only_expression_errors(source: str, context: Context) -> None:
    try:
        pred = compile_expression(source, context, LISTS)
    except ExpressionError as exc:
        err = exc
    else:
        err = None
    if err is not None:
        assert err.line >= 1
        return
    # Whatever compiled evaluates on any request without raising.
    for req in (dns_request("a.example.com"), network_request("10.0.0.1", 22), {}):
        assert pred(req) in (True, False)
