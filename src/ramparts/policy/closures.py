"""IR -> plain Python closures over a request mapping.

A request is a ``dict`` from field name to value (str, int, IP key, or a tuple of those
for arrays). A dict was chosen over a slots object: fields are looked up by name held in
the closure, ``dict.get`` is one C call, absent fields need no placeholder, and builders
can add derived keys (parent domains, the URL-list form of a URI) without a class per
context. Closures bind everything they need as default arguments (fast local access).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping

from ramparts.policy import ir

Request = Mapping[str, object]
Test = Callable[[Request], bool]


def build(node: ir.Node) -> Test:
    """The closure deciding the node for a request."""
    if isinstance(node, ir.Member):
        return _member(node)
    if isinstance(node, ir.InRanges):
        return _ranges(node)
    if isinstance(node, ir.Regex):
        return _regex(node)
    if isinstance(node, ir.Negation):
        return _negation(build(node.part))
    if isinstance(node, ir.AllOf):
        return _all(tuple(build(p) for p in node.parts))
    return _any(tuple(build(p) for p in node.parts))


def _member(node: ir.Member) -> Test:
    key = node.key
    keys: frozenset[object] = frozenset(node.keys)
    if node.each:
        if node.negate:

            def each_not_in(r: Request, key: str = key, keys: frozenset[object] = keys) -> bool:
                v = r.get(key)
                return v is not None and any(e not in keys for e in v)  # type: ignore[attr-defined]

            return each_not_in
        isdisjoint = keys.isdisjoint

        def each_in(
            r: Request, key: str = key, isdisjoint: Callable[..., bool] = isdisjoint
        ) -> bool:
            v = r.get(key)
            return v is not None and not isdisjoint(v)

        return each_in
    if node.negate:

        def not_in(r: Request, key: str = key, keys: frozenset[object] = keys) -> bool:
            v = r.get(key)
            return v is not None and v not in keys

        return not_in
    if len(keys) == 1:
        (single,) = keys

        def equals(r: Request, key: str = key, single: object = single) -> bool:
            return r.get(key) == single

        return equals

    def is_in(r: Request, key: str = key, keys: frozenset[object] = keys) -> bool:
        return r.get(key) in keys

    return is_in


def _ranges(node: ir.InRanges) -> Test:
    key = node.key
    starts, ends = node.ranges.starts, node.ranges.ends
    negate = node.negate
    if len(starts) == 1 and not node.each:
        low, high = starts[0], ends[0]

        def between(r: Request, key: str = key, low: int = low, high: int = high) -> bool:
            v = r.get(key)
            if v is None:
                return False
            return (low <= v <= high) is not negate  # type: ignore[operator]

        return between

    def within(value: int) -> bool:
        i = bisect_right(starts, value) - 1
        return (i >= 0 and value <= ends[i]) is not negate

    if node.each:

        def each_within(r: Request, key: str = key) -> bool:
            v = r.get(key)
            return v is not None and any(within(e) for e in v)  # type: ignore[attr-defined]

        return each_within

    def one_within(r: Request, key: str = key) -> bool:
        v = r.get(key)
        return v is not None and within(v)  # type: ignore[arg-type]

    return one_within


def _regex(node: ir.Regex) -> Test:
    key = node.key
    search = node.pattern.search
    if node.each:

        def each_matches(r: Request, key: str = key) -> bool:
            v = r.get(key)
            return v is not None and any(search(e) is not None for e in v)  # type: ignore[attr-defined]

        return each_matches

    def matches(r: Request, key: str = key) -> bool:
        v = r.get(key)
        return v is not None and search(v) is not None  # type: ignore[call-overload]

    return matches


def _negation(inner: Test) -> Test:
    def negation(r: Request, inner: Test = inner) -> bool:
        return not inner(r)

    return negation


def _all(parts: tuple[Test, ...]) -> Test:
    if len(parts) == 2:
        a, b = parts

        def both(r: Request, a: Test = a, b: Test = b) -> bool:
            return a(r) and b(r)

        return both

    def every(r: Request, parts: tuple[Test, ...] = parts) -> bool:
        for part in parts:  # noqa: SIM110 - a loop is faster than all() over a generator
            if not part(r):
                return False
        return True

    return every


def _any(parts: tuple[Test, ...]) -> Test:
    if len(parts) == 2:
        a, b = parts

        def either(r: Request, a: Test = a, b: Test = b) -> bool:
            return a(r) or b(r)

        return either

    def some(r: Request, parts: tuple[Test, ...] = parts) -> bool:
        for part in parts:  # noqa: SIM110 - a loop is faster than any() over a generator
            if part(r):
                return True
        return False

    return some
