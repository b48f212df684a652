"""``matches`` patterns: RE2 subset accepted, backtracking blow-ups refused."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.policy.regex import MAX_PATTERN_CHARS, RegexRejected, compile_pattern


@pytest.mark.parametrize(
    "pattern",
    [
        "^/admin",
        ".*@example\\.com$",
        "(www|api)+\\.example\\.com",
        "(?:foo|bar)*",
        "(\\d{1,3}\\.){3}\\d{1,3}",
        "(?i)^Tracker[0-9]+\\.",
        "[a-z]{2,63}",
        "(a|b)*c",
    ],
)
def test_common_patterns_are_accepted(pattern: str) -> None:
    assert compile_pattern(pattern).pattern == pattern


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a)\\1", "backreferences"),
        ("(?P<x>a)(?P=x)", "backreferences"),
        ("a(?=b)", "lookahead"),
        ("a(?!b)", "lookahead"),
        ("(?<=a)b", "lookahead"),
        ("(a)?(?(1)b|c)", "conditional"),
        ("(?>a+)b", "atomic"),
        ("a++", "possessive"),
        ("(a+)+$", "exponential"),
        ("(a?){25}a{25}", "exponential"),
        ("^([a-z0-9-]+\\.)*example\\.com$", "any(dns.domains"),
        ("(a|aa)*b", "different literal"),
        ("a{1001}", "repetition count"),
        ("(a{1000}){100}", "expands"),
        ("(" * 40 + "a" + ")" * 40, "nested deeper"),
        ("a" * (MAX_PATTERN_CHARS + 1), "longer than"),
        ("[z-a]", "invalid regex"),
    ],
)
def test_unsafe_or_unsupported_patterns_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(RegexRejected) as info:
        compile_pattern(pattern)
    assert reason in info.value.reason


_ATOMS = st.sampled_from(["a", "b", ".", "[ab]", "\\w", "a?", "a*", "b+", "(a|b)", "(ab|ba)"])


def _pattern() -> st.SearchStrategy[str]:
    return st.recursive(
        _ATOMS,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map("".join),
            st.tuples(inner, inner).map(lambda t: f"({t[0]}|{t[1]})"),
            st.tuples(inner, st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "{9}"])).map(
                lambda t: f"(?:{t[0]}){t[1]}"
            ),
        ),
        max_leaves=6,
    )


@settings(max_examples=300, deadline=None)
@given(_pattern())
def test_accepted_patterns_stay_fast_on_adversarial_input(pattern: str) -> None:
    try:
        compiled = compile_pattern(pattern + "$")
    except RegexRejected:
        return
    start = time.perf_counter()
    for subject in ("a" * 30 + "!", "ab" * 15 + "!", "b" * 30 + "\n"):
        compiled.search(subject)
    assert time.perf_counter() - start < 1.0, pattern
