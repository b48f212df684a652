"""Named lists referenced from expressions as ``$name``: domains, hosts, IPs, URLs, e-mails."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from ramparts.policy.domainset import DomainSet, normalize_domain
from ramparts.policy.errors import ListFormatError
from ramparts.policy.ipset import RangeSet, parse_ip_entry

#: Largest number of entries in one list; bounds memory of one download (about 100 B each).
MAX_LIST_ENTRIES = 5_000_000


_EMPTY_RANGES = RangeSet((), ())


class ListKind(enum.Enum):
    #: Domain names; with ``dns.domains`` / ``http.request.domains`` they also match subdomains.
    DOMAIN = "domain"
    #: Exact host names.
    HOST = "host"
    #: IP addresses, CIDR networks and ``a-b`` ranges.
    IP = "ip"
    #: URLs without scheme, compared to the request's host and path (see normalize_url).
    URL = "url"
    #: E-mail addresses, compared case-insensitively.
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class PolicyList:
    """A validated list. ``values`` holds strings for text kinds, ``ranges`` IP key ranges."""

    name: str
    kind: ListKind
    values: frozenset[str] = frozenset()
    ranges: RangeSet = _EMPTY_RANGES

    def __len__(self) -> int:
        return len(self.values) if self.kind is not ListKind.IP else len(self.ranges)

    @property
    def domains(self) -> DomainSet:
        return DomainSet(self.values)

    def __contains__(self, item: object) -> bool:
        if self.kind is ListKind.IP:
            return item in self.ranges
        return item in self.values


def normalize_url(text: str) -> str | None:
    """``https://Example.com/a/?q`` -> ``example.com/a``: no scheme, query, fragment, end slash."""
    url = text.strip()
    if "://" in url:
        url = url.split("://", 1)[1]
    for sep in "?#":
        url = url.split(sep, 1)[0]
    host, _, path = url.partition("/")
    if "@" in host:
        host = host.rsplit("@", 1)[1]
    host_name, colon, port = host.partition(":")
    domain = normalize_domain(host_name)
    if domain is None or (colon and not port.isdigit()):
        return None
    path = path.rstrip("/")
    return domain + (colon + port) + ("/" + path if path else "")


def normalize_email(text: str) -> str | None:
    """Lower-cased address with exactly one ``@`` and a valid domain; None otherwise."""
    local, at, domain = text.strip().lower().rpartition("@")
    if not at or not local or normalize_domain(domain) is None or " " in local:
        return None
    return f"{local}@{domain}"


def make_list(name: str, kind: ListKind, entries: Iterable[str]) -> PolicyList:
    """Validate entries (as typed in the API) and build a list; raises ListFormatError."""
    if kind is ListKind.IP:
        ranges: list[tuple[int, int]] = []
        for number, entry in enumerate(entries, 1):
            try:
                ranges.append(parse_ip_entry(entry))
            except ValueError:
                raise ListFormatError(
                    f"not an IP address or network: {entry!r}", line=number
                ) from None
            _check_size(len(ranges))
        return PolicyList(name, kind, ranges=RangeSet.of(ranges))
    normalize = _NORMALIZERS[kind]
    values: set[str] = set()
    for number, entry in enumerate(entries, 1):
        value = normalize(entry)
        if value is None:
            raise ListFormatError(f"not a valid {kind.value}: {entry!r}", line=number)
        values.add(value)
        _check_size(len(values))
    return PolicyList(name, kind, values=frozenset(values))


def _check_size(count: int) -> None:
    if count > MAX_LIST_ENTRIES:
        raise ListFormatError(f"list has more than {MAX_LIST_ENTRIES} entries")


def _wildcard_domain(text: str) -> str | None:
    # "*.example.com" is stored as "example.com": with dns.domains it matches subdomains.
    text = text.strip()
    return normalize_domain(text[2:] if text.startswith("*.") else text)


_NORMALIZERS = {
    ListKind.DOMAIN: _wildcard_domain,
    ListKind.HOST: normalize_domain,
    ListKind.URL: normalize_url,
    ListKind.EMAIL: normalize_email,
}
