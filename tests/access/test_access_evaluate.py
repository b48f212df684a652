"""Access policy evaluation: order of actions, rule logic, every selector, default deny."""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.access.evaluate import (
    Subject,
    Verdict,
    evaluate,
    parse_client_ip,
    policy_matches,
    rule_matches,
)
from ramparts.config.access import AccessApp, CompiledPolicy
from ramparts.config.access_rules import (
    Action,
    RuleError,
    Selector,
    parse_rule,
    parse_rules,
    validate_policy,
)
from ramparts.identity.tokens import Identity

ALICE = Identity("u-alice", "Alice@Example.com", "idp-okta", "oidc", "Alice", ("eng",))
BOB = Identity("u-bob", "bob@other.org", "idp-pin", "otp")


def pol(action: str, include, require=(), exclude=(), name: str = "p", precedence: int = 1):
    def rules(texts):
        return tuple(parse_rule(t) for t in texts)

    return CompiledPolicy(
        name, name, Action(action), precedence, rules(include), rules(require), rules(exclude)
    )


def app(*policies: CompiledPolicy) -> AccessApp:
    ordered = tuple(
        CompiledPolicy(p.id, p.name, p.action, i, p.include, p.require, p.exclude)
        for i, p in enumerate(policies)
    )
    return AccessApp("a1", "app", "app.example.com", "", "aud", dt.timedelta(hours=1), ordered)


def subject(identity=None, ip="203.0.113.9", groups=(), token=None) -> Subject:
    return Subject(
        client_ip=parse_client_ip(ip) if ip else None,
        identity=identity,
        groups=frozenset(groups),
        service_token_id=token,
    )


# -- rules -------------------------------------------------------------------------------


def test_parse_rule_normalises_every_selector() -> None:
    assert parse_rule("email=Alice@EXAMPLE.com").value == "Alice@example.com".lower()
    assert parse_rule("email_domain=@Example.COM").value == "example.com"
    assert parse_rule("domain=example.com").selector is Selector.EMAIL_DOMAIN
    assert parse_rule("group=eng").value == "eng"
    assert parse_rule("idp=okta").selector is Selector.IDP
    assert parse_rule("login_method=okta").selector is Selector.IDP
    ip = parse_rule("ip=10.1.2.3/8")
    assert ip.value == "10.0.0.0/8"
    assert ip.network == ipaddress.ip_network("10.0.0.0/8")
    assert parse_rule("ip=2001:db8::1").value == "2001:db8::1/128"
    assert parse_rule("service_token=ci").value == "ci"
    assert parse_rule("any_service_token").selector is Selector.ANY_SERVICE_TOKEN
    assert parse_rule(" everyone ").text == "everyone"
    assert parse_rule("email=a@b.example").text == "email=a@b.example"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nobody=1",
        "email",
        "email=",
        "email=not-an-email",
        "email=a b@example.com",
        "email_domain=exa mple.com",
        "email_domain=-bad-.com",
        "ip=10.0.0.300",
        "ip=example.com",
        "everyone=yes",
        "any_service_token=x",
        "group=\x00",
        "x" * 400,
    ],
)
def test_parse_rule_refuses(text: str) -> None:
    with pytest.raises(RuleError):
        parse_rule(text)


def test_parse_rules_names_the_failing_entry() -> None:
    with pytest.raises(RuleError) as info:
        parse_rules(["email=a@example.com", "ip=nope"], "include")
    assert info.value.field == "include.1"
    assert len(parse_rules(["everyone", "everyone"], "include")) == 1


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_fuzz_parse_rule(text: str) -> None:
    try:
        rule = parse_rule(text)
    except RuleError:
        return
    assert parse_rule(rule.text) == rule  # a parsed rule prints back to itself


@pytest.mark.parametrize(
    ("action", "include", "ok"),
    [
        ("allow", ["email=a@example.com"], True),
        ("allow", ["everyone"], True),
        ("allow", ["service_token=x"], False),
        ("allow", ["any_service_token"], False),
        ("block", ["ip=10.0.0.0/8"], True),
        ("bypass", ["everyone"], True),
        ("bypass", ["ip=10.0.0.0/8"], True),
        ("bypass", ["email=a@example.com"], False),
        ("bypass", ["group=eng"], False),
        ("service_auth", ["service_token=ci"], True),
        ("service_auth", ["any_service_token"], True),
        ("service_auth", ["everyone"], True),
        ("service_auth", ["ip=10.0.0.0/8"], False),  # would let machines in with no token
        ("service_auth", ["email=a@example.com"], False),
        ("allow", [], False),
    ],
)
def test_validate_policy(action: str, include: list[str], ok: bool) -> None:
    rules = tuple(parse_rule(t) for t in include)
    if ok:
        validate_policy(Action(action), rules, (), ())
    else:
        with pytest.raises(RuleError):
            validate_policy(Action(action), rules, (), ())


def test_validate_policy_checks_require_and_exclude_too() -> None:
    with pytest.raises(RuleError) as info:
        validate_policy(Action.BYPASS, (parse_rule("everyone"),), (parse_rule("group=x"),), ())
    assert info.value.field == "require.0"
    with pytest.raises(RuleError) as info:
        validate_policy(
            Action.ALLOW, (parse_rule("everyone"),), (), (parse_rule("any_service_token"),)
        )
    assert info.value.field == "exclude.0"


# -- selectors -----------------------------------------------------------------------------


def test_email_selectors() -> None:
    s = subject(ALICE)
    assert rule_matches(parse_rule("email=alice@example.com"), s)
    assert not rule_matches(parse_rule("email=bob@example.com"), s)
    assert rule_matches(parse_rule("email_domain=example.com"), s)
    assert not rule_matches(parse_rule("email_domain=ample.com"), s)  # no suffix match
    assert not rule_matches(parse_rule("email_domain=sub.example.com"), s)
    evil = Identity("u", "alice@evil-example.com", "i", "oidc")
    assert not rule_matches(parse_rule("email_domain=example.com"), subject(evil))
    sub = Identity("u", "alice@sub.example.com", "i", "oidc")
    assert not rule_matches(parse_rule("email_domain=example.com"), subject(sub))
    # no identity: identity selectors never match
    for text in ("email=alice@example.com", "email_domain=example.com", "group=eng", "idp=x"):
        assert not rule_matches(parse_rule(text), subject(None, groups=["eng"]))


def test_group_idp_selectors() -> None:
    s = subject(ALICE, groups=["eng", "ops"])
    assert rule_matches(parse_rule("group=ops"), s)
    assert not rule_matches(parse_rule("group=Ops"), s)  # group names are exact
    assert rule_matches(parse_rule("idp=idp-okta"), s)
    assert not rule_matches(parse_rule("idp=idp-pin"), s)


def test_ip_selector_v4_v6_and_mapped() -> None:
    rule4, rule6 = parse_rule("ip=10.0.0.0/8"), parse_rule("ip=2001:db8::/32")
    assert rule_matches(rule4, subject(ip="10.9.8.7"))
    assert rule_matches(rule4, subject(ip="::ffff:10.9.8.7"))
    assert not rule_matches(rule4, subject(ip="11.0.0.1"))
    assert rule_matches(rule6, subject(ip="2001:db8::5"))
    assert not rule_matches(rule6, subject(ip="10.0.0.1"))
    assert not rule_matches(rule4, subject(ip=None))
    assert parse_client_ip("garbage") is None
    assert parse_client_ip("[::1]") == ipaddress.ip_address("::1")


def test_token_selectors() -> None:
    assert rule_matches(parse_rule("any_service_token"), subject(token="t1"))
    assert not rule_matches(parse_rule("any_service_token"), subject())
    assert rule_matches(parse_rule("service_token=t1"), subject(token="t1"))
    assert not rule_matches(parse_rule("service_token=t2"), subject(token="t1"))
    assert rule_matches(parse_rule("everyone"), subject())


# -- rule logic ------------------------------------------------------------------------------


def test_include_any_require_all_exclude_none_truth_table() -> None:
    """Every combination of matching / non-matching rules in the three lists."""
    yes, no = "email=alice@example.com", "email=nobody@example.com"
    s = subject(ALICE)
    for inc, req, exc in itertools.product(
        [(yes,), (no,), (no, yes), (no, no)],
        [(), (yes,), (no,), (yes, yes), (yes, no)],
        [(), (yes,), (no,), (no, yes)],
    ):
        expected = (yes in inc) and all(r == yes for r in req) and (yes not in exc)
        assert policy_matches(pol("allow", inc, req, exc), s) is expected, (inc, req, exc)


# -- evaluation order --------------------------------------------------------------------------


def test_app_with_no_policy_lets_nobody_in() -> None:
    for s in (subject(), subject(ALICE), subject(token="t1")):
        assert evaluate(app(), s).verdict is Verdict.DENY


def test_no_identity_means_login_only_if_an_allow_policy_exists() -> None:
    assert evaluate(app(pol("allow", ["everyone"])), subject()).verdict is Verdict.LOGIN
    assert evaluate(app(pol("block", ["everyone"])), subject()).verdict is Verdict.DENY


def test_bypass_and_service_auth_come_before_allow_and_block() -> None:
    a = app(
        pol("block", ["everyone"], name="block-all"),
        pol("bypass", ["ip=10.0.0.0/8"], name="office"),
        pol("service_auth", ["service_token=t1"], name="ci"),
    )
    e = evaluate(a, subject(ALICE, ip="10.1.1.1"))
    assert e.verdict is Verdict.BYPASS and e.policy is not None and e.policy.name == "office"
    e = evaluate(a, subject(ip="192.0.2.1", token="t1"))
    assert e.verdict is Verdict.SERVICE_AUTH and e.policy is not None and e.policy.name == "ci"
    assert evaluate(a, subject(ALICE, ip="192.0.2.1")).verdict is Verdict.BLOCK


def test_pre_login_policies_in_their_own_order() -> None:
    a = app(pol("service_auth", ["everyone"], name="sa"), pol("bypass", ["everyone"], name="bp"))
    assert evaluate(a, subject(token="t1")).verdict is Verdict.SERVICE_AUTH
    assert evaluate(a, subject()).verdict is Verdict.BYPASS  # service auth needs a token


def test_valid_service_token_not_allowed_is_denied_not_sent_to_login() -> None:
    a = app(
        pol("service_auth", ["service_token=t1"]),
        pol("allow", ["everyone"]),
    )
    assert evaluate(a, subject(token="t2")).verdict is Verdict.DENY
    assert evaluate(a, subject(ALICE, token="t2")).verdict is Verdict.DENY


def test_allow_block_first_match_wins_then_default_deny() -> None:
    a = app(
        pol("block", ["email=bob@other.org"], name="no-bob"),
        pol("allow", ["email_domain=other.org", "group=eng"], name="staff"),
        pol("block", ["everyone"], name="rest"),
    )
    assert evaluate(a, subject(BOB)).verdict is Verdict.BLOCK
    carol = Identity("u-c", "carol@other.org", "idp-pin", "otp")
    e = evaluate(a, subject(carol))
    assert e.verdict is Verdict.ALLOW and e.policy is not None and e.policy.name == "staff"
    dave = Identity("u-d", "dave@x.org", "idp-pin", "otp")
    assert evaluate(a, subject(dave)).verdict is Verdict.BLOCK
    assert evaluate(a, subject(dave, groups=["eng"])).verdict is Verdict.ALLOW
    only_allow = app(pol("allow", ["group=eng"]))
    assert evaluate(only_allow, subject(dave)).verdict is Verdict.DENY


def test_require_and_exclude_in_a_real_shape() -> None:
    a = app(
        pol(
            "allow",
            ["group=eng", "email=alice@example.com"],
            require=["ip=10.0.0.0/8"],
            exclude=["email=mallory@example.com"],
        )
    )
    assert evaluate(a, subject(ALICE, ip="10.0.0.1")).verdict is Verdict.ALLOW
    assert evaluate(a, subject(ALICE, ip="192.0.2.1")).verdict is Verdict.DENY
    mallory = Identity("u-m", "mallory@example.com", "i", "oidc")
    assert evaluate(a, subject(mallory, ip="10.0.0.1", groups=["eng"])).verdict is Verdict.DENY


# -- against a reference written from the documented rules ---------------------------------------

RULE_TEXTS = [
    "everyone",
    "email=alice@example.com",
    "email_domain=other.org",
    "group=eng",
    "idp=idp-pin",
    "ip=10.0.0.0/8",
    "ip=2001:db8::/32",
    "service_token=t1",
    "any_service_token",
]


def _reference(policies, s: Subject) -> Verdict:
    def m(p):
        return policy_matches(p, s)

    for p in sorted(policies, key=lambda p: p.precedence):
        if p.action in (Action.BYPASS, Action.SERVICE_AUTH) and m(p):
            return Verdict.BYPASS if p.action is Action.BYPASS else Verdict.SERVICE_AUTH
    if s.service_token_id:
        return Verdict.DENY
    if s.identity is None:
        return Verdict.LOGIN if any(p.action is Action.ALLOW for p in policies) else Verdict.DENY
    for p in sorted(policies, key=lambda p: p.precedence):
        if p.action in (Action.ALLOW, Action.BLOCK) and m(p):
            return Verdict(p.action.value)
    return Verdict.DENY


@st.composite
def policies_strategy(draw):
    out = []
    for _ in range(draw(st.integers(0, 5))):
        action = draw(st.sampled_from(list(Action)))
        lists = [draw(st.lists(st.sampled_from(RULE_TEXTS), max_size=3)) for _ in range(3)]
        if not lists[0]:
            lists[0] = ["everyone"]
        out.append(pol(action, *lists, name=f"p{len(out)}"))
    return out


@settings(max_examples=1000, deadline=None)
@given(
    policies_strategy(),
    st.sampled_from([None, ALICE, BOB]),
    st.sampled_from(["10.1.1.1", "192.0.2.1", "2001:db8::9", None]),
    st.sampled_from([(), ("eng",)]),
    st.sampled_from([None, "t1", "t2"]),
)
def test_evaluate_matches_the_reference(policies, identity, ip, groups, token) -> None:
    s = subject(identity, ip=ip, groups=groups, token=token)
    a = app(*policies)
    result = evaluate(a, s)
    assert result.verdict is _reference(a.policies, s)
    assert result.granted == (
        result.verdict in (Verdict.ALLOW, Verdict.BYPASS, Verdict.SERVICE_AUTH)
    )
