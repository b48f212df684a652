"""Upstream transports against a real unbound (UDP, TCP, DoT, DoH) with local zones only."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ramparts.config.dns import parse_upstream
from ramparts.dns.constants import TYPE_A, TYPE_TXT
from ramparts.dns.errors import UpstreamError
from ramparts.dns.upstream.pool import UpstreamPool
from ramparts.dns.upstream.transports import StreamTransport
from ramparts.dns.wire.build import upstream_query
from ramparts.dns.wire.names import name_from_text
from ramparts.pki.ca import TeamCA

sys.path.insert(0, str(Path(__file__).parent))
from unbound_harness import Unbound


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    ca = TeamCA.create("upstream-test")
    issued = ca.issue_server_certificate(["resolver.test", "127.0.0.1"])
    directory = tmp_path_factory.mktemp("unbound-tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(issued.cert_pem)
    key.write_bytes(issued.key_pem)
    return cert, key, ca.cert_pem.decode()


@pytest.fixture(scope="module")
def unbound(tls_files: tuple[Path, Path, str]) -> Iterator[Unbound]:
    cert, key, _ca = tls_files
    server = Unbound(tls_cert=cert, tls_key=key).start()
    yield server
    server.destroy()


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _resolve(
    pool: UpstreamPool, entries: list[object], name: str, qtype: int = TYPE_A
) -> list[str]:
    group = pool.group("test", entries)  # type: ignore[arg-type]
    answer = await group.resolve(name_from_text(name), qtype, 1, do=False, cd=False)
    return [str(a) for a in answer.parsed.addresses] or [answer.server.name]


async def test_udp_tcp_and_truncation_retry(unbound: Unbound) -> None:
    pool = UpstreamPool()
    try:
        udp = parse_upstream("u", "udp", f"127.0.0.1:{unbound.port}")
        tcp = parse_upstream("t", "tcp", f"127.0.0.1:{unbound.port}")
        assert await _resolve(pool, [udp], "www.example.test") == ["192.0.2.10"]
        assert await _resolve(pool, [tcp], "www.example.test") == ["192.0.2.10"]
        # 12 TXT records of 200 octets do not fit 1232 over UDP: TC, then TCP.
        group = pool.group("udp", [udp])
        answer = await group.resolve(
            name_from_text("big.example.test"), TYPE_TXT, 1, do=False, cd=False
        )
        assert not answer.parsed.truncated
        assert sum(1 for r in answer.parsed.records if r.rtype == TYPE_TXT) == 12
    finally:
        await pool.close()


async def test_tcp_pipelines_queries_on_one_connection(unbound: Unbound) -> None:
    transport = StreamTransport("127.0.0.1", unbound.port)
    try:
        names = [f"n{i}.example.test" for i in range(40)] + ["www.example.test"]
        queries = [upstream_query(name_from_text(n), TYPE_A, 1, 0) for n in names]
        results = await asyncio.gather(*(transport.exchange(q, 3.0) for q in queries))
        ids = {qid for qid, _ in results}
        assert len(ids) == len(names)  # every query got its own ID and its own answer
        assert all(reply[:2] == qid.to_bytes(2, "big") for qid, reply in results)
        stream = transport._stream
        assert stream is not None and not stream.closed
        first = stream
        await transport.exchange(queries[-1], 3.0)
        assert transport._stream is first  # reused
    finally:
        await transport.close()


async def test_stream_reconnects_after_idle_close(unbound: Unbound) -> None:
    transport = StreamTransport("127.0.0.1", unbound.port, idle_timeout=0.1)
    try:
        query = upstream_query(name_from_text("www.example.test"), TYPE_A, 1, 0)
        await transport.exchange(query, 3.0)
        first = transport._stream
        await asyncio.sleep(0.3)
        assert first is not None and first.closed
        await transport.exchange(query, 3.0)
        assert transport._stream is not first
    finally:
        await transport.close()


async def test_dot_and_doh_with_bootstrap_and_verification(
    unbound: Unbound, tls_files: tuple[Path, Path, str]
) -> None:
    _cert, _key, ca_pem = tls_files
    pool = UpstreamPool()
    try:
        dot = parse_upstream(
            "dot", "dot", f"resolver.test:{unbound.dot_port}", ["127.0.0.1"], tls_ca_pem=ca_pem
        )
        assert await _resolve(pool, [dot], "www.example.test") == ["192.0.2.10"]
        doh = parse_upstream(
            "doh", "doh", f"https://resolver.test:{unbound.doh_port}/dns-query", ["127.0.0.1"],
            tls_ca_pem=ca_pem,
        )  # fmt: skip
        assert await _resolve(pool, [doh], "www.example.test") == ["192.0.2.10"]
        by_ip = parse_upstream("ip", "dot", f"127.0.0.1:{unbound.dot_port}", tls_ca_pem=ca_pem)
        assert await _resolve(pool, [by_ip], "www.example.test") == ["192.0.2.10"]
        # A certificate that does not name what we asked for is refused.
        wrong = parse_upstream(
            "wrong", "dot", f"other.test:{unbound.dot_port}", ["127.0.0.1"], tls_ca_pem=ca_pem
        )
        with pytest.raises(UpstreamError):
            await _resolve(pool, [wrong], "www.example.test")
        # Not trusting the test CA (system store only) fails too.
        untrusted = parse_upstream(
            "sys", "doh", f"https://resolver.test:{unbound.doh_port}/dns-query", ["127.0.0.1"]
        )
        with pytest.raises(UpstreamError):
            await _resolve(pool, [untrusted], "www.example.test")
    finally:
        await pool.close()


async def test_failover_in_order_with_backoff(unbound: Unbound) -> None:
    pool = UpstreamPool()
    try:
        closed = parse_upstream("closed", "udp", f"127.0.0.1:{_free_udp_port()}")
        live = parse_upstream("live", "udp", f"127.0.0.1:{unbound.port}")
        assert await _resolve(pool, [closed, live], "www.example.test") == ["192.0.2.10"]
        servers = {s.name: s for s in pool.all_servers()}
        assert servers["closed"].errors == 1 and servers["closed"].failures == 1
        group = pool.group("test", [closed, live])
        assert [s.name for s in group.ordered()] == ["live", "closed"]
        # Retired when the configuration drops it.
        pool.keep_only([live])
        await pool.close_retired()
        assert [s.name for s in pool.all_servers()] == ["live"]
    finally:
        await pool.close()
