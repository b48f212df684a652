"""Policy sets: precedence, default decisions, errors naming rules, and index == linear scan."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.policy import (
    Context,
    Identity,
    ListKind,
    PolicyRule,
    PolicyRuleError,
    compile_policy_set,
    dns_request,
    make_list,
    network_request,
)
from ramparts.policy.compiler import compile_expression
from ramparts.policy.index import guard_of

LISTS = {
    "ads": make_list("ads", ListKind.DOMAIN, ["ads.example", "tracker.test"]),
    "corp": make_list("corp", ListKind.HOST, ["intranet.corp.example"]),
}


def rule(
    rid: str, expr: str, action: str = "block", precedence: int = 0, **kw: object
) -> PolicyRule:
    return PolicyRule(
        rid,
        f"rule {rid}",
        kw.pop("phase", Context.DNS),
        expr,
        action,  # type: ignore[arg-type]
        precedence,
        **kw,
    )  # type: ignore[arg-type]


def test_first_match_by_precedence_and_default() -> None:
    policies = compile_policy_set(
        [
            rule("late", "any(dns.domains[*] in $ads)", "block", 20),
            rule("early", 'dns.fqdn == "x.ads.example"', "allow", 10),
            rule("off", 'dns.fqdn == "y.ads.example"', "allow", 1, enabled=False),
            rule("ovr", "dns.fqdn in $corp", "override", 30, settings={"override_ips": "10.0.0.5"}),
        ],
        LISTS,
    )
    d = policies.evaluate(Context.DNS, dns_request("x.ads.example"))
    assert d.action == "allow"
    assert d.rule is not None
    assert d.rule.id == "early"
    d = policies.evaluate(Context.DNS, dns_request("y.ads.example"))
    assert d.action == "block"
    assert d.rule is not None
    assert d.rule.id == "late"
    d = policies.evaluate(Context.DNS, dns_request("intranet.corp.example"))
    assert d.settings == {"override_ips": "10.0.0.5"}
    assert len({d, d}) == 1  # decisions are hashable (logs, caches) despite dict settings
    d = policies.evaluate(Context.DNS, dns_request("fine.example"))
    assert d.action == "allow"
    assert not d.matched
    assert d.rule is None
    resolver = policies.evaluate(Context.DNS_RESOLVER, dns_request("fine.example"))
    assert resolver.action == "resolve"
    assert not resolver.matched
    assert [r.id for r in policies[Context.DNS].matching(dns_request("x.ads.example"))] == [
        "early",
        "late",
    ]


def test_identity_expression_is_anded() -> None:
    policies = compile_policy_set(
        [
            rule(
                "eng",
                'dns.fqdn == "git.corp.example"',
                "allow",
                1,
                identity='any(identity.groups[*] == "eng")',
            ),
            rule("all", 'any(dns.domains[*] == "corp.example")', "block", 2),
        ],
        LISTS,
    )
    eng = Identity(email="a@corp.example", groups=("eng",))
    assert (
        policies.evaluate(Context.DNS, dns_request("git.corp.example", identity=eng)).action
        == "allow"
    )
    assert policies.evaluate(Context.DNS, dns_request("git.corp.example")).action == "block"


def test_identity_only_rule() -> None:
    policies = compile_policy_set(
        [
            rule(
                "guest",
                "",
                "block",
                1,
                phase=Context.NETWORK,
                identity='identity.email == "guest@corp.example"',
            )
        ]
    )
    guest = Identity(email="Guest@corp.example")
    assert policies.evaluate(
        Context.NETWORK, network_request("1.1.1.1", 443, identity=guest)
    ).matched
    assert not policies.evaluate(Context.NETWORK, network_request("1.1.1.1", 443)).matched


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (rule("r1", 'dns.fqdn == "x', "block"), "expression"),
        (rule("r2", "net.dst.port == 22", "block"), "not available in dns"),
        (rule("r3", 'dns.fqdn == "a.b"', "teleport"), "action 'teleport'"),
        (
            rule("r4", 'dns.fqdn == "a.b"', "block", identity='dns.fqdn == "a.b"'),
            "identity expression",
        ),
        (rule("r5", "", "block"), "needs a traffic or an identity"),
        (rule("r6", 'dns.fqdn == "a.b"', "block", phase=Context.IDENTITY), "not a rule phase"),
    ],
)
def test_compile_errors_name_the_rule(bad: PolicyRule, fragment: str) -> None:
    with pytest.raises(PolicyRuleError) as info:
        compile_policy_set([rule("fine", 'dns.fqdn == "a.b"'), bad], LISTS)
    assert info.value.rule_id == bad.id
    assert f"rule {bad.id}" in str(info.value)
    assert fragment in str(info.value)


def test_guards() -> None:
    def g(expr: str, ctx: Context = Context.DNS) -> object:
        guard = guard_of(compile_expression(expr, ctx, LISTS).node)
        return None if guard is None else [leaf.key for leaf in guard.leaves]

    assert g("any(dns.domains[*] in $ads)") == ["dns.domains"]
    # and: the most selective operand (names beat query types)
    assert g('dns.query_rtype == "A" and dns.fqdn == "a.b"') == ["dns.fqdn"]
    # or: every operand needs a guard
    assert g('dns.fqdn == "a.b" or dns.src_ip in {10.0.0.0/8}') == ["dns.fqdn", "dns.src_ip"]
    assert g('dns.fqdn == "a.b" or dns.fqdn matches "x"') is None
    assert g('not dns.fqdn == "a.b"') is None
    assert g('dns.fqdn != "a.b"') is None
    assert g("net.dst.port < 1024", Context.NETWORK) == ["net.dst.port"]


def test_index_skips_rules_that_cannot_match() -> None:
    rules = [
        rule(str(i), f'any(dns.domains[*] == "d{i}.example")', precedence=i) for i in range(200)
    ]
    rules.append(rule("rx", 'dns.fqdn matches "^zz"', precedence=500))
    phase = compile_policy_set(rules)[Context.DNS]
    assert phase.index.candidates(dns_request("a.d7.example")) == (7, 200)
    assert phase.index.candidates(dns_request("nothing.test")) == (200,)
    assert phase.index.stats["unguarded_rules"] == 1


# -- property: the indexed evaluation equals the naive linear scan ------------------------

_NAMES = ["a.x", "b.x", "a.b.x", "c.a.b.x", "x", "b.y", "a.y", "y", "c.y"]
_DNS_LEAVES = st.one_of(
    st.sampled_from(_NAMES).map(lambda d: f'any(dns.domains[*] == "{d}")'),
    st.sampled_from(_NAMES).map(lambda d: f'dns.fqdn == "{d}"'),
    st.sampled_from(_NAMES).map(lambda d: f'dns.fqdn != "{d}"'),
    st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3).map(
        lambda ds: "dns.fqdn in {" + " ".join(f'"{d}"' for d in ds) + "}"
    ),
    st.sampled_from(["L0", "L1", "L2"]).map(lambda n: f"any(dns.domains[*] in ${n})"),
    st.sampled_from(["L0", "L1", "L2"]).map(lambda n: f"dns.fqdn in ${n}"),
    st.sampled_from(["A", "AAAA", "MX"]).map(lambda t: f'dns.query_rtype == "{t}"'),
    st.integers(0, 32).map(lambda p: f"dns.src_ip in {{10.0.0.0/{p}}}"),
    st.integers(0, 7).map(lambda n: f"dns.src_ip == 10.0.0.{n}"),
    st.just("dns.src_ip in $IPS"),
    st.sampled_from(["^a", "x$", "b"]).map(lambda p: f'dns.fqdn matches "{p}"'),
    st.sampled_from(["g0", "g1"]).map(lambda g: f'any(identity.groups[*] == "{g}")'),
)
_NET_LEAVES = st.one_of(
    st.integers(0, 30).map(lambda p: f"net.dst.port == {p}"),
    st.tuples(st.integers(0, 30), st.integers(0, 30)).map(
        lambda t: f"net.dst.port in {{{min(t)}..{max(t)} 7}}"
    ),
    st.sampled_from(["<", "<=", ">", ">="]).flatmap(
        lambda op: st.integers(0, 30).map(lambda n: f"net.dst.port {op} {n}")
    ),
    st.integers(0, 7).map(lambda n: f"net.dst.ip == 10.0.0.{n}"),
    st.integers(24, 32).map(lambda p: f"net.dst.ip in {{10.0.0.0/{p} ::1}}"),
    st.just("net.dst.ip in $IPS"),
    st.sampled_from(["tcp", "udp"]).map(lambda p: f'net.protocol == "{p}"'),
    st.sampled_from(_NAMES).map(lambda d: f'net.sni.host == "{d}"'),
)


def _expressions(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map(lambda t: f"({t[0]} and {t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]} or {t[1]})"),
            inner.map(lambda e: f"not ({e})"),
        ),
        max_leaves=5,
    )


_LIST_DOMAINS = st.lists(st.sampled_from(_NAMES), max_size=4)


@st.composite
def _scenario(
    draw: st.DrawFn, context: Context
) -> tuple[list[PolicyRule], dict[str, object], list[dict[str, object]]]:
    leaves = _DNS_LEAVES if context is Context.DNS else _NET_LEAVES
    exprs = draw(st.lists(_expressions(leaves), min_size=1, max_size=12))
    rules = [
        PolicyRule(
            str(i),
            f"r{i}",
            context,
            e,
            "block" if draw(st.booleans()) else "allow",
            precedence=draw(st.integers(0, 5)),
            enabled=draw(st.integers(0, 9)) > 0,
        )
        for i, e in enumerate(exprs)
    ]
    lists: dict[str, object] = {
        f"L{i}": make_list(f"L{i}", ListKind.DOMAIN, draw(_LIST_DOMAINS)) for i in range(3)
    }
    lists["IPS"] = make_list("IPS", ListKind.IP, ["10.0.0.2", "10.0.0.4/31", "::1"])
    requests: list[dict[str, object]] = []
    for _ in range(draw(st.integers(1, 6))):
        if context is Context.DNS:
            groups = tuple(draw(st.lists(st.sampled_from(["g0", "g1", "g2"]), max_size=2)))
            identity = Identity(groups=groups) if draw(st.booleans()) else None
            src = draw(st.one_of(st.none(), st.integers(0, 7).map(lambda n: f"10.0.0.{n}")))
            requests.append(
                dns_request(
                    draw(st.sampled_from([*_NAMES, "z.a.x", "q"])),
                    draw(st.sampled_from(["A", "AAAA", "MX", "TXT"])),
                    src_ip=src,
                    identity=identity,
                )
            )
        else:
            requests.append(
                network_request(
                    draw(st.sampled_from([f"10.0.0.{n}" for n in range(8)] + ["::1", "::2"])),
                    draw(st.integers(0, 31)),
                    draw(st.sampled_from(["tcp", "udp"])),
                    sni_host=draw(st.one_of(st.none(), st.sampled_from(_NAMES))),
                )
            )
    return rules, lists, requests


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([Context.DNS, Context.NETWORK]).flatmap(_scenario))
def test_indexed_evaluation_equals_linear(
    scenario: tuple[list[PolicyRule], dict[str, object], list[dict[str, object]]],
) -> None:
    rules, lists, requests = scenario
    policies = compile_policy_set(rules, lists)  # type: ignore[arg-type]
    for context in (Context.DNS, Context.NETWORK):
        phase = policies[context]
        for request in requests:
            assert phase.evaluate(request) == phase.evaluate_linear(request)
            matching = phase.matching(request)
            expected = matching[0] if matching else None
            assert phase.evaluate(request).rule == expected
