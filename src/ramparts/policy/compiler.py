"""``compile_expression``: expression text -> :class:`Predicate`, once per config snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ramparts.policy import ir
from ramparts.policy.checker import Checker
from ramparts.policy.closures import Request, Test, build
from ramparts.policy.fields import Context
from ramparts.policy.lists import PolicyList
from ramparts.policy.parser import parse

_NO_LISTS: Mapping[str, PolicyList] = {}


@dataclass(frozen=True, slots=True)
class Predicate:
    """A compiled expression. Call it with a request (see :mod:`ramparts.policy.request`).

    ``test`` is the bare closure, for callers that want to skip one call level.
    """

    source: str
    context: Context
    node: ir.Node = field(repr=False)
    test: Test = field(repr=False, compare=False)

    def __call__(self, request: Request) -> bool:
        return self.test(request)


def compile_expression(
    source: str, context: Context, lists: Mapping[str, PolicyList] | None = None
) -> Predicate:
    """Parse, type-check against the context's fields and the lists, and build the closure.

    Raises :class:`~ramparts.policy.errors.PolicySyntaxError` or
    :class:`~ramparts.policy.errors.PolicyCompileError` (both ``ExpressionError``).
    """
    tree = parse(source)
    node = Checker(source, context, lists if lists is not None else _NO_LISTS).check(tree)
    return Predicate(source, context, node, build(node))
