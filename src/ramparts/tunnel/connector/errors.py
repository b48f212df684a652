"""The connector's errors: one base, and one type for every configuration problem."""

from __future__ import annotations

#: Longest hostname quoted back in an error message (characters); the message stays one line.
MAX_QUOTED_HOSTNAME = 80


class ConnectorError(Exception):
    """Base of the tunnel connector's errors."""


class ConfigError(ConnectorError, ValueError):
    """The connector configuration is invalid.

    The message is one line naming where and why, e.g.
    ``ingress rule 2 (app.example.com): service: unsupported scheme 'ftp'``. Rules are numbered
    from 1 in messages, as people count the items of a YAML list.
    """

    def __init__(
        self,
        reason: str,
        *,
        field: str = "",
        rule: int | None = None,
        hostname: str | None = None,
        source: str | None = None,
    ) -> None:
        self.reason = reason
        self.field = field
        self.rule = rule  # 1-based, or None outside the ingress rules
        self.hostname = hostname
        self.source = source  # "file:line:column" for syntax errors, else None
        super().__init__(self._compose())

    def _compose(self) -> str:
        parts: list[str] = []
        if self.source:
            parts.append(self.source)
        if self.rule is not None:
            where = f"ingress rule {self.rule}"
            if self.hostname:
                where += f" ({quote_for_message(self.hostname)})"
            parts.append(where)
        if self.field:
            parts.append(self.field)
        parts.append(self.reason)
        return _escape(": ".join(parts))  # one line, whatever text the parts quote


def quote_for_message(text: str, limit: int = MAX_QUOTED_HOSTNAME) -> str:
    """``text`` made safe for a one-line message: control characters escaped, long text cut."""
    if len(text) > limit:
        text = text[:limit] + "…"
    return _escape(text)


def _escape(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
