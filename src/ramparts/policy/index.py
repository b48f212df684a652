"""Candidate-rule index of a policy set: skip rules that cannot match a request.

Each rule gets a *guard*: a disjunction of leaf tests that the rule implies (if the rule
matches, one of its guard's leaves is true). Guards come from positive membership and range
leaves (``==``, ``in {…}``, ``in $list``, ``<``…), through ``and`` (one operand's guard is
enough; the most selective is chosen) and ``or`` (every operand needs one). Guard leaves
of all rules are merged into one hash map per request key (value -> rule positions) and one
sorted interval table per integer/IP key. A request then costs one probe per value (one per
label for ``dns.domains``) plus the rules that have no guard.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from ramparts.policy import ir
from ramparts.policy.closures import Request
from ramparts.policy.ipset import RangeSet

#: Guard rank above which a guard is not worth indexing (every rank is, today).
MAX_GUARD_RANK = 2


@dataclass(frozen=True, slots=True)
class _Guard:
    rank: int
    leaves: tuple[ir.Member | ir.InRanges, ...]


def guard_of(node: ir.Node) -> _Guard | None:
    """A disjunction of positive leaves implied by the node, or None."""
    if isinstance(node, ir.Member | ir.InRanges):
        if node.negate:
            return None
        return _Guard(node.field.rank, (node,))
    if isinstance(node, ir.AllOf):
        best: _Guard | None = None
        for part in node.parts:
            g = guard_of(part)
            if g is not None and (
                best is None or (g.rank, len(g.leaves)) < (best.rank, len(best.leaves))
            ):
                best = g
        return best
    if isinstance(node, ir.OneOf):
        leaves: list[ir.Member | ir.InRanges] = []
        rank = 0
        for part in node.parts:
            g = guard_of(part)
            if g is None:
                return None
            leaves.extend(g.leaves)
            rank = max(rank, g.rank)
        return _Guard(rank, tuple(leaves))
    return None


class RuleIndex:
    """Maps a request to the sorted positions of the rules that may match it."""

    def __init__(self, nodes: Sequence[ir.Node]):
        exact_sources: dict[str, dict[int, tuple[frozenset[Hashable], list[int]]]] = defaultdict(
            dict
        )
        range_sources: dict[str, dict[int, tuple[RangeSet, list[int]]]] = defaultdict(dict)
        each_of: dict[str, bool] = {}
        unguarded: list[int] = []
        for pos, node in enumerate(nodes):
            guard = guard_of(node)
            if guard is None or guard.rank > MAX_GUARD_RANK:
                unguarded.append(pos)
                continue
            for leaf in guard.leaves:
                each_of[leaf.key] = leaf.each
                if isinstance(leaf, ir.Member):
                    keys: frozenset[Hashable] = leaf.keys
                    exact_sources[leaf.key].setdefault(id(keys), (keys, []))[1].append(pos)
                else:
                    range_sources[leaf.key].setdefault(id(leaf.ranges), (leaf.ranges, []))[
                        1
                    ].append(pos)
        self.unguarded = frozenset(unguarded)
        self.unguarded_order = tuple(unguarded)
        self.exact = tuple(
            (key, each_of[key], _merge_exact(sources.values()))
            for key, sources in exact_sources.items()
        )
        self.ranges = tuple(
            (key, each_of[key], *_merge_ranges(sources.values()))
            for key, sources in range_sources.items()
        )

    def candidates(self, r: Request) -> tuple[int, ...]:
        """Positions (ascending) of the rules that may match: guard hits plus unguarded rules."""
        hits: set[int] | None = None
        for key, each, table in self.exact:
            v = r.get(key)
            if v is None:
                continue
            if each:
                for e in v:  # type: ignore[attr-defined]
                    found = table.get(e)
                    if found:
                        if hits is None:
                            hits = set(found)
                        else:
                            hits.update(found)
            else:
                found = table.get(v)
                if found:
                    if hits is None:
                        hits = set(found)
                    else:
                        hits.update(found)
        for key, each, starts, positions in self.ranges:
            v = r.get(key)
            if v is None:
                continue
            for e in v if each else (v,):  # type: ignore[attr-defined]
                i = bisect_right(starts, e) - 1
                if i >= 0 and positions[i]:
                    if hits is None:
                        hits = set(positions[i])
                    else:
                        hits.update(positions[i])
        if not hits:
            return self.unguarded_order
        hits.update(self.unguarded)
        return tuple(sorted(hits))

    @property
    def stats(self) -> dict[str, int]:
        return {
            "unguarded_rules": len(self.unguarded_order),
            "exact_keys": sum(len(t) for _, _, t in self.exact),
            "range_intervals": sum(len(s) for _, _, s, _ in self.ranges),
        }


def _merge_exact(
    sources: Iterable[tuple[frozenset[Hashable], list[int]]],
) -> dict[Hashable, tuple[int, ...]]:
    """One dict for all sources of a key: value -> positions of rules whose guard holds it."""
    table: dict[Hashable, tuple[int, ...]] = {}
    for keys, positions in sources:
        rules = tuple(positions)
        if not table:
            table = dict.fromkeys(keys, rules)
            continue
        common = table.keys() & keys
        if common:
            for k in common:
                table[k] = table[k] + rules
            table.update(dict.fromkeys(keys - common, rules))
        else:
            table.update(dict.fromkeys(keys, rules))
    return table


def _merge_ranges(
    sources: Iterable[tuple[RangeSet, list[int]]],
) -> tuple[list[int], list[tuple[int, ...]]]:
    """Elementary intervals (sorted starts) and the rule positions covering each."""
    events: dict[int, list[tuple[int, tuple[int, ...]]]] = defaultdict(list)
    for ranges, positions in sources:
        rules = tuple(positions)
        for low, high in ranges.ranges:
            events[low].append((1, rules))
            events[high + 1].append((-1, rules))
    active: dict[int, int] = defaultdict(int)
    starts: list[int] = []
    covering: list[tuple[int, ...]] = []
    for point in sorted(events):
        for delta, rules in events[point]:
            for pos in rules:
                active[pos] += delta
                if not active[pos]:
                    del active[pos]
        starts.append(point)
        covering.append(tuple(sorted(active)))
    return starts, covering
