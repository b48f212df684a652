"""Per-request field values, validated and normalised once at the boundary.

A request is a plain ``dict`` (see :mod:`ramparts.policy.closures` for why). Builders here
fill derived keys: ``dns.domains`` / ``http.request.domains`` (the name and its parents),
the parts of ``http.request.uri``, and the scheme-less form URL lists compare against.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ramparts.policy.domainset import domain_suffixes, request_domain
from ramparts.policy.errors import PolicyError
from ramparts.policy.fields import URL_LIST_KEY, Field, FieldType, Norm, lookup
from ramparts.policy.ipset import address_key, parse_address_key
from ramparts.policy.lists import normalize_url

#: Elements kept of an array field (groups, resolved IPs, CNAMEs); more are dropped.
MAX_ARRAY_ELEMENTS = 1024


class RequestError(PolicyError):
    """A described request names an unknown field or holds a value of the wrong type."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who sent the traffic, when known (device client, proxy login, Access session)."""

    email: str | None = None
    groups: tuple[str, ...] = ()
    name: str | None = None
    idp: str | None = None

    def fields(self) -> dict[str, object]:
        out: dict[str, object] = {"identity.groups": self.groups[:MAX_ARRAY_ELEMENTS]}
        if self.email is not None:
            out["identity.email"] = self.email.lower()
        if self.name is not None:
            out["identity.name"] = self.name
        if self.idp is not None:
            out["identity.idp"] = self.idp
        return out


def dns_request(
    fqdn: str,
    query_rtype: str = "A",
    *,
    src_ip: str | None = None,
    location: str | None = None,
    resolved_ips: Sequence[str] = (),
    cname: Sequence[str] = (),
    identity: Identity | None = None,
) -> dict[str, object]:
    """Request of a DNS query (and, with resolved_ips / cname, of its answer)."""
    name = request_domain(fqdn)
    r: dict[str, object] = {
        "dns.fqdn": name,
        "dns.domains": domain_suffixes(name),
        "dns.query_rtype": query_rtype.upper(),
    }
    if resolved_ips:
        r["dns.resolved_ips"] = tuple([parse_address_key(ip) for ip in resolved_ips])
    if cname:
        r["dns.cname"] = tuple([request_domain(c) for c in cname])
    if src_ip is not None:
        r["dns.src_ip"] = parse_address_key(src_ip)
    if location is not None:
        r["dns.location"] = location
    if identity is not None:
        r.update(identity.fields())
    return r


def http_request(
    uri: str,
    method: str = "GET",
    *,
    src_ip: str | None = None,
    dst_ip: str | None = None,
    dst_port: int | None = None,
    content_type: str | None = None,
    endpoint: str | None = None,
    identity: Identity | None = None,
) -> dict[str, object]:
    """Request of an HTTP request; host, path and query come from the URI."""
    r: dict[str, object] = {"http.request.method": method.upper()}
    _add_uri(r, uri)
    for key, ip in (("net.src.ip", src_ip), ("net.dst.ip", dst_ip)):
        if ip is not None:
            r[key] = parse_address_key(ip)
    if dst_port is not None:
        r["net.dst.port"] = dst_port
    if content_type is not None:
        r["http.response.content_type"] = content_type.lower()
    if endpoint is not None:
        r["http.endpoint"] = endpoint
    if identity is not None:
        r.update(identity.fields())
    return r


def network_request(
    dst_ip: str,
    dst_port: int,
    protocol: str = "tcp",
    *,
    src_ip: str | None = None,
    sni_host: str | None = None,
    identity: Identity | None = None,
) -> dict[str, object]:
    """Request of a network connection (L4)."""
    r: dict[str, object] = {
        "net.dst.ip": parse_address_key(dst_ip),
        "net.dst.port": dst_port,
        "net.protocol": protocol.lower(),
    }
    if src_ip is not None:
        r["net.src.ip"] = parse_address_key(src_ip)
    if sni_host is not None:
        r["net.sni.host"] = request_domain(sni_host)
    if identity is not None:
        r.update(identity.fields())
    return r


def build_request(values: Mapping[str, object]) -> dict[str, object]:
    """Request from field names to loosely typed values (CLI ``policy test``, API, tests).

    Strings are accepted for every type; arrays take any iterable. Derived keys are filled
    in when their source is given. Raises :class:`RequestError`.
    """
    r: dict[str, object] = {}
    for name, raw in values.items():
        field = lookup(name)
        if field is None:
            raise RequestError(f"unknown field {name!r}")
        if field.array:
            if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
                raise RequestError(f"{field.name} is an array; give a list of values")
            items = list(raw)[:MAX_ARRAY_ELEMENTS]
            r[field.name] = tuple(_scalar(field, v) for v in items)
        else:
            r[field.name] = _scalar(field, raw)
    if "dns.fqdn" in r and "dns.domains" not in r:
        r["dns.domains"] = domain_suffixes(str(r["dns.fqdn"]))
    if "http.request.uri" in r:
        _add_uri(r, str(r["http.request.uri"]), keep=True)
    if "http.request.host" in r and "http.request.domains" not in r:
        r["http.request.domains"] = domain_suffixes(str(r["http.request.host"]))
    return r


def _add_uri(r: dict[str, object], uri: str, *, keep: bool = False) -> None:
    r["http.request.uri"] = uri
    list_form = normalize_url(uri)
    if list_form is not None:
        r[URL_LIST_KEY] = list_form
    try:
        parts = urlsplit(uri if "://" in uri else "http://" + uri)
        host = parts.hostname
    except ValueError:
        return
    derived = {
        "http.request.uri.path": parts.path or "/",
        "http.request.uri.query": parts.query,
    }
    if host:
        name = request_domain(host)
        derived["http.request.host"] = name
    for key, value in derived.items():
        if not keep or key not in r:
            r[key] = value
    if "http.request.host" in derived and (not keep or "http.request.domains" not in r):
        r["http.request.domains"] = domain_suffixes(str(r["http.request.host"]))


def _scalar(field: Field, raw: object) -> object:
    if field.type is FieldType.IP:
        if isinstance(raw, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return address_key(raw)
        try:
            return parse_address_key(str(raw))
        except ValueError:
            raise RequestError(f"{field.name}: {raw!r} is not an IP address") from None
    if field.type is FieldType.INT:
        try:
            number = int(str(raw))
        except ValueError:
            raise RequestError(f"{field.name}: {raw!r} is not an integer") from None
        if field.bounds and not field.bounds[0] <= number <= field.bounds[1]:
            raise RequestError(f"{field.name}: {number} is out of range")
        return number
    text = str(raw)
    if field.norm is Norm.DOMAIN:
        return request_domain(text)
    if field.norm is Norm.LOWER:
        return text.lower()
    if field.norm is Norm.UPPER:
        return text.upper()
    return text
