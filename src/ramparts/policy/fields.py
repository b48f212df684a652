"""The typed field registry: which fields exist, their types, and where they may be used."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ramparts.policy.lists import ListKind


class Context(enum.Enum):
    """Where an expression runs. The first five are rule phases."""

    #: DNS policies, before resolution.
    DNS = "dns"
    #: Resolver policies: choose the upstream for a query.
    DNS_RESOLVER = "dns_resolver"
    #: DNS policies after resolution: resolved IPs and CNAMEs are known.
    DNS_POST = "dns_post"
    #: Network (L4) policies.
    NETWORK = "network"
    #: HTTP policies.
    HTTP = "http"
    #: The identity expression of a rule: identity fields only.
    IDENTITY = "identity"


PHASES = (Context.DNS, Context.DNS_RESOLVER, Context.DNS_POST, Context.NETWORK, Context.HTTP)


class FieldType(enum.Enum):
    STRING = "string"
    INT = "integer"
    IP = "IP address"


class Norm(enum.Enum):
    """How string values are normalised, both in literals and in requests."""

    NONE = "none"
    DOMAIN = "domain"
    LOWER = "lower"
    UPPER = "upper"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    contexts: frozenset[Context]
    array: bool = False
    norm: Norm = Norm.NONE
    #: Inclusive bounds of integer values.
    bounds: tuple[int, int] | None = None
    #: List kinds accepted by ``in $list``.
    list_kinds: frozenset[ListKind] = frozenset()
    #: Guard preference for the policy-set index: 0 is most selective (names), 2 least.
    rank: int = 2
    #: Request key holding the form compared against lists, when it differs from ``name``.
    list_key: str | None = None

    @property
    def type_name(self) -> str:
        """For messages: "an integer", "an array of IP address"."""
        if self.array:
            return f"an array of {self.type.value}"
        return ("an " if self.type is not FieldType.STRING else "a ") + self.type.value


_DNS = frozenset({Context.DNS, Context.DNS_RESOLVER, Context.DNS_POST})
_POST = frozenset({Context.DNS_POST})
_HTTP = frozenset({Context.HTTP})
_NET = frozenset({Context.NETWORK})
_CONN = frozenset({Context.NETWORK, Context.HTTP})
_ALL = frozenset(Context)
_NAMES = frozenset({ListKind.DOMAIN, ListKind.HOST})
_IPS = frozenset({ListKind.IP})
_S, _I, _P = FieldType.STRING, FieldType.INT, FieldType.IP
_D = Norm.DOMAIN

#: Request key of the scheme-less form of http.request.uri that URL lists compare against.
URL_LIST_KEY = "http.request.uri#list"

_FIELDS = (
    Field("dns.fqdn", _S, _DNS, norm=_D, list_kinds=_NAMES, rank=0),
    Field("dns.domains", _S, _DNS, array=True, norm=_D, list_kinds=_NAMES, rank=0),
    Field("dns.query_rtype", _S, _DNS, norm=Norm.UPPER),
    Field("dns.location", _S, _DNS),
    Field("dns.src_ip", _P, _DNS, list_kinds=_IPS, rank=1),
    Field("dns.resolved_ips", _P, _POST, array=True, list_kinds=_IPS, rank=1),
    Field("dns.cname", _S, _POST, array=True, norm=_D, list_kinds=_NAMES, rank=0),
    Field("http.request.host", _S, _HTTP, norm=_D, list_kinds=_NAMES, rank=0),
    Field("http.request.domains", _S, _HTTP, array=True, norm=_D, list_kinds=_NAMES, rank=0),
    Field(
        "http.request.uri",
        _S,
        _HTTP,
        list_kinds=frozenset({ListKind.URL}),
        rank=0,
        list_key=URL_LIST_KEY,
    ),
    Field("http.request.uri.path", _S, _HTTP, rank=1),
    Field("http.request.uri.query", _S, _HTTP),
    Field("http.request.method", _S, _HTTP, norm=Norm.UPPER),
    Field("http.response.content_type", _S, _HTTP, norm=Norm.LOWER),
    Field("http.endpoint", _S, _HTTP),
    Field("net.src.ip", _P, _CONN, list_kinds=_IPS, rank=1),
    Field("net.dst.ip", _P, _CONN, list_kinds=_IPS, rank=1),
    Field("net.dst.port", _I, _CONN, bounds=(0, 65535)),
    Field("net.protocol", _S, _NET, norm=Norm.LOWER),
    Field("net.sni.host", _S, _NET, norm=_D, list_kinds=_NAMES, rank=0),
    Field(
        "identity.email",
        _S,
        _ALL,
        norm=Norm.LOWER,
        list_kinds=frozenset({ListKind.EMAIL}),
        rank=1,
    ),
    Field("identity.groups", _S, _ALL, array=True),
    Field("identity.name", _S, _ALL),
    Field("identity.idp", _S, _ALL),
)

FIELDS: dict[str, Field] = {f.name: f for f in _FIELDS}

#: Spellings of the documented product that mean the same field here.
ALIASES = {"identity.groups.name": "identity.groups"}

#: Names and prefixes kept for later versions; using them is a clear compile error.
RESERVED = ("dns.content_category", "location.", "device.", "device_posture.")


def lookup(name: str) -> Field | None:
    """The field of a name (after aliases), or None when unknown."""
    return FIELDS.get(ALIASES.get(name, name))


def is_reserved(name: str) -> bool:
    return any(name == r or (r.endswith(".") and name.startswith(r)) for r in RESERVED)


def fields_for(context: Context) -> tuple[Field, ...]:
    """Fields usable in a context, for error hints and documentation."""
    return tuple(f for f in _FIELDS if context in f.contexts)
