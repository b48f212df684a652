"""Lexer and parser: the documented syntax parses; errors are positioned; fuzzing never crashes."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.policy import ast
from ramparts.policy.errors import PolicySyntaxError
from ramparts.policy.lexer import MAX_EXPRESSION_CHARS, TokenKind, tokenize
from ramparts.policy.parser import MAX_NESTING_DEPTH, parse

DOCUMENTED = [
    'any(dns.domains[*] == "example.com")',
    'dns.fqdn in {"a.example" "b.example"}',
    'dns.query_rtype == "AAAA"',
    "any(dns.domains[*] in $blocked_list)",
    'http.request.uri.path matches "^/admin"',
    'http.request.method in {"POST" "PUT"}',
    "net.dst.ip in {10.0.0.0/8 192.168.1.1}",
    "net.dst.port == 22",
    "net.dst.port in {80 443 8000..8080}",
    'identity.email matches ".*@example\\.com$"',
    'any(identity.groups[*] == "eng")',
    'any(identity.groups[*].name in {"Engineering" "Security"})',
    "http.request.host in $3f2a9c1e-77aa-4c1b-9b0e-2d5c8a0f1b2c",
    'not(identity.email == "guest@company.com")',
    "net.dst.port == 80 || net.dst.port == 443 && !(net.dst.ip == ::1)",
    'http.request.host matches ".*\\\\.example\\\\.com"',
    "net.dst.port ge 1024 and net.dst.port lt 2048",
    'dns.fqdn ~ r"^a\\d+\\.example$"',
]


@pytest.mark.parametrize("source", DOCUMENTED)
def test_documented_expressions_parse(source: str) -> None:
    assert isinstance(parse(source), ast.Comparison | ast.AnyOf | ast.Not | ast.And | ast.Or)


def test_precedence_not_over_and_over_or() -> None:
    tree = parse("a.x == 1 or not b.x == 2 and c.x == 3")
    assert isinstance(tree, ast.Or)
    left, right = tree.operands
    assert isinstance(left, ast.Comparison)
    assert left.field.name == "a.x"
    assert isinstance(right, ast.And)
    assert isinstance(right.operands[0], ast.Not)
    assert isinstance(right.operands[1], ast.Comparison)


def test_set_items_ranges_and_ips() -> None:
    tree = parse("net.dst.ip in {10.0.0.0/8, 2001:db8::/32 10.1.1.1..10.1.1.9}")
    assert isinstance(tree, ast.Comparison)
    assert isinstance(tree.value, ast.SetLit)
    first, second, third = tree.value.items
    assert isinstance(first, ast.IpLit)
    assert first.value == ipaddress.ip_network("10.0.0.0/8")
    assert isinstance(second, ast.IpLit)
    assert second.value.version == 6
    assert isinstance(third, ast.RangeLit)


def test_string_escapes_keep_regex_backslashes() -> None:
    # \" and \\ are escapes; other backslashes stay, so both regex spellings agree.
    a = parse('x.y matches "a\\.b"')
    b = parse('x.y matches "a\\\\.b"')
    c = parse('x.y == "say \\"hi\\""')
    assert isinstance(a, ast.Comparison)
    assert isinstance(a.value, ast.StringLit)
    assert isinstance(b, ast.Comparison)
    assert isinstance(b.value, ast.StringLit)
    assert isinstance(c, ast.Comparison)
    assert isinstance(c.value, ast.StringLit)
    assert a.value.value == b.value.value == "a\\.b"
    assert c.value.value == 'say "hi"'


def test_raw_strings() -> None:
    tree = parse('x.y matches r#"a"b\\d"#')
    assert isinstance(tree, ast.Comparison)
    assert isinstance(tree.value, ast.StringLit)
    assert tree.value.value == 'a"b\\d'


def test_list_names_may_be_uuids() -> None:
    tokens = tokenize("$3f2a9c1e-77aa-4c1b")
    assert tokens[0].kind is TokenKind.LIST
    assert tokens[0].value == "3f2a9c1e-77aa-4c1b"


@pytest.mark.parametrize(
    ("source", "line", "column", "expected"),
    [
        ('dns.fqdn = "x"', 1, 10, "'=='"),
        ("dns.fqdn ==", 1, 12, "a string, integer or IP address"),
        ("(dns.fqdn == 1", 1, 15, "')'"),
        ('dns.fqdn == "x', 1, 13, "closing"),
        ('any(dns.fqdn == "x")', 1, 13, "[*]"),
        ("net.dst.port in 3", 1, 17, "'{' or a $list"),
        ('dns.fqdn == "a"\n  and\n  dns.fqdn', 3, 11, "an operator"),
        ('dns.fqdn == "a" dns.fqdn', 1, 17, "'and', 'or' or end of expression"),
        ("net.dst.port in {}", 1, 17, "a value"),
        ("net.dst.ip == 300.1.1.1", 1, 15, "an IP address"),
        ("net.dst.port == 99999999999999999999", 1, 17, "an integer"),
        ("$", 1, 2, "a list name"),
        ("dns.fqdn & 1", 1, 10, "'&&'"),
        ("dns.fqdn matches 3", 1, 18, "a quoted regex"),
        ('x.y in {"a".."b"}', 1, 9, "range"),
    ],
)
def test_errors_point_at_line_and_column(
    source: str, line: int, column: int, expected: str
) -> None:
    with pytest.raises(PolicySyntaxError) as info:
        parse(source)
    err = info.value
    assert (err.line, err.column) == (line, column)
    assert expected in str(err)
    rendered = str(err).splitlines()
    # The source line and a caret under the column.
    assert rendered[2].index("^") - 2 == column - 1
    assert rendered[1].strip() == source.split("\n")[line - 1].strip()


def test_nesting_is_bounded() -> None:
    deep = "(" * (MAX_NESTING_DEPTH + 1) + "a.b == 1" + ")" * (MAX_NESTING_DEPTH + 1)
    with pytest.raises(PolicySyntaxError, match="nested deeper"):
        parse(deep)
    ok = "(" * MAX_NESTING_DEPTH + "a.b == 1" + ")" * MAX_NESTING_DEPTH
    assert isinstance(parse(ok), ast.Comparison)
    with pytest.raises(PolicySyntaxError, match="nested deeper"):
        parse("not " * (MAX_NESTING_DEPTH + 1) + "a.b == 1")


def test_length_is_bounded() -> None:
    with pytest.raises(PolicySyntaxError, match="longer than"):
        parse('a.b == "' + "x" * MAX_EXPRESSION_CHARS + '"')


# -- fuzzing: the parser raises PolicySyntaxError or returns, on any input ---------------

_SOUP = [
    "dns.fqdn",
    "dns.domains",
    "[*]",
    "[",
    "]",
    "*",
    "any",
    "(",
    ")",
    "{",
    "}",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "matches",
    "~",
    "and",
    "or",
    "not",
    "&&",
    "||",
    "!",
    "$list",
    "$",
    '"a.example"',
    '"',
    '"\\',
    'r#"x"#',
    'r"',
    "22",
    "8000..8080",
    "..",
    "10.0.0.0/8",
    "::1",
    "2001:db8::/129",
    "999.1.1.1",
    ".",
    ",",
    "eq",
    "xor",
    "=",
    "&",
    "|",
    "1e9",
    "identity.groups",
    ".name",
    "\n",
    " ",
    "\t",
    "é",
    "\x00",
    "99999999999999999999999",
]


def _check(source: str) -> None:
    err: PolicySyntaxError | None = None
    try:
        parse(source)
    except PolicySyntaxError as exc:
        err = exc
    if err is not None:
        assert err.line >= 1
        assert err.column >= 1
        assert "^" in str(err)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_arbitrary_text(source: str) -> None:
    _check(source)


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(_SOUP), max_size=30).map(" ".join))
def test_fuzz_token_soup(source: str) -> None:
    _check(source)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_SOUP), max_size=30).map("".join))
def test_fuzz_glued_token_soup(source: str) -> None:
    _check(source)
