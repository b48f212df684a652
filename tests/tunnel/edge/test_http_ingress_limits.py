"""The public HTTPS listener's limits: slow clients, stream floods, bad requests, no routes."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import pytest

from ramparts.edge.metrics import EdgeMetrics
from ramparts.store.repositories import tunnel_routes, versions
from ramparts.tunnel.connector.supervisor import ConnectorSupervisor
from ramparts.tunnel.edge.http_ingress import HttpsIngress
from ramparts.tunnel.mux import MuxStream
from ramparts.tunnel.protocol import ResponseMeta, Settings

from .conftest import Edge

HOST = "app.acme.localhost"


@pytest.fixture
async def ingress(edge: Edge) -> AsyncIterator[HttpsIngress]:
    with edge.db.transaction() as s:
        tunnel_routes.add_hostname(s, "demo", HOST)
        versions.bump(s)
    edge.server.apply(edge.snapshot())
    service = HttpsIngress(
        host="127.0.0.1",
        port=0,
        certfile=edge.certfile,
        keyfile=edge.keyfile,
        metrics=EdgeMetrics(),
        registry=edge.registry,
        drain_timeout=1.0,
        head_timeout=0.5,
        idle_timeout=1.0,
    )
    await service.start(edge.snapshot())
    yield service
    await service.stop()


async def _connect(
    ingress: HttpsIngress, edge: Edge
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = ingress.addresses["https"].rsplit(":", 1)
    context = ssl.create_default_context(cadata=edge.ca.cert_pem.decode())
    return await asyncio.open_connection(host, int(port), ssl=context, server_hostname=HOST)


async def _request(ingress: HttpsIngress, edge: Edge, raw: bytes) -> bytes:
    reader, writer = await _connect(ingress, edge)
    writer.write(raw)
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


async def test_slow_loris_is_cut_off_at_the_head_timeout(ingress: HttpsIngress, edge: Edge) -> None:
    reader, writer = await _connect(ingress, edge)
    writer.write(b"GET / HTTP/1.1\r\nHost: ")
    started = asyncio.get_running_loop().time()
    for _ in range(20):  # a byte every 0.1 s: the head never completes in time
        if reader.at_eof():
            break
        writer.write(b"a")
        await asyncio.sleep(0.1)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert asyncio.get_running_loop().time() - started < 2.0
    writer.close()


async def test_malformed_requests_get_a_clear_4xx(ingress: HttpsIngress, edge: Edge) -> None:
    smuggling = (
        b"POST / HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    assert (await _request(ingress, edge, smuggling)).startswith(b"HTTP/1.1 400")
    huge = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    assert (await _request(ingress, edge, huge))[:12] in (b"HTTP/1.1 431", b"HTTP/1.1 400")
    assert (await _request(ingress, edge, b"\x16\x03garbage\r\n\r\n")).startswith(b"HTTP/1.1 400")


async def test_unknown_host_and_unconnected_tunnel(ingress: HttpsIngress, edge: Edge) -> None:
    unknown = await _request(
        ingress, edge, b"GET / HTTP/1.1\r\nHost: nope.localhost\r\nConnection: close\r\n\r\n"
    )
    assert unknown.startswith(b"HTTP/1.1 404")
    no_connector = await _request(
        ingress, edge, f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
    )
    assert no_connector.startswith(b"HTTP/1.1 502")
    assert b"no connector connected" in no_connector


async def test_a_flood_of_streams_is_bounded_by_the_connectors_limit(
    ingress: HttpsIngress, edge: Edge
) -> None:
    """A connector announcing 4 concurrent streams gets at most 4; the rest are refused fast."""
    release = asyncio.Event()
    served = 0

    async def slow(stream: MuxStream) -> None:
        nonlocal served
        served += 1
        await release.wait()
        stream.respond(ResponseMeta(200, ((b"content-length", b"2"),)))
        await stream.write(b"ok")
        stream.end()

    connector = ConnectorSupervisor(
        edge.token(), slow, ha_connections=1, settings=Settings(max_concurrent_streams=4)
    )
    connector.start()
    try:
        while len(edge.registry) < 1:
            await asyncio.sleep(0.01)
        raw = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        pending = [asyncio.create_task(_request(ingress, edge, raw)) for _ in range(10)]
        done, _ = await asyncio.wait(pending, timeout=3)
        refused = [t.result() for t in done]
        assert len(refused) == 6 and all(r.startswith(b"HTTP/1.1 503") for r in refused)
        assert served == 4
        release.set()
        answered = await asyncio.gather(*(t for t in pending if t not in done))
        assert all(r.startswith(b"HTTP/1.1 200") for r in answered)
    finally:
        await connector.shutdown(grace=1)


async def test_keep_alive_reuse_and_no_leaked_streams(ingress: HttpsIngress, edge: Edge) -> None:
    """Regression: several requests share one client connection, and every finished stream
    leaves the edge's table (a leak once made GC eat a third of the edge's CPU)."""

    async def hello(stream: MuxStream) -> None:
        stream.respond(ResponseMeta(200, ((b"content-length", b"5"),)))
        await stream.write(b"hello")
        stream.end()

    connector = ConnectorSupervisor(edge.token(), hello, ha_connections=1)
    connector.start()
    try:
        while len(edge.registry) < 1:
            await asyncio.sleep(0.01)
        reader, writer = await _connect(ingress, edge)
        for _ in range(20):
            writer.write(f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200"), head
            assert b"connection: close" not in head.lower()
            assert await reader.readexactly(5) == b"hello"
        writer.close()
        live = edge.registry.pick(edge.tunnel_id)
        assert live is not None
        for _ in range(100):
            if live.mux.stream_count == 0:
                break
            await asyncio.sleep(0.01)
        assert live.mux.stream_count == 0, "finished streams must leave the edge's table"
        assert live.mux.conn.last_stream_id == 39, "20 requests, one client connection"
    finally:
        await connector.shutdown(grace=1)
