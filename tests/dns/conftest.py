"""Shared helpers for the DNS tests: dnspython builds reference messages; an API fixture."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest
from fastapi.testclient import TestClient

from ramparts.api.app import create_app
from ramparts.api.bootstrap import bootstrap
from ramparts.api.context import ControlPlane
from ramparts.store import Database


def make_query_wire(
    name: str = "www.example.com",
    rdtype: str = "A",
    *,
    qid: int = 4242,
    use_edns: int | bool | None = None,
    want_dnssec: bool = False,
    payload: int = 1232,
    options: list[dns.edns.Option] | None = None,
    flags: int | None = None,
) -> bytes:
    if use_edns is None and not want_dnssec and not options:
        message = dns.message.make_query(name, rdtype)
    else:
        message = dns.message.make_query(
            name, rdtype, use_edns=use_edns, want_dnssec=want_dnssec, payload=payload,
            options=options,
        )  # fmt: skip
    message.id = qid
    if flags is not None:
        message.flags = flags
    return message.to_wire()


def make_upstream_response(
    name: str,
    rdtype: str,
    *,
    qid: int = 7,
    answers: list[tuple[str, int, str, list[str]]] = (),  # type: ignore[assignment]
    authority: list[tuple[str, int, str, list[str]]] = (),  # type: ignore[assignment]
    additional: list[tuple[str, int, str, list[str]]] = (),  # type: ignore[assignment]
    rcode: int = 0,
    use_edns: bool = True,
    ad: bool = False,
) -> bytes:
    query = dns.message.make_query(name, rdtype, use_edns=0 if use_edns else None)
    query.id = qid
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.Rcode(rcode))
    if ad:
        response.flags |= dns.flags.AD
    for section, rows in (
        (response.answer, answers),
        (response.authority, authority),
        (response.additional, additional),
    ):
        for owner, ttl, rtype, rdatas in rows:
            section.append(dns.rrset.from_text(owner, ttl, "IN", rtype, *rdatas))
    return response.to_wire()


QueryBuilder = Callable[..., bytes]
ResponseBuilder = Callable[..., bytes]


@pytest.fixture
def make_query() -> QueryBuilder:
    """``make_query_wire(name, rdtype, *, qid, use_edns, want_dnssec, payload, options, flags)``."""
    return make_query_wire


@pytest.fixture
def make_response() -> ResponseBuilder:
    """``make_upstream_response(name, rdtype, *, qid, answers, authority, additional, rcode,
    use_edns, ad)``; rows are (owner, ttl, type, [rdata text, ...])."""
    return make_upstream_response


# --- the control plane, for API tests -----------------------------------------------------


@dataclass
class DnsApi:
    client: TestClient
    token: str
    plane: ControlPlane

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def dns_api(db: Database, tmp_path: Path) -> Iterator[DnsApi]:
    boot = bootstrap(db, tmp_path, "acme", "acme.localhost")
    assert boot.admin_token is not None
    plane = ControlPlane(db, boot.team, ["127.0.0.1:7844"])
    with TestClient(create_app(plane), raise_server_exceptions=False) as client:
        yield DnsApi(client, boot.admin_token, plane)
