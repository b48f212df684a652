"""Ingress rules: hostname/path matching, order semantics, the lookup tables vs a linear scan."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.tunnel.connector.errors import ConfigError
from ramparts.tunnel.connector.ingress import IngressRules, normalise_host, parse_ingress
from ramparts.tunnel.connector.origin_request import OriginRequest
from ramparts.tunnel.connector.services import HttpService, StatusService


def rules_of(*specs: tuple[str | None, str | None]) -> IngressRules:
    """Rules with the given (hostname, path), each to a distinct origin port, then a catch-all."""
    raw: list[dict[str, object]] = []
    for i, (hostname, path) in enumerate(specs):
        rule: dict[str, object] = {"service": f"http://127.0.0.1:{8000 + i}"}
        if hostname is not None:
            rule["hostname"] = hostname
        if path is not None:
            rule["path"] = path
        raw.append(rule)
    raw.append({"service": "http_status:404"})
    return parse_ingress(raw)


def matched(rules: IngressRules, host: str, path: str = "/") -> int:
    index, rule = rules.match(host, path)
    assert rules[index] is rule
    return index


# --- hostnames ---------------------------------------------------------------------------------


def test_exact_hostname_and_catch_all() -> None:
    rules = rules_of(("app.example.com", None))
    assert matched(rules, "app.example.com") == 0
    assert matched(rules, "other.example.com") == 1
    assert matched(rules, "") == 1


@pytest.mark.parametrize(
    "host",
    ["APP.Example.COM", "app.example.com:8443", "app.example.com.", "App.Example.Com.:443"],
)
def test_host_is_compared_without_case_port_or_final_dot(host: str) -> None:
    assert matched(rules_of(("app.example.com", None)), host) == 0


def test_rule_hostname_case_and_final_dot_are_normalised() -> None:
    rules = rules_of(("App.Example.COM.", None))
    assert rules[0].hostname == "app.example.com"
    assert matched(rules, "app.example.com") == 0


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("a.example.com", 0),
        ("a.b.c.example.com", 0),  # one or more labels, as cloudflared's suffix match
        ("A.EXAMPLE.COM:80", 0),
        ("example.com", 1),  # the apex is not a subdomain
        ("notexample.com", 1),
        ("a.example.com.evil.net", 1),
        ("a.example.co", 1),
    ],
)
def test_wildcard_matches_subdomains_only(host: str, expected: int) -> None:
    assert matched(rules_of(("*.example.com", None)), host) == expected


def test_star_hostname_is_a_catch_all() -> None:
    rules = parse_ingress(
        [
            {"hostname": "a.example.com", "service": "hello_world"},
            {"hostname": "*", "service": "http_status:404"},
        ]
    )
    assert rules[1].is_catch_all
    assert rules[1].hostname is None
    assert matched(rules, "anything.net") == 1


def test_unicode_rule_matches_its_punycode_and_unicode_hosts() -> None:
    rules = rules_of(("bücher.example", None), ("*.straße.example", None))
    assert rules[0].punycode_hostname == "xn--bcher-kva.example"
    assert matched(rules, "xn--bcher-kva.example") == 0
    assert matched(rules, "BÜCHER.example") == 0
    assert matched(rules, "www.xn--strae-oqa.example") == 1
    assert matched(rules, "www.straße.example") == 1


@pytest.mark.parametrize(
    ("host", "normal"),
    [
        ("Example.COM", "example.com"),
        ("example.com:8080", "example.com"),
        ("[::1]:443", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("example.com.", "example.com"),
        ("", ""),
    ],
)
def test_normalise_host(host: str, normal: str) -> None:
    assert normalise_host(host) == normal


# --- order -------------------------------------------------------------------------------------


def test_earlier_wildcard_beats_later_exact() -> None:
    rules = rules_of(("*.example.com", None), ("app.example.com", None))
    assert matched(rules, "app.example.com") == 0


def test_earlier_exact_beats_later_wildcard() -> None:
    rules = rules_of(("app.example.com", None), ("*.example.com", None))
    assert matched(rules, "app.example.com") == 0
    assert matched(rules, "web.example.com") == 1


def test_shorter_wildcard_first_beats_longer_one_later() -> None:
    rules = rules_of(("*.example.com", None), ("*.b.example.com", None))
    assert matched(rules, "x.b.example.com") == 0
    rules = rules_of(("*.b.example.com", None), ("*.example.com", None))
    assert matched(rules, "x.b.example.com") == 0
    assert matched(rules, "x.c.example.com") == 1
    assert matched(rules, "b.example.com") == 1


def test_exact_rule_whose_path_fails_falls_through_to_later_rules() -> None:
    rules = rules_of(
        ("app.example.com", "^/api/"), ("*.example.com", None), ("app.example.com", None)
    )
    assert matched(rules, "app.example.com", "/api/x") == 0
    assert matched(rules, "app.example.com", "/web") == 1


def test_hostless_path_rule_applies_to_every_host_in_order() -> None:
    rules = rules_of((None, "^/healthz$"), ("app.example.com", None), (None, "^/metrics"))
    assert matched(rules, "app.example.com", "/healthz") == 0
    assert matched(rules, "app.example.com", "/metrics") == 1
    assert matched(rules, "other.net", "/metrics") == 2
    assert matched(rules, "other.net", "/healthz") == 0
    assert matched(rules, "other.net", "/") == 3


def test_duplicate_hostname_first_wins() -> None:
    rules = rules_of(("app.example.com", None), ("app.example.com", None))
    assert matched(rules, "app.example.com") == 0


# --- paths -------------------------------------------------------------------------------------


def test_path_is_searched_not_anchored() -> None:
    rules = rules_of((None, "/api"), (None, r"^/static/.*\.css$"))
    assert matched(rules, "h", "/api") == 0
    assert matched(rules, "h", "/v1/api/x") == 0  # searched anywhere, as Go's MatchString
    assert matched(rules, "h", "/static/site.css") == 1
    assert matched(rules, "h", "/x/static/site.css") == 2
    assert matched(rules, "h", "/static/site.css.map") == 2


def test_empty_path_means_any_path() -> None:
    rules = parse_ingress(
        [
            {"hostname": "a.example.com", "path": "", "service": "hello_world"},
            {"service": "http_status:404"},
        ]
    )
    assert rules[0].path is None
    assert matched(rules, "a.example.com", "/whatever") == 0


def test_path_only_last_rule_is_not_a_catch_all() -> None:
    with pytest.raises(ConfigError, match="the last rule must match every request"):
        parse_ingress([{"path": "^/", "service": "hello_world"}])


def test_many_hostless_path_rules_keep_their_order() -> None:
    specs: list[tuple[str | None, str | None]] = [(None, f"^/hook{i}$") for i in range(150)]
    specs.insert(70, ("app.example.com", None))
    specs.append((None, "^/hook"))  # matches every hook path, but after the exact ones
    rules = rules_of(*specs)
    assert matched(rules, "other.net", "/hook3") == 3
    assert matched(rules, "other.net", "/hook149") == 150
    assert matched(rules, "app.example.com", "/hook5") == 5
    assert matched(rules, "app.example.com", "/hook100") == 70
    assert matched(rules, "other.net", "/hook999") == 151
    assert matched(rules, "other.net", "/") == 152


@pytest.mark.parametrize(
    ("patterns", "cases"),
    [
        # global flags cannot be combined into one pattern
        (["(?i)^/admin", "(?i)^/login"], [("/ADMIN", 0), ("/Login", 1), ("/x", 2)]),
        # neither can repeated group names
        (["^/(?P<v>a)", "^/(?P<v>b)"], [("/a", 0), ("/b", 1), ("/c", 2)]),
    ],
)
def test_path_rules_that_cannot_be_combined_still_match(
    patterns: list[str], cases: list[tuple[str, int]]
) -> None:
    rules = rules_of(*[(None, p) for p in patterns])
    for path, index in cases:
        assert matched(rules, "h", path) == index


def test_shadowed_rules() -> None:
    rules = rules_of(
        ("*.example.com", None),
        (None, "^/a"),
        (None, "^/b"),
        ("app.example.com", None),  # never used: rule 1 takes its host first
        ("*.b.example.com", None),  # never used either
        ("x.example.net", "^/api"),
        ("x.example.net", None),  # used: the earlier rule has a path
        ("x.example.net", None),  # never used
        ("*.example.net", None),
    )
    pairs = [(rule.number, earlier.number) for rule, earlier in rules.shadowed()]
    assert pairs == [(4, 1), (5, 1), (8, 7)]


# --- rule data ---------------------------------------------------------------------------------


def test_rule_carries_service_and_origin_request() -> None:
    defaults = OriginRequest(connect_timeout=5.0)
    rules = parse_ingress(
        [
            {
                "hostname": "app.example.com",
                "service": "https://10.0.0.5:8443",
                "originRequest": {"noTLSVerify": True},
            },
            {"service": "http_status:404"},
        ],
        defaults,
    )
    _, rule = rules.match("app.example.com", "/")
    assert rule.service == HttpService("https://10.0.0.5:8443", True, "10.0.0.5", 8443)
    assert rule.origin_request == OriginRequest(connect_timeout=5.0, no_tls_verify=True)
    assert rule.number == 1
    _, last = rules.match("x", "/")
    assert last.service == StatusService(404)
    assert last.origin_request == defaults
    assert rules.defaults == defaults


def test_single_and_unconfigured() -> None:
    service = HttpService("http://127.0.0.1:8000", False, "127.0.0.1", 8000)
    single = IngressRules.single(service)
    assert len(single) == 1
    assert single.match("any.host", "/x") == (0, single[0])
    assert IngressRules.unconfigured().match("h", "/")[1].service == StatusService(503)


def test_rules_compare_by_content() -> None:
    assert rules_of(("a.example.com", "^/x")) == rules_of(("a.example.com", "^/x"))
    assert rules_of(("a.example.com", "^/x")) != rules_of(("a.example.com", "^/y"))


# --- tables agree with the rule-by-rule definition (hypothesis) -------------------------------

LABELS = ["a", "b", "app", "example", "com", "net", "xn--bcher-kva"]
hostnames = st.one_of(
    st.none(),
    st.lists(st.sampled_from(LABELS), min_size=1, max_size=4).map(".".join),
    st.lists(st.sampled_from(LABELS), min_size=1, max_size=3).map(lambda ls: "*." + ".".join(ls)),
)
paths = st.one_of(st.none(), st.sampled_from(["^/api", "/x", "^/$", r"\.css$", "a"]))
hosts = st.one_of(
    st.lists(st.sampled_from([*LABELS, "A", "APP", "Example"]), min_size=0, max_size=5).map(
        ".".join
    ),
    st.tuples(
        st.lists(st.sampled_from(LABELS), min_size=1, max_size=5).map(".".join),
        st.sampled_from(["", ".", ":443", ".:80"]),
    ).map("".join),
    st.text(max_size=30),
)
request_paths = st.one_of(
    st.sampled_from(["/", "/api/x", "/x", "/a.css", "/v/api"]), st.text(max_size=20)
)


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(st.tuples(hostnames, paths), max_size=12).filter(
        lambda specs: all(h is not None or p is not None for h, p in specs)
    ),
    host=hosts,
    path=request_paths,
)
def test_match_equals_first_matching_rule(
    specs: list[tuple[str | None, str | None]], host: str, path: str
) -> None:
    rules = rules_of(*specs)
    expected = next(rule.index for rule in rules if rule.matches(host, path))
    assert rules.match(host, path)[0] == expected
    assert expected not in {rule.index for rule, _ in rules.shadowed()}


@settings(max_examples=300, deadline=None)
@given(host=st.text(), path=st.text())
def test_match_never_raises(host: str, path: str) -> None:
    rules = rules_of(
        ("app.example.com", None), ("*.example.com", "^/api"), (None, "x"), ("bücher.example", None)
    )
    index, rule = rules.match(host, path)
    assert 0 <= index < len(rules)
    assert rule.matches(host, path)
