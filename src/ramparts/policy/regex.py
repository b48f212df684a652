"""``matches`` patterns: accept the RE2-compatible subset, then compile with :mod:`re`.

RE2 (what the documented product uses) has no backreferences, lookaround, conditionals,
atomic groups or possessive quantifiers; rejecting them keeps patterns portable. Python's
engine backtracks, so patterns whose matching time can explode (an unbounded repetition
inside another) are refused too, and sizes are bounded.
"""

from __future__ import annotations

import re
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

#: Longest pattern accepted (characters). Policies are reviewed by people; keep them readable.
MAX_PATTERN_CHARS = 1024
#: RE2's limit on {n,m} repetition counts.
MAX_REPEAT_COUNT = 1000
#: Deepest group nesting; also keeps the stdlib parser's recursion shallow.
MAX_GROUP_DEPTH = 32
#: Enclosing repetition count up to which a variable part inside is accepted: (\d{1,3}\.){3}
#: tries at most 3**3 splits; (a?){25} would try 2**25.
MAX_NESTED_OUTER = 4
#: Bound on the expanded program size (RE2 refuses programs above a size too).
MAX_PROGRAM_SIZE = 20_000


class RegexRejected(Exception):
    """Internal: the pattern is refused; ``offset`` is where, when known."""

    def __init__(self, reason: str, offset: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


_REJECTED_OPS = {
    "GROUPREF": "backreferences are not supported (RE2 syntax)",
    "GROUPREF_EXISTS": "conditional groups are not supported (RE2 syntax)",
    "ASSERT": "lookahead/lookbehind is not supported (RE2 syntax)",
    "ASSERT_NOT": "lookahead/lookbehind is not supported (RE2 syntax)",
    "ATOMIC_GROUP": "atomic groups are not supported (RE2 syntax)",
    "POSSESSIVE_REPEAT": "possessive quantifiers are not supported (RE2 syntax)",
}


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Validate and compile; raises :class:`RegexRejected` with the reason."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise RegexRejected(f"pattern longer than {MAX_PATTERN_CHARS} characters", 0)
    _check_depth(pattern)
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        raise RegexRejected(f"invalid regex: {exc.msg}", exc.pos or 0) from None
    except (RecursionError, OverflowError, ValueError) as exc:
        raise RegexRejected(f"invalid regex: {exc}", 0) from None
    size = _walk(parsed, outer=1)
    if size > MAX_PROGRAM_SIZE:
        raise RegexRejected(f"pattern expands beyond {MAX_PROGRAM_SIZE} instructions", 0)
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        raise RegexRejected(f"invalid regex: {exc}", 0) from None


def _check_depth(pattern: str) -> None:
    depth = 0
    escaped = False
    in_class = False
    for i, c in enumerate(pattern):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
            if depth > MAX_GROUP_DEPTH:
                raise RegexRejected(f"groups nested deeper than {MAX_GROUP_DEPTH}", i)
        elif c == ")":
            depth = max(0, depth - 1)


def _walk(items: Any, outer: int) -> int:
    """Check every node; return an estimate of the compiled program size.

    ``outer``: how many times enclosing repetitions can run this part (product of their
    maximum counts, ``MAXREPEAT`` when unbounded). Where that exceeds MAX_NESTED_OUTER, a
    repetition of variable count (``+``, ``*``, ``?``, ``{m,n}``) or an alternation whose
    branches can start alike lets a backtracking engine try exponentially many splits.
    """
    inside_repeat = outer > MAX_NESTED_OUTER
    size = 0
    for op, arg in items:
        name = str(op)
        if name in _REJECTED_OPS:
            raise RegexRejected(_REJECTED_OPS[name])
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            low, high, body = arg
            unbounded = high == sre_c.MAXREPEAT
            if max(low, 0 if unbounded else high) > MAX_REPEAT_COUNT:
                raise RegexRejected(f"repetition count above {MAX_REPEAT_COUNT}")
            if inside_repeat and low != high:
                raise RegexRejected(
                    "a repetition inside another repetition (like (a+)* or (a?){9}) can take"
                    " exponential time; to match a domain and its subdomains use"
                    ' any(dns.domains[*] == "example.com")'
                )
            inner = _walk(body, min(sre_c.MAXREPEAT, outer * high))
            size += inner * max(1, low if unbounded else high) + 1
        elif op is sre_c.SUBPATTERN:
            size += _walk(arg[-1], outer) + 1
        elif op is sre_c.BRANCH:
            if inside_repeat and not _distinct_first_literals(arg[1]):
                raise RegexRejected(
                    "alternatives inside a repetition must start with different literal"
                    " characters (like (www|api)+), or matching can take exponential time"
                )
            size += sum(_walk(branch, outer) for branch in arg[1]) + 1
        else:
            size += 1
        if size > MAX_PROGRAM_SIZE:
            raise RegexRejected(f"pattern expands beyond {MAX_PROGRAM_SIZE} instructions")
    return size


def _distinct_first_literals(branches: Any) -> bool:
    firsts = []
    for branch in branches:
        items = list(branch)
        if not items or items[0][0] is not sre_c.LITERAL:
            return False
        firsts.append(items[0][1])
    return len(set(firsts)) == len(firsts)
