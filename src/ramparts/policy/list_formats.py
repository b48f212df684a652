"""List file formats: plain (one entry a line), hosts files, adblock-style filter lists.

Downloaded lists are dirty; parsing is lenient: lines that are not entries of the list's
kind are skipped and counted, never fatal. Only undecodable or oversized input is an error.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ramparts.policy.domainset import MAX_DOMAIN_CHARS, normalize_domain
from ramparts.policy.errors import ListFormatError
from ramparts.policy.ipset import RangeSet, parse_ip_entry
from ramparts.policy.lists import (
    MAX_LIST_ENTRIES,
    ListKind,
    PolicyList,
    normalize_email,
    normalize_url,
)

#: Largest list file accepted (a 1,000,000-domain list is about 20 MB).
MAX_LIST_BYTES = 64 * 1024 * 1024
#: Lines, and characters, looked at when guessing the format.
SNIFF_LINES = 200
SNIFF_CHARS = 64 * 1024
#: Text is split into lines a chunk at a time, so no list of every line is ever held.
LINE_CHUNK_CHARS = 1 << 20
#: Names found in hosts files that must never be blocked (loopback, broadcast).
HOSTS_SKIP = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
        "ip6-localhost",
        "ip6-loopback",
        "ip6-localnet",
        "ip6-mcastprefix",
        "ip6-allnodes",
        "ip6-allrouters",
        "ip6-allhosts",
        "0.0.0.0",
    }
)
#: Adblock rule options that still make sense for a whole-domain DNS block.
ADBLOCK_DNS_OPTIONS = frozenset({"important", "all", "document", "doc"})

_COSMETIC = re.compile(r"#[@?$%]?#|#@\$#|\$\$")
_ASCII_DOMAIN = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
).fullmatch


class ListFormat(enum.Enum):
    AUTO = "auto"
    PLAIN = "plain"
    HOSTS = "hosts"
    ADBLOCK = "adblock"


@dataclass(frozen=True, slots=True)
class ParsedList:
    format: ListFormat
    values: frozenset[str]
    ranges: RangeSet
    #: Lines that were neither entries, comments nor blank.
    skipped: int
    #: Adblock ``@@`` exception entries (removed from ``values`` when exact).
    exceptions: frozenset[str]

    def to_list(self, name: str, kind: ListKind) -> PolicyList:
        return PolicyList(name, kind, values=self.values, ranges=self.ranges)


def load_list(
    name: str, kind: ListKind, data: bytes, fmt: ListFormat = ListFormat.AUTO
) -> PolicyList:
    """Parse list content into a named list."""
    return parse_list(data, kind, fmt).to_list(name, kind)


def load_list_file(
    path: str | Path, name: str, kind: ListKind, fmt: ListFormat = ListFormat.AUTO
) -> PolicyList:
    """Read and parse a list file (raises OSError for I/O, ListFormatError for content)."""
    p = Path(path)
    if p.stat().st_size > MAX_LIST_BYTES:
        raise ListFormatError(f"list file is larger than {MAX_LIST_BYTES} bytes")
    return load_list(name, kind, p.read_bytes(), fmt)


def parse_list(data: bytes, kind: ListKind, fmt: ListFormat = ListFormat.AUTO) -> ParsedList:
    """Parse list content. Raises :class:`ListFormatError` and nothing else."""
    if len(data) > MAX_LIST_BYTES:
        raise ListFormatError(f"list is larger than {MAX_LIST_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ListFormatError(f"list is not UTF-8 text (byte {exc.start})") from None
    if kind is ListKind.IP:
        return _parse_ips(_lines(text))
    text = text.lower()
    if fmt is ListFormat.AUTO:
        fmt = ListFormat.PLAIN
        if kind in (ListKind.DOMAIN, ListKind.HOST):
            fmt = sniff_format(text[:SNIFF_CHARS].splitlines())
    if fmt is ListFormat.ADBLOCK:
        return _parse_adblock(_lines(text))
    if fmt is ListFormat.HOSTS:
        return _parse_hosts(_lines(text))
    if kind in (ListKind.DOMAIN, ListKind.HOST):
        return _parse_plain_domains(_lines(text))
    normalize = normalize_url if kind is ListKind.URL else normalize_email
    skipped = [0]

    def entries() -> Iterator[str]:
        for line in _lines(text):
            entry = _uncomment(line)
            if entry:
                value = normalize(entry)
                if value is None:
                    skipped[0] += 1
                else:
                    yield value

    return _result(ListFormat.PLAIN, frozenset(entries()), skipped[0])


def _lines(text: str) -> Iterator[str]:
    """Lines of a large text without holding a list of all of them (keeps peak memory low)."""
    pos = 0
    n = len(text)
    while pos < n:
        end = text.find("\n", pos + LINE_CHUNK_CHARS)
        if end < 0:
            end = n
        yield from text[pos:end].splitlines()
        pos = end + 1


def sniff_format(lines: list[str]) -> ListFormat:
    """Guess a domain list's format from its first meaningful lines."""
    seen = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith(("||", "@@", "[adblock")) or _COSMETIC.search(line):
            return ListFormat.ADBLOCK
        if line.startswith(("#", "!")):
            continue
        first = line.split(None, 1)
        if len(first) == 2 and _is_ip(first[0]):
            return ListFormat.HOSTS
        seen += 1
        if seen >= SNIFF_LINES:
            break
    return ListFormat.PLAIN


def _is_ip(text: str) -> bool:
    try:
        parse_ip_entry(text)
    except ValueError:
        return False
    return "/" not in text and "-" not in text


def _uncomment(line: str) -> str:
    if "#" in line:
        line = line.split("#", 1)[0]
    return line.strip()


def _domain(entry: str) -> str | None:
    """Fast path for the common case; falls back to full normalisation."""
    if entry.endswith("."):
        entry = entry[:-1]
    if entry.startswith("*."):
        entry = entry[2:]
    if len(entry) <= MAX_DOMAIN_CHARS and entry.isascii() and _ASCII_DOMAIN(entry):
        return entry
    return normalize_domain(entry) if not entry.isascii() else None


def _parse_plain_domains(lines: Iterable[str]) -> ParsedList:
    skipped = [0]

    def names() -> Iterator[str]:
        for line in lines:
            if "#" in line:
                line = line.split("#", 1)[0]
            entry = line.strip()
            if not entry or entry.startswith("!"):  # some plain lists use adblock comments
                continue
            name = _domain(entry)
            if name is None:
                skipped[0] += 1
            else:
                yield name

    values = frozenset(names())
    return _result(ListFormat.PLAIN, values, skipped[0])


def _parse_hosts(lines: Iterable[str]) -> ParsedList:
    values: set[str] = set()
    skipped = 0
    for line in lines:
        parts = _uncomment(line).split()
        if not parts:
            continue
        if len(parts) < 2 or not _is_ip(parts[0]):
            skipped += 1
            continue
        for host in parts[1:]:
            if host in HOSTS_SKIP:
                continue
            name = _domain(host)
            if name is None:
                skipped += 1
            else:
                values.add(name)
    return _result(ListFormat.HOSTS, values, skipped)


def _parse_adblock(lines: Iterable[str]) -> ParsedList:
    values: set[str] = set()
    exceptions: set[str] = set()
    skipped = 0
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(("!", "[")) or (line.startswith("#") and " " in line):
            continue
        if _COSMETIC.search(line):
            continue  # element hiding and scriptlets: browser-only
        target = values
        if line.startswith("@@"):
            target = exceptions
            line = line[2:]
        name = _adblock_domain(line)
        if name is None:
            skipped += 1
        else:
            target.add(name)
    values -= exceptions
    return _result(ListFormat.ADBLOCK, values, skipped, exceptions)


def _adblock_domain(rule: str) -> str | None:
    """The domain of a whole-domain rule (``||example.com^``, plain name, hosts line)."""
    if rule.startswith("||"):
        body, _, options = rule[2:].partition("$")
        if options and not set(options.split(",")) <= ADBLOCK_DNS_OPTIONS:
            return None
        body = body.removesuffix("|").removesuffix("^")
        if body.startswith("*."):
            body = body[2:]
        if not body or any(c in body for c in "/^*|:?=&"):
            return None
        return _domain(body)
    if rule.startswith(("|", "/")) or "$" in rule:
        return None
    parts = rule.split()
    if len(parts) == 2 and _is_ip(parts[0]):
        return None if parts[1] in HOSTS_SKIP else _domain(parts[1])
    return _domain(rule) if len(parts) == 1 else None


def _parse_ips(lines: Iterable[str]) -> ParsedList:
    ranges: list[tuple[int, int]] = []
    skipped = 0
    for line in lines:
        entry = _uncomment(line)
        if not entry:
            continue
        try:
            ranges.append(parse_ip_entry(entry))
        except ValueError:
            skipped += 1
        if len(ranges) > MAX_LIST_ENTRIES:
            raise ListFormatError(f"list has more than {MAX_LIST_ENTRIES} entries")
    return ParsedList(ListFormat.PLAIN, frozenset(), RangeSet.of(ranges), skipped, frozenset())


def _result(
    fmt: ListFormat,
    values: set[str] | frozenset[str],
    skipped: int,
    exceptions: set[str] | None = None,
) -> ParsedList:
    if len(values) > MAX_LIST_ENTRIES:
        raise ListFormatError(f"list has more than {MAX_LIST_ENTRIES} entries")
    return ParsedList(
        fmt, frozenset(values), RangeSet((), ()), skipped, frozenset(exceptions or ())
    )
