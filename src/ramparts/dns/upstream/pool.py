"""Upstream servers with health, and groups that fail over between them in order.

One ``UpstreamServer`` per (upstream, address): it keeps its transport (sockets, connections)
and its health across snapshots for as long as the upstream's definition does not change.
A group tries its servers in configured order, skipping those marked down after failures
(exponential backoff); when every server is down it still tries them, soonest-back first.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ramparts.config.dns import UpstreamEntry, UpstreamKind
from ramparts.dns.constants import RCODE_NOTIMP, RCODE_REFUSED, RCODE_SERVFAIL
from ramparts.dns.errors import ResponseError, UpstreamError, UpstreamUnavailable
from ramparts.dns.upstream.doh import DohTransport
from ramparts.dns.upstream.transports import StreamTransport, Transport, UdpTransport
from ramparts.dns.wire.build import upstream_query
from ramparts.dns.wire.response import ParsedResponse, parse_response

ATTEMPT_TIMEOUT = 1.5
"""Seconds one server gets before the next is tried (stub clients retry after 1-5 s)."""
QUERY_DEADLINE = 4.0
"""Seconds a client query may spend on upstreams in total, across failover."""
DOWN_BACKOFF_BASE = 2.0
DOWN_BACKOFF_MAX = 60.0
"""A failed server is skipped for 2, 4, 8 … up to 60 s while others answer."""
_RETRY_NEXT_RCODES = frozenset({RCODE_SERVFAIL, RCODE_REFUSED, RCODE_NOTIMP})
"""Answers that say this server cannot serve us: ask the next one (as stub resolvers do)."""


@dataclass(slots=True)
class UpstreamServer:
    name: str  # the upstream's configured name (query log, metrics)
    address: str
    transport: Transport
    failures: int = 0
    down_until: float = 0.0
    queries: int = 0
    errors: int = 0

    def up(self, now: float) -> bool:
        return now >= self.down_until

    def succeeded(self) -> None:
        self.failures = 0
        self.down_until = 0.0

    def failed(self, now: float) -> None:
        self.failures += 1
        self.errors += 1
        backoff = min(DOWN_BACKOFF_BASE * 2 ** (self.failures - 1), DOWN_BACKOFF_MAX)
        self.down_until = now + backoff


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    server: UpstreamServer
    packet: bytes
    parsed: ParsedResponse


@dataclass(slots=True)
class UpstreamGroup:
    """Servers tried in order for one route (all configured upstreams, or a resolver
    policy's chosen one)."""

    name: str
    servers: tuple[UpstreamServer, ...]
    clock: Callable[[], float] = field(default=time.monotonic)

    def ordered(self) -> list[UpstreamServer]:
        now = self.clock()
        live = [s for s in self.servers if s.up(now)]
        down = sorted((s for s in self.servers if not s.up(now)), key=lambda s: s.down_until)
        return live + down

    async def resolve(
        self, qname_wire: bytes, qtype: int, qclass: int, *, do: bool, cd: bool
    ) -> UpstreamAnswer:
        """A validated answer from the first server that gives a usable one."""
        if not self.servers:
            raise UpstreamUnavailable("no upstream resolver configured")
        query = upstream_query(qname_wire, qtype, qclass, 0, do=do, cd=cd)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + QUERY_DEADLINE
        last_error: Exception = UpstreamUnavailable("no upstream answered")
        fallback: UpstreamAnswer | None = None
        for server in self.ordered():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            server.queries += 1
            try:
                qid, packet = await server.transport.exchange(
                    query, min(ATTEMPT_TIMEOUT, remaining)
                )
                parsed = parse_response(
                    packet, query_id=qid, qname_wire=qname_wire, qtype=qtype, qclass=qclass
                )
            except (UpstreamError, ResponseError) as exc:
                server.failed(self.clock())
                last_error = exc
                continue
            answer = UpstreamAnswer(server, packet, parsed)
            if parsed.rcode in _RETRY_NEXT_RCODES:
                # The server is alive (no backoff) but cannot answer: keep it as a fallback.
                server.succeeded()
                fallback = fallback or answer
                continue
            server.succeeded()
            return answer
        if fallback is not None:
            return fallback
        raise (
            last_error
            if isinstance(last_error, UpstreamError)
            else UpstreamUnavailable(str(last_error))
        )


def client_context(entry: UpstreamEntry) -> ssl.SSLContext:
    """TLS client context for a DoT/DoH upstream: the system's CAs, or its own CA."""
    if entry.tls_ca_pem:
        context = ssl.create_default_context(cadata=entry.tls_ca_pem)
    else:
        context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def make_transport(entry: UpstreamEntry, address: str) -> Transport:
    kind = entry.kind
    if kind is UpstreamKind.UDP:
        return UdpTransport(address, entry.port)
    if kind is UpstreamKind.TCP:
        return StreamTransport(address, entry.port)
    context = client_context(entry)
    server_name = entry.tls_name or entry.host
    if kind is UpstreamKind.DOT:
        return StreamTransport(address, entry.port, context, server_hostname=server_name)
    return DohTransport(address, entry.port, entry.path, entry.host, context, entry.tls_name)


class UpstreamPool:
    """Every server the resolver may use, keyed by their definition so a new snapshot with
    the same upstreams keeps sockets, connections and health."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._servers: dict[UpstreamEntry, tuple[UpstreamServer, ...]] = {}
        self._groups: dict[tuple[str, tuple[UpstreamEntry, ...]], UpstreamGroup] = {}
        self._retired: list[UpstreamServer] = []

    def servers(self, entry: UpstreamEntry) -> tuple[UpstreamServer, ...]:
        found = self._servers.get(entry)
        if found is None:
            found = tuple(
                UpstreamServer(entry.name, address, make_transport(entry, address))
                for address in entry.addresses
            )
            self._servers[entry] = found
        return found

    def group(self, name: str, entries: Iterable[UpstreamEntry]) -> UpstreamGroup:
        key = (name, tuple(entries))
        group = self._groups.get(key)
        if group is None:
            servers = tuple(s for entry in key[1] for s in self.servers(entry))
            group = UpstreamGroup(name, servers, self._clock)
            self._groups[key] = group
        return group

    def keep_only(self, entries: Iterable[UpstreamEntry]) -> None:
        """Forget servers of upstreams no longer configured (closed by ``close_retired``)."""
        wanted = set(entries)
        for entry in [e for e in self._servers if e not in wanted]:
            self._retired.extend(self._servers.pop(entry))
        self._groups = {
            k: g for k, g in self._groups.items() if all(e in self._servers for e in k[1])
        }

    async def close_retired(self) -> None:
        retired, self._retired = self._retired, []
        for server in retired:
            await server.transport.close()

    async def close(self) -> None:
        for servers in self._servers.values():
            self._retired.extend(servers)
        self._servers.clear()
        self._groups.clear()
        await self.close_retired()

    def all_servers(self) -> list[UpstreamServer]:
        return [s for servers in self._servers.values() for s in servers]
