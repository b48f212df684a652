"""Domain names: normalisation, parent-domain suffixes, and sets matched by label suffix."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: RFC 1035 §2.3.4: a name is at most 255 octets on the wire, 253 characters in text form.
MAX_DOMAIN_CHARS = 253
#: RFC 1035 §2.3.4: a label is at most 63 octets.
MAX_LABEL_CHARS = 63

# Letters, digits, hyphen and underscore (SRV/DMARC names use "_"); no empty labels.
_DOMAIN_RE = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
)


def normalize_domain(text: str) -> str | None:
    """Lower-case, drop one trailing dot, IDNA-encode non-ASCII; None when not a valid name."""
    name = text.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if len(name) > MAX_DOMAIN_CHARS or _DOMAIN_RE.fullmatch(name) is None:
        return None
    return name


def request_domain(text: str) -> str:
    """Cheap normalisation of a name seen in traffic (already ASCII on the wire)."""
    name = text.lower()
    return name[:-1] if name.endswith(".") else name


def domain_suffixes(name: str) -> tuple[str, ...]:
    """The name and each of its parent domains: ``a.b.c`` -> ``("a.b.c", "b.c", "c")``."""
    if not name:
        return ()
    out = [name]
    i = name.find(".")
    while i >= 0:
        out.append(name[i + 1 :])
        i = name.find(".", i + 1)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class DomainSet:
    """A set of normalised names; membership of a name or of any of its parents.

    Lookups cost one hash probe per label of the queried name, whatever the set's size.
    """

    names: frozenset[str]

    @classmethod
    def of(cls, names: Iterable[str]) -> DomainSet:
        """Build from names that are already normalised (see :func:`normalize_domain`)."""
        return cls(frozenset(names))

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def matches(self, name: str) -> bool:
        """True when the name or one of its parent domains is in the set."""
        return not self.names.isdisjoint(domain_suffixes(name))
