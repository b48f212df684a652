"""Checked reading of config values: where a value sits, and scalar parsers that name it.

Every parser takes the raw value (from YAML or JSON, so any of dict, list, str, int, float,
bool, None and a few YAML extras) and a :class:`Where`, and returns a typed value or raises
:class:`ConfigError` naming the rule and the field.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, NoReturn

from ramparts.tunnel.connector.errors import ConfigError, quote_for_message

#: Longest duration accepted: a year is beyond any sensible timeout and keeps arithmetic finite.
MAX_DURATION_SECONDS = 366 * 24 * 3600.0
#: Longest duration text ("1h2m3.5s" is 8); anything much longer is not a duration.
MAX_DURATION_CHARS = 64
#: Highest TCP/UDP port.
MAX_PORT = 65535

# Go's time.ParseDuration syntax (what cloudflared's YAML durations use): one or more
# decimal numbers, each with a unit; "0" alone needs none.
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 MICRO SIGN
    "μs": 1e-6,  # U+03BC GREEK SMALL LETTER MU
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)"
_DURATION_RE = re.compile(f"(?:{_DURATION_PART})+")
_DURATION_PART_RE = re.compile(_DURATION_PART)


@dataclass(frozen=True, slots=True)
class Where:
    """Where a value sits in the config: ingress rule (1-based) and dotted field path."""

    field: str = ""
    rule: int | None = None
    hostname: str | None = None

    def at(self, name: str) -> Where:
        return Where(f"{self.field}.{name}" if self.field else name, self.rule, self.hostname)

    def item(self, index: int) -> Where:
        return Where(f"{self.field}[{index}]", self.rule, self.hostname)

    def error(self, reason: str) -> ConfigError:
        return ConfigError(reason, field=self.field, rule=self.rule, hostname=self.hostname)

    def fail(self, reason: str) -> NoReturn:
        raise self.error(reason)


class HostPort(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def describe(value: object) -> str:
    """A short name of a raw value's type for messages ("a list", "a number")."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def mapping(value: object, where: Where, allowed: Iterable[str]) -> dict[str, object]:
    """A mapping whose keys are all in ``allowed``; an unknown key is named (with a hint)."""
    if not isinstance(value, Mapping):
        where.fail(f"expected a mapping, got {describe(value)}")
    known = tuple(allowed)
    out: dict[str, object] = {}
    for key, item in value.items():
        if not isinstance(key, str) or key not in known:
            text = quote_for_message(str(key))
            hint = difflib.get_close_matches(str(key), known, n=1)
            suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
            where.fail(f"unknown key '{text}'{suffix}")
        out[key] = item
    return out


def string(value: object, where: Where, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        where.fail(f"expected a string, got {describe(value)}")
    if not allow_empty and not value:
        where.fail("must not be empty")
    if "\x00" in value:
        where.fail("must not contain a NUL character")
    return value


def boolean(value: object, where: Where) -> bool:
    if not isinstance(value, bool):
        where.fail(f"expected true or false, got {describe(value)}")
    return value


def integer(value: object, where: Where, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        where.fail(f"expected a whole number, got {describe(value)}")
    if not low <= value <= high:
        where.fail(f"must be between {low} and {high}, got {value}")
    return value


def duration(value: object, where: Where) -> float:
    """Seconds from a Go-style duration ("30s", "1m30s", "250ms", "0") or a number of seconds."""
    if isinstance(value, bool):
        where.fail("expected a duration like 30s or 1m30s, got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = parse_duration_text(value, where)
    else:
        where.fail(f"expected a duration like 30s or 1m30s, got {describe(value)}")
    if not math.isfinite(seconds) or seconds < 0:
        where.fail(f"must be a duration of zero or more, got {quote_for_message(str(value))}")
    if seconds > MAX_DURATION_SECONDS:
        where.fail("is longer than a year")
    return seconds


def parse_duration_text(text: str, where: Where) -> float:
    if text == "0":
        return 0.0
    if len(text) > MAX_DURATION_CHARS or not _DURATION_RE.fullmatch(text):
        where.fail(
            f"invalid duration '{quote_for_message(text, 32)}' (use a number and a unit:"
            " 500ms, 30s, 1m30s, 2h)"
        )
    return sum(
        float(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART_RE.findall(text)
    )


def format_duration(seconds: float) -> str:
    """The shortest Go-style text for ``seconds`` (for tables and logs)."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


def host_port(value: object, where: Where) -> HostPort:
    """``host:port`` or ``[v6]:port`` (port 0 lets the system choose)."""
    text = string(value, where)
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep or not host:
            where.fail(f"expected host:port or [address]:port, got '{quote_for_message(text)}'")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host or ":" in host:
            where.fail(f"expected host:port or [address]:port, got '{quote_for_message(text)}'")
    if not host.isprintable() or any(c.isspace() for c in host):
        where.fail(f"invalid host '{quote_for_message(host)}'")
    if (
        not 0 < len(port_text) <= 5
        or not port_text.isascii()
        or not port_text.isdigit()
        or int(port_text) > MAX_PORT
    ):
        where.fail(f"invalid port '{quote_for_message(port_text)}' (0-{MAX_PORT})")
    return HostPort(host, int(port_text))
