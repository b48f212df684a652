"""Type checking: syntax tree + context + lists -> :mod:`ramparts.policy.ir`, or an error."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import NoReturn

from ramparts.policy import ast, ir
from ramparts.policy.domainset import normalize_domain
from ramparts.policy.errors import PolicyCompileError
from ramparts.policy.fields import FIELDS, Context, Field, FieldType, Norm, is_reserved, lookup
from ramparts.policy.ipset import RangeSet, network_range
from ramparts.policy.lists import ListKind, PolicyList
from ramparts.policy.regex import RegexRejected, compile_pattern

_ORDERING = {"<", "<=", ">", ">="}


class Checker:
    def __init__(self, source: str, context: Context, lists: Mapping[str, PolicyList]):
        self.source = source
        self.context = context
        self.lists = lists

    def fail(self, reason: str, offset: int, expected: str | None = None) -> NoReturn:
        raise PolicyCompileError(reason, self.source, offset, expected=expected)

    def check(self, node: ast.Expr) -> ir.Node:
        if isinstance(node, ast.And):
            return ir.AllOf(tuple(self.check(n) for n in node.operands))
        if isinstance(node, ast.Or):
            return ir.OneOf(tuple(self.check(n) for n in node.operands))
        if isinstance(node, ast.Not):
            return ir.Negation(self.check(node.operand))
        if isinstance(node, ast.AnyOf):
            return self.comparison(node.comparison)
        return self.comparison(node)

    # -- fields -------------------------------------------------------------------------
    def field(self, ref: ast.FieldRef) -> Field:
        field = lookup(ref.name)
        if field is None:
            if is_reserved(ref.name):
                self.fail(f"field {ref.name!r} is reserved for a later version", ref.start)
            close = difflib.get_close_matches(ref.name, FIELDS, n=1)
            self.fail(
                f"unknown field {ref.name!r}",
                ref.start,
                f"a known field such as {close[0]!r}" if close else "a known field",
            )
        if self.context not in field.contexts:
            where = (
                "identity expressions"
                if self.context is Context.IDENTITY
                else (f"{self.context.value} policies")
            )
            usable = ", ".join(sorted(c.value for c in field.contexts))
            self.fail(
                f"field {field.name!r} is not available in {where} (only in: {usable})", ref.start
            )
        if field.array and not ref.each:
            self.fail(
                f"{field.name!r} is an array",
                ref.start,
                f"any({ref.name}[*] ...)",
            )
        if ref.each and not field.array:
            self.fail(
                f"{field.name!r} is not an array; [*] does not apply",
                ref.start,
                f"{ref.name} without [*]",
            )
        return field

    # -- comparisons --------------------------------------------------------------------
    def comparison(self, node: ast.Comparison) -> ir.Node:
        field = self.field(node.field)
        op = node.op
        value = node.value
        key = field.name
        each = field.array
        if op == "matches":
            assert isinstance(value, ast.StringLit)
            if field.type is not FieldType.STRING:
                self.fail(
                    f"'matches' needs a string field; {field.name!r} is {field.type_name}",
                    node.field.start,
                )
            return ir.Regex(field, key, each, self.regex(field, value))
        if op in _ORDERING:
            if field.type is not FieldType.INT:
                self.fail(
                    f"{op!r} needs an integer field; {field.name!r} is {field.type_name}",
                    node.field.start,
                    "'==', '!=', 'in' or 'matches'",
                )
            bound = self.int_value(field, value)
            low, high = field.bounds or (-(2**63), 2**63 - 1)
            ranges = {
                "<": (low, bound - 1),
                "<=": (low, bound),
                ">": (bound + 1, high),
                ">=": (bound, high),
            }[op]
            return ir.InRanges(field, key, each, RangeSet.of([ranges]))
        if isinstance(value, ast.ListRef):
            return self.in_list(node, field, value)
        if isinstance(value, ast.SetLit):
            return self.in_set(field, value)
        negate = op == "!="
        if field.type is FieldType.IP:
            if not isinstance(value, ast.IpLit):
                self.wrong_type(field, value)
            low, high = network_range(value.value)
            if low == high:
                return ir.Member(field, key, each, frozenset({low}), negate)
            return ir.InRanges(field, key, each, RangeSet.of([(low, high)]), negate)
        if field.type is FieldType.INT:
            return ir.Member(field, key, each, frozenset({self.int_value(field, value)}), negate)
        return ir.Member(field, key, each, frozenset({self.str_value(field, value)}), negate)

    def in_set(self, field: Field, value: ast.SetLit) -> ir.Node:
        key, each = field.name, field.array
        if field.type is FieldType.STRING:
            return ir.Member(
                field, key, each, frozenset(self.str_value(field, v) for v in value.items)
            )
        ranges: list[tuple[int, int]] = []
        singles: list[int] = []
        for item in value.items:
            if isinstance(item, ast.RangeLit):
                low, _ = self.range_end(field, item.low)
                _, high = self.range_end(field, item.high)
                if high < low:
                    self.fail("range goes downwards", item.start, "low..high with low <= high")
                ranges.append((low, high))
            else:
                low, high = self.range_end(field, item)
                (singles.append(low) if low == high else ranges.append((low, high)))
        if not ranges:
            return ir.Member(field, key, each, frozenset(singles))
        return ir.InRanges(field, key, each, RangeSet.of(ranges + [(s, s) for s in singles]))

    def range_end(self, field: Field, item: ast.Scalar) -> tuple[int, int]:
        if field.type is FieldType.IP:
            if not isinstance(item, ast.IpLit):
                self.wrong_type(field, item)
            return network_range(item.value)
        number = self.int_value(field, item)
        return number, number

    def in_list(self, node: ast.Comparison, field: Field, ref: ast.ListRef) -> ir.Node:
        if node.op != "in":
            self.fail("lists are used with 'in'", ref.start)
        plist = self.lists.get(ref.name)
        if plist is None:
            close = difflib.get_close_matches(ref.name, list(self.lists), n=1)
            self.fail(
                f"unknown list ${ref.name}",
                ref.start,
                f"${close[0]}" if close else "the name of a defined list",
            )
        if plist.kind not in field.list_kinds:
            kinds = ", ".join(sorted(k.value for k in field.list_kinds)) or "none"
            self.fail(
                f"list ${ref.name} holds {plist.kind.value} entries; {field.name!r} takes "
                f"lists of kind: {kinds}",
                ref.start,
            )
        if plist.kind is ListKind.IP:
            return ir.InRanges(field, field.name, field.array, plist.ranges)
        return ir.Member(field, field.list_key or field.name, field.array, plist.values)

    # -- literal values -----------------------------------------------------------------
    def wrong_type(self, field: Field, value: ast.Value | ast.Scalar) -> NoReturn:
        found = {
            ast.StringLit: "a string",
            ast.IntLit: "an integer",
            ast.IpLit: "an IP address",
        }.get(type(value), "a set")
        self.fail(
            f"{field.name!r} is {field.type_name}, not {found}",
            value.start,
            f"{'an' if field.type is not FieldType.STRING else 'a'} {field.type.value}",
        )

    def int_value(self, field: Field, value: ast.Value | ast.Scalar) -> int:
        if field.type is not FieldType.INT or not isinstance(value, ast.IntLit):
            self.wrong_type(field, value)
        if field.bounds and not field.bounds[0] <= value.value <= field.bounds[1]:
            low, high = field.bounds
            self.fail(
                f"{value.value} is out of range for {field.name!r}",
                value.start,
                f"an integer from {low} to {high}",
            )
        return value.value

    def str_value(self, field: Field, value: ast.Value | ast.Scalar | ast.RangeLit) -> str:
        if not isinstance(value, ast.StringLit):
            if isinstance(value, ast.RangeLit):
                self.fail("ranges are for integers and IP addresses", value.start)
            self.wrong_type(field, value)
        text = value.value
        if field.norm is Norm.DOMAIN:
            name = normalize_domain(text)
            if name is None:
                self.fail(
                    f"{text!r} is not a valid domain name",
                    value.start,
                    'a name such as "example.com"',
                )
            return name
        if field.norm is Norm.LOWER:
            return text.lower()
        if field.norm is Norm.UPPER:
            return text.upper()
        return text

    def regex(self, field: Field, value: ast.StringLit) -> re.Pattern[str]:
        try:
            pattern = compile_pattern(value.value)
        except RegexRejected as exc:
            self.fail(exc.reason, value.start + 1 + exc.offset, "an RE2-compatible regex")
        if field.norm is Norm.DOMAIN:
            # Names are compared lower-cased; make the pattern case-blind to match.
            pattern = re.compile(pattern.pattern, re.IGNORECASE)
        return pattern
