"""Ingress rules: which origin serves a request, by hostname and path (cloudflared's rules).

Rules are ordered and the first that matches wins. A rule matches when both hold:

- ``hostname``: absent (or ``*``) matches every host; ``app.example.com`` matches that host
  only; ``*.example.com`` matches any host ending in ``.example.com`` with one or more labels
  before it (``a.example.com``, ``a.b.example.com``, not ``example.com``). Hosts compare without
  case, without a port and without a trailing dot; a Unicode rule also matches its punycode.
- ``path``: absent matches every path; otherwise a regular expression searched anywhere in the
  request's path (query string excluded), so ``/api`` also matches ``/v1/api``: anchor it with
  ``^`` as needed. RE2 syntax, as cloudflared (no backreferences or lookaround).

The last rule must be a catch-all (no hostname, no path), and only the last. An earlier
wildcard rule beats a later exact one, as the order says.

:meth:`IngressRules.match` looks hosts up in dicts built once: every exact hostname and every
wildcard suffix maps to the ordered rules that can match it, so a request costs two or three
dict lookups and the path searches of its candidates, however many rules there are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import idna

from ramparts.tunnel.connector import values
from ramparts.tunnel.connector.errors import quote_for_message
from ramparts.tunnel.connector.origin_request import (
    DEFAULT_ORIGIN_REQUEST,
    OriginRequest,
    parse_origin_request,
)
from ramparts.tunnel.connector.services import Service, StatusService, parse_service
from ramparts.tunnel.connector.values import Where

#: Most rules in one ingress list (matching tables grow with rules x path-only rules).
MAX_INGRESS_RULES = 4096
#: Longest hostname (RFC 1035 §2.3.4) and label (§2.3.1).
MAX_HOSTNAME_CHARS, MAX_LABEL_CHARS = 253, 63
#: Longest run of consecutive host-less path rules searched as one combined regex (keeps each
#: combined pattern quick to compile).
MAX_PATH_RUN = 64
#: Status served while a connector has no rules yet (cloudflared's choice too).
UNCONFIGURED_STATUS = 503
RULE_KEYS = ("hostname", "path", "service", "originRequest")

_LABEL_RE = re.compile(r"[\w-]+")  # letters (IDNs too), digits, '-' and '_'


@dataclass(frozen=True, slots=True)
class IngressRule:
    """One validated rule. ``index`` is its 0-based position (``number`` is 1-based)."""

    index: int
    hostname: str | None  # lowercased, no trailing dot; None matches every host
    path: str | None  # the regular expression as written; None matches every path
    service: Service
    origin_request: OriginRequest
    path_regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    punycode_hostname: str | None = None  # ASCII form of a Unicode hostname

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def is_catch_all(self) -> bool:
        return self.hostname is None and self.path is None

    def matches(self, host: str, path: str) -> bool:
        """This rule alone (the tables in :class:`IngressRules` give the same answers)."""
        key = normalise_host(host)
        names = (self.hostname, self.punycode_hostname)
        host_ok = self.hostname is None or any(n and _host_matches(n, key) for n in names)
        return host_ok and (self.path_regex is None or self.path_regex.search(path) is not None)


class IngressRules:
    """An ordered, validated list of rules ending with a catch-all."""

    __slots__ = ("_by_host", "_by_suffix", "_hostless", "defaults", "rules")

    def __init__(self, rules: Sequence[IngressRule], defaults: OriginRequest) -> None:
        if not rules or not rules[-1].is_catch_all:
            raise ValueError("the last ingress rule must be a catch-all")
        self.rules = tuple(rules)
        self.defaults = defaults
        self._by_host, self._by_suffix, self._hostless = _build_tables(self.rules)

    @classmethod
    def single(
        cls, service: Service, defaults: OriginRequest = DEFAULT_ORIGIN_REQUEST
    ) -> IngressRules:
        """One catch-all rule (the ``--url`` quick form)."""
        return cls([IngressRule(0, None, None, service, defaults)], defaults)

    @classmethod
    def unconfigured(cls) -> IngressRules:
        """What a connector serves before it has rules: 503 for everything."""
        return cls.single(StatusService(UNCONFIGURED_STATUS))

    def match(self, host: str, path: str) -> tuple[int, IngressRule]:
        """The first rule matching ``host`` (a Host header or :authority, port allowed) and
        ``path`` (the URL path without the query, percent-decoded as cloudflared matches it:
        ``urllib.parse.unquote``). Never raises; the catch-all answers when nothing else does.
        """
        if ":" in host or host.endswith(".") or not host.islower():
            host = normalise_host(host)
        candidates = self._by_host.get(host)
        if candidates is None:
            candidates = self._hostless
            by_suffix = self._by_suffix
            if by_suffix:
                dot = host.find(".", 1)
                while dot != -1:
                    found = by_suffix.get(host[dot:])
                    if found is not None:
                        candidates = found
                        break
                    dot = host.find(".", dot + 1)
        for candidate in candidates:
            regex = candidate.path_regex
            if regex is None or regex.search(path) is not None:
                if isinstance(candidate, IngressRule):
                    return candidate.index, candidate
                for rule in candidate.rules:  # a _PathRun found something: which rule?
                    if rule.path_regex is not None and rule.path_regex.search(path) is not None:
                        return rule.index, rule
        # Unreachable: every candidate list ends with the catch-all.
        last = self.rules[-1]
        return last.index, last

    def shadowed(self) -> list[tuple[IngressRule, IngressRule]]:
        """(rule, earlier rule) where the earlier one has no path and takes every host of the
        later one, so the later rule is never used (path regexes are not compared)."""
        out = []
        for rule in self.rules:
            name = rule.hostname
            if name is None:
                continue
            table = self._by_suffix if name.startswith("*.") else self._by_host
            key = name[1:] if name.startswith("*.") else name
            for earlier in table.get(key, ()):
                if not isinstance(earlier, IngressRule):
                    continue  # host-less path rules
                if earlier.index >= rule.index:
                    break
                if earlier.path is None and earlier.hostname is not None:
                    out.append((rule, earlier))
                    break
        return out

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[IngressRule]:
        return iter(self.rules)

    def __getitem__(self, index: int) -> IngressRule:
        return self.rules[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IngressRules):
            return NotImplemented
        return self.rules == other.rules and self.defaults == other.defaults

    def __hash__(self) -> int:
        return hash(self.rules)

    def __repr__(self) -> str:
        return f"IngressRules({len(self.rules)} rules)"


def parse_ingress(
    raw: object,
    defaults: OriginRequest = DEFAULT_ORIGIN_REQUEST,
    base_dir: Path | None = None,
) -> IngressRules:
    """Validate the ``ingress:`` list; raises ConfigError naming the rule and the field."""
    where = Where("ingress")
    if not isinstance(raw, list):
        where.fail(f"expected a list of rules, got {values.describe(raw)}")
    if not raw:
        where.fail("needs at least one rule, and the last must be a catch-all (only a service)")
    if len(raw) > MAX_INGRESS_RULES:
        where.fail(f"more than {MAX_INGRESS_RULES} rules")
    rules = [_parse_rule(i, item, defaults, base_dir) for i, item in enumerate(raw)]
    for rule in rules[:-1]:
        if rule.is_catch_all:
            rest = len(rules) - rule.number
            after = (
                f"rule {rule.number + 1}" if rest == 1 else f"rules {rule.number + 1}-{len(rules)}"
            )
            shown = "'*'" if raw[rule.index].get("hostname") == "*" else "missing"
            _rule_where(rule.index, raw[rule.index]).at("hostname").fail(
                f"{shown}, so this rule matches every request and {after} after it would never"
                " be used; only the last rule may be a catch-all"
            )
    last = rules[-1]
    if not last.is_catch_all:
        key = "hostname" if last.hostname is not None else "path"
        _rule_where(last.index, raw[-1]).at(key).fail(
            "the last rule must match every request (no hostname, no path); add a final rule"
            " such as '- service: http_status:404'"
        )
    return IngressRules(rules, defaults)


def normalise_host(host: str) -> str:
    """A Host or :authority as rules see it: no port or brackets, lowercase, no final dot."""
    if host.startswith("["):
        end = host.find("]")
        if end > 0:
            host = host[1:end]
    elif host.count(":") == 1:
        host = host[: host.index(":")]
    host = host.lower()
    return host[:-1] if host.endswith(".") else host


def _rule_where(index: int, raw: object) -> Where:
    hostname = raw.get("hostname") if isinstance(raw, Mapping) else None
    return Where(rule=index + 1, hostname=hostname if isinstance(hostname, str) else None)


def _parse_rule(
    index: int, raw: object, defaults: OriginRequest, base_dir: Path | None
) -> IngressRule:
    where = _rule_where(index, raw)
    if not isinstance(raw, Mapping):
        where.fail(f"expected a mapping with hostname, path, service, got {values.describe(raw)}")
    items = values.mapping(raw, where, RULE_KEYS)
    hostname, punycode = _parse_hostname(items.get("hostname"), where.at("hostname"))
    path_text, regex = _parse_path(items.get("path"), where.at("path"))
    service = parse_service(items.get("service"), where.at("service"))
    origin = parse_origin_request(
        items.get("originRequest"), defaults, where.at("originRequest"), base_dir
    )
    return IngressRule(index, hostname, path_text, service, origin, regex, punycode)


def _parse_hostname(raw: object, where: Where) -> tuple[str | None, str | None]:
    """(hostname, its punycode form if different); (None, None) for any host."""
    if raw is None:
        return None, None
    text = values.string(raw, where, allow_empty=True)
    if text in ("", "*"):
        return None, None
    if ":" in text:
        where.fail("must not contain a port (the rule matches every port)")
    name = text.lower()
    name = name[:-1] if name.endswith(".") else name
    body = name[2:] if name.startswith("*.") else name
    if "*" in body:
        where.fail("a wildcard may only be the whole first label, e.g. *.example.com")
    if len(body) > MAX_HOSTNAME_CHARS:
        where.fail(f"longer than {MAX_HOSTNAME_CHARS} characters")
    for label in body.split("."):
        if not label:
            where.fail(f"'{quote_for_message(text)}' has an empty label")
        if len(label) > MAX_LABEL_CHARS or not _LABEL_RE.fullmatch(label):
            shown = quote_for_message(label, MAX_LABEL_CHARS)
            where.fail(f"invalid label '{shown}' in '{quote_for_message(text)}'")
    return name, _punycode(name)


def _punycode(name: str) -> str | None:
    if name.isascii():
        return None
    prefix, body = ("*.", name[2:]) if name.startswith("*.") else ("", name)
    try:  # UTS #46 non-transitional (IDNA 2008), as Go's idna.Lookup: ß stays ß
        ascii_name = idna.encode(body, uts46=True, transitional=False).decode("ascii")
    except (UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        return None
    return prefix + ascii_name.lower()


def _parse_path(raw: object, where: Where) -> tuple[str | None, re.Pattern[str] | None]:
    if raw is None:
        return None, None
    text = values.string(raw, where, allow_empty=True)
    if not text:
        return None, None
    # Imported here: only configs with path rules pay for loading the policy package.
    from ramparts.policy.regex import RegexRejected, compile_pattern

    try:
        return text, compile_pattern(text)
    except RegexRejected as exc:
        where.fail(f"invalid regular expression: {exc.reason}")


def _host_matches(rule_host: str, host: str) -> bool:
    if rule_host.startswith("*."):
        suffix = rule_host[1:]
        return host.endswith(suffix) and len(host) > len(suffix)
    return rule_host == host


def _suffixes(name: str, start: int) -> Iterator[str]:
    """``name[i:]`` for every '.' at ``i >= start``, longest first."""
    dot = name.find(".", start)
    while dot != -1:
        yield name[dot:]
        dot = name.find(".", dot + 1)


@dataclass(frozen=True, slots=True, eq=False)
class _PathRun:
    """Consecutive host-less path rules behind one combined regex: when it finds nothing (most
    requests), none of them match; when it finds something, they are tried one by one."""

    path_regex: re.Pattern[str]
    rules: tuple[IngressRule, ...]


_Candidate = IngressRule | _PathRun
_Table = dict[str, tuple[_Candidate, ...]]


def _build_tables(
    rules: tuple[IngressRule, ...],
) -> tuple[_Table, _Table, tuple[_Candidate, ...]]:
    exact: dict[str, list[IngressRule]] = {}
    wildcard: dict[str, list[IngressRule]] = {}  # ".example.com" -> rules of *.example.com
    hostless: list[IngressRule] = []
    for rule in rules:
        if rule.hostname is None:
            hostless.append(rule)
            continue
        for name in {rule.hostname, rule.punycode_hostname} - {None}:
            assert name is not None
            if name.startswith("*."):
                wildcard.setdefault(name[1:], []).append(rule)
            else:
                exact.setdefault(name, []).append(rule)
    runs: dict[tuple[int, ...], tuple[_Candidate, ...]] = {}

    def merged(*groups: Sequence[IngressRule]) -> tuple[_Candidate, ...]:
        by_index = {rule.index: rule for group in groups for rule in group}
        return _with_path_runs([by_index[i] for i in sorted(by_index)], runs)

    def wildcards_of(name: str, start: int) -> list[IngressRule]:
        return [rule for s in _suffixes(name, start) for rule in wildcard.get(s, ())]

    # A host equal to an exact name; a host ending in a wildcard suffix (the longest one that
    # the host ends with holds every wildcard rule matching that host, shorter suffixes too).
    by_host = {
        name: merged(group, wildcards_of(name, 1), hostless) for name, group in exact.items()
    }
    by_suffix = {suffix: merged(wildcards_of(suffix, 0), hostless) for suffix in wildcard}
    return by_host, by_suffix, merged(hostless)


def _with_path_runs(
    ordered: list[IngressRule], cache: dict[tuple[int, ...], tuple[_Candidate, ...]]
) -> tuple[_Candidate, ...]:
    out: list[_Candidate] = []
    run: list[IngressRule] = []

    def flush() -> None:
        if len(run) < 2:
            out.extend(run)
        else:
            key = tuple(rule.index for rule in run)
            if key not in cache:
                cache[key] = _path_run(tuple(run))
            out.extend(cache[key])
        run.clear()

    for rule in ordered:
        if rule.hostname is None and rule.path_regex is not None:
            run.append(rule)
            if len(run) == MAX_PATH_RUN:
                flush()
        else:
            flush()
            out.append(rule)
    flush()
    return tuple(out)


def _path_run(rules: tuple[IngressRule, ...]) -> tuple[_Candidate, ...]:
    """One combined regex for ``rules`` (a search finds something iff one of theirs does)."""
    patterns = [rule.path_regex.pattern for rule in rules if rule.path_regex is not None]
    try:
        combined = re.compile("|".join(f"(?:{p})" for p in patterns))
    except (re.error, RecursionError, OverflowError):  # e.g. (?i) flags or repeated group names
        return rules
    return (_PathRun(combined, rules),)
