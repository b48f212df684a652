"""Shared helpers for the DNS tests: dnspython builds reference messages; an API fixture."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from fastapi.testclient import TestClient

from ramparts.api.app import create_app
from ramparts.api.bootstrap import bootstrap
from ramparts.api.context import ControlPlane
from ramparts.config.dns import DnsConfig, DnsLocationEntry, parse_upstream
from ramparts.config.gateway import GatewayConfig
from ramparts.config.snapshot import Snapshot
from ramparts.dns.resolver import Pending, Resolver
from ramparts.policy import Identity, PolicyRule, compile_policy_set
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


# --- an in-process upstream and resolver builders -----------------------------------------


class FakeUpstream(asyncio.DatagramProtocol):
    """A tiny authoritative-style server over UDP and TCP answering from ``records``
    (``{(name, type): [rdata text]}``; names without a final dot). ``mode`` switches it to
    ``"drop"`` (no answers), ``"servfail"`` or ``"truncate"`` (TC=1 over UDP)."""

    def __init__(self, records: dict[tuple[str, str], list[str]] | None = None) -> None:
        self.records = dict(records or {})
        self.cnames: dict[str, str] = {}
        self.mode = "answer"
        self.ttl = 300
        self.queries: list[tuple[str, str, str]] = []  # (transport, name, type)
        self.transport: asyncio.DatagramTransport | None = None
        self.tcp: asyncio.Server | None = None
        self.port = 0

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((transport, name, rdtype))
        if self.mode == "drop":
            return None
        response = dns.message.make_response(query)
        if self.mode == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        if self.mode == "truncate" and transport == "udp":
            response.flags |= dns.flags.TC
            return response.to_wire()
        owner = name
        if owner in self.cnames:
            target = self.cnames[owner]
            response.answer.append(
                dns.rrset.from_text(owner + ".", self.ttl, "IN", "CNAME", target + ".")
            )
            owner = target
        data = self.records.get((owner, rdtype))
        if data:
            response.answer.append(dns.rrset.from_text(owner + ".", self.ttl, "IN", rdtype, *data))
        elif not any(k[0] == owner for k in self.records) and owner == name:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(
                dns.rrset.from_text(
                    "test.", self.ttl, "IN", "SOA", "ns.test. admin.test. 1 60 60 600 30"
                )
            )
        else:
            response.authority.append(
                dns.rrset.from_text(
                    "test.", self.ttl, "IN", "SOA", "ns.test. admin.test. 1 60 60 600 30"
                )
            )
        if transport == "tcp":
            return response.to_wire(max_size=65535)
        try:
            return response.to_wire()
        except dns.exception.TooBig:
            response.answer.clear()
            response.flags |= dns.flags.TC
            return response.to_wire()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.answer(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                length = int.from_bytes(await reader.readexactly(2), "big")
                reply = self.answer(await reader.readexactly(length), "tcp")
                if reply is not None:
                    writer.write(len(reply).to_bytes(2, "big") + reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def start(self) -> FakeUpstream:
        loop = asyncio.get_running_loop()
        self.tcp = await asyncio.start_server(self._tcp_client, "127.0.0.1", 0)
        self.port = self.tcp.sockets[0].getsockname()[1]
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", self.port))
        return self

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.tcp is not None:
            self.tcp.close()


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    server = await FakeUpstream(
        {
            ("www.example.test", "A"): ["192.0.2.10"],
            ("www.example.test", "AAAA"): ["2001:db8::10"],
            ("ads.example.test", "A"): ["192.0.2.66"],
            ("evil.example.test", "A"): ["203.0.113.7"],
            ("cdn.evil.test", "A"): ["192.0.2.99"],
            ("forcesafesearch.google.com", "A"): ["216.239.38.120"],
            ("strict.bing.com", "A"): ["204.79.197.220"],
        }
    ).start()
    server.cnames["tracked.example.test"] = "cdn.evil.test"
    yield server
    server.close()


def snapshot_for(
    rules: list[PolicyRule],
    locations: list[tuple[str, str, list[str]]],
    upstreams: list[tuple[str, str, str]],
    *,
    version: int = 1,
    **dns_settings: object,
) -> Snapshot:
    """A snapshot with compiled ``rules``, locations ``(id, name, [cidr])`` and upstreams
    ``(name, type, address)``."""
    config = DnsConfig(
        locations=tuple(
            DnsLocationEntry(i, n, tuple(ipaddress.ip_network(c) for c in nets), False)
            for i, n, nets in locations
        ),
        upstreams=tuple(parse_upstream(n, k, a) for n, k, a in upstreams),
        **dns_settings,  # type: ignore[arg-type]
    )
    return Snapshot(
        version,
        "acme",
        "acme.localhost",
        "fp",
        gateway=GatewayConfig(compile_policy_set(rules)),
        dns=config,
    )


async def ask(
    resolver: Resolver,
    name: str,
    rdtype: str = "A",
    *,
    src: str = "127.0.0.2",
    protocol: str = "udp",
    location_id: str | None = None,
    identity: Identity | None = None,
    **make: Any,
) -> dns.message.Message:
    """Send one query through ``resolver.handle`` (and ``complete`` on a miss)."""
    wire = dns.message.make_query(name, rdtype, **make).to_wire()
    out = resolver.handle(wire, protocol, src, location_id, identity)
    if isinstance(out, Pending):
        out = await resolver.complete(out)
    assert isinstance(out, bytes), out
    return dns.message.from_wire(out)
