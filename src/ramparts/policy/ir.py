"""Typed intermediate form of a checked expression: what closures and the policy index read.

Leaves compare one request key; ``each`` means the key holds a tuple and the leaf is true
when some element satisfies it (``any(f[*] ...)``). A leaf on an absent key is false, also
when negated (``!=``): a rule about identity never matches a request without identity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ramparts.policy.fields import Field
from ramparts.policy.ipset import RangeSet


@dataclass(frozen=True, slots=True)
class Member:
    """Value in ``keys`` (``==`` is a one-element set); ``negate`` turns it into ``!=``."""

    field: Field
    key: str
    each: bool
    keys: frozenset[str] | frozenset[int]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class InRanges:
    """Integer or IP key within inclusive ranges."""

    field: Field
    key: str
    each: bool
    ranges: RangeSet
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Regex:
    field: Field
    key: str
    each: bool
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class OneOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    part: Node


Leaf = Member | InRanges | Regex
Node = Member | InRanges | Regex | AllOf | OneOf | Negation
