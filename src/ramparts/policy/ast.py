"""Syntax tree of a parsed expression. Every node carries its source span for error messages."""

from __future__ import annotations

from dataclasses import dataclass

from ramparts.policy.lexer import IpValue


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field as written: ``dns.domains[*]`` has ``name="dns.domains"`` and ``each=True``."""

    name: str
    each: bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class StringLit:
    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class IntLit:
    value: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class IpLit:
    value: IpValue
    start: int
    end: int


Scalar = StringLit | IntLit | IpLit


@dataclass(frozen=True, slots=True)
class RangeLit:
    """``low..high`` inside a set, inclusive on both ends (integers or IP addresses)."""

    low: IntLit | IpLit
    high: IntLit | IpLit
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SetLit:
    items: tuple[Scalar | RangeLit, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ListRef:
    """``$name``: a named list supplied at compile time."""

    name: str
    start: int
    end: int


Value = Scalar | SetLit | ListRef


@dataclass(frozen=True, slots=True)
class Comparison:
    field: FieldRef
    #: Canonical operator: "==", "!=", "<", "<=", ">", ">=", "in", "matches".
    op: str
    value: Value
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class AnyOf:
    """``any(<comparison over field[*]>)``: true when some element satisfies it."""

    comparison: Comparison
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expr, ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expr, ...]
    start: int
    end: int


Expr = Comparison | AnyOf | Not | And | Or
