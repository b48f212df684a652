"""Errors of the policy package: one hierarchy, positioned where it concerns an expression."""

from __future__ import annotations

#: How much of a long source line is shown around the caret in a rendered error.
RENDER_CONTEXT_CHARS = 60


class PolicyError(Exception):
    """Base class of every error raised by :mod:`ramparts.policy`."""


class ExpressionError(PolicyError):
    """An error at a position of an expression's source text.

    ``line`` and ``column`` are 1-based; ``offset`` is the 0-based character offset.
    ``str(error)`` is the rendered message: the reason, the source line and a caret.
    """

    def __init__(self, reason: str, source: str, offset: int, *, expected: str | None = None):
        self.reason = reason
        self.source = source
        self.offset = max(0, min(offset, len(source)))
        self.expected = expected
        self.line, self.column = line_and_column(source, self.offset)
        super().__init__(self.render())

    @property
    def message(self) -> str:
        """The reason, with what was expected when that is known."""
        if self.expected is None:
            return self.reason
        return f"{self.reason}; expected {self.expected}"

    def render(self) -> str:
        """The message, the offending source line and a caret under the column."""
        text = source_line(self.source, self.line)
        col = self.column - 1
        start = 0
        if len(text) > 2 * RENDER_CONTEXT_CHARS:
            start = max(0, col - RENDER_CONTEXT_CHARS)
            text = text[start : col + RENDER_CONTEXT_CHARS]
        shown = "".join(c if c.isprintable() else " " for c in text)
        caret = " " * (col - start) + "^"
        return f"line {self.line}, column {self.column}: {self.message}\n  {shown}\n  {caret}"


class PolicySyntaxError(ExpressionError):
    """The text is not a well-formed expression (lexer or parser)."""


class PolicyCompileError(ExpressionError):
    """The expression is well-formed but wrong: unknown field, wrong context, type, list, regex."""


class PolicyRuleError(PolicyError):
    """A rule of a policy set could not be compiled; names the rule and wraps the cause."""

    def __init__(self, rule_id: str, rule_name: str, part: str, cause: PolicyError):
        self.rule_id = rule_id
        self.rule_name = rule_name
        self.part = part
        self.cause = cause
        super().__init__(f"policy {rule_name!r} (id {rule_id}), {part}: {cause}")


class ListFormatError(PolicyError):
    """A list's content could not be parsed (bad entry, too large, undecodable)."""

    def __init__(self, reason: str, *, line: int | None = None):
        self.reason = reason
        self.line = line
        super().__init__(reason if line is None else f"line {line}: {reason}")


def line_and_column(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a 0-based offset."""
    line = source.count("\n", 0, offset) + 1
    line_start = source.rfind("\n", 0, offset) + 1
    return line, offset - line_start + 1


def source_line(source: str, line: int) -> str:
    """The text of a 1-based line, without its newline."""
    lines = source.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1].rstrip("\r")
    return ""
