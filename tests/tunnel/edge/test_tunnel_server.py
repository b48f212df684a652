"""Edge tunnel server + connector supervisor over real TLS on loopback."""

from __future__ import annotations

import asyncio

import pytest

from ramparts.store.repositories import tunnel_routes, tunnels, versions
from ramparts.tunnel.connector.supervisor import ConnectorSupervisor
from ramparts.tunnel.mux import MuxStream
from ramparts.tunnel.protocol import ConnectionClosed, DialMeta, ResponseMeta, StreamKind

from .conftest import Edge


async def echo_handler(stream: MuxStream) -> None:
    assert isinstance(stream.meta, DialMeta)
    stream.respond(ResponseMeta(status=200))
    while data := await stream.read():
        await stream.write(data.upper())
    stream.end()


async def wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_connector_registers_ha_connections_and_streams_flow(edge: Edge) -> None:
    def recorded() -> int:
        with edge.db.session() as s:
            return len(tunnel_routes.live_connections(s, edge.tunnel_id))

    connector = ConnectorSupervisor(edge.token(), echo_handler, ha_connections=4)
    connector.start()
    try:
        await wait_for(lambda: len(edge.registry.of(edge.tunnel_id)) == 4)
        await wait_for(lambda: connector.registered_count == 4)
        await wait_for(lambda: recorded() == 4)
        with edge.db.session() as s:
            rows = tunnel_routes.live_connections(s, edge.tunnel_id)
        assert sorted(r.connection_index for r in rows) == [0, 1, 2, 3]
        assert {r.origin_ip for r in rows} == {"127.0.0.1"}

        async def one(i: int) -> bytes:
            live = edge.registry.pick(edge.tunnel_id)
            assert live is not None
            stream = live.mux.open_stream(DialMeta(StreamKind.TCP, "ssh.acme.localhost"))
            assert (await stream.response()).status == 200
            await stream.write(f"hello {i}".encode())
            stream.end()
            out = b""
            while chunk := await stream.read():
                out += chunk
            return out

        results = await asyncio.gather(*(one(i) for i in range(40)))
        assert results == [f"HELLO {i}".encode() for i in range(40)]
        used = {c.id for c in edge.registry.of(edge.tunnel_id) if c.mux.conn.last_stream_id > 0}
        assert len(used) == 4, "requests are spread over every connection"
    finally:
        await connector.shutdown(grace=2)
    await wait_for(lambda: len(edge.registry) == 0)
    await wait_for(lambda: recorded() == 0)


async def test_wrong_secret_is_refused_without_detail(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    connector = ConnectorSupervisor(
        edge.token(secret="not-the-secret"), echo_handler, ha_connections=1
    )
    connector.start()
    try:
        await wait_for(lambda: "registration refused" in connector.connections[0].last_error)
        assert len(edge.registry) == 0
        assert "UNAUTHORIZED" in connector.connections[0].last_error
    finally:
        await connector.shutdown(grace=1)
    assert "not-the-secret" not in caplog.text


async def test_rotation_closes_connections_of_revoked_credentials(edge: Edge) -> None:
    connector = ConnectorSupervisor(edge.token(), echo_handler, ha_connections=2)
    connector.start()
    try:
        await wait_for(lambda: len(edge.registry) == 2)
        with edge.db.transaction() as s:
            tunnels.rotate(s, "demo")
            versions.bump(s)
        edge.server.apply(edge.snapshot())
        await wait_for(lambda: len(edge.registry) == 0)
        await asyncio.sleep(1.5)  # the connector retries with the old secret: refused each time
        assert len(edge.registry) == 0
    finally:
        await connector.shutdown(grace=1)


async def test_graceful_shutdown_finishes_in_flight_streams(edge: Edge) -> None:
    release = asyncio.Event()

    async def slow_handler(stream: MuxStream) -> None:
        stream.respond(ResponseMeta(status=200))
        await release.wait()
        await stream.write(b"done")
        stream.end()

    connector = ConnectorSupervisor(edge.token(), slow_handler, ha_connections=1)
    connector.start()
    await wait_for(lambda: len(edge.registry) == 1)
    live = edge.registry.pick(edge.tunnel_id)
    assert live is not None
    stream = live.mux.open_stream(DialMeta(StreamKind.TCP, "x"), end_stream=True)
    await stream.response()
    shutdown = asyncio.create_task(connector.shutdown(grace=5))
    await wait_for(lambda: not live.usable)
    assert edge.registry.pick(edge.tunnel_id) is None, "a draining connection takes no new stream"
    release.set()
    assert await stream.read() == b"done"
    await shutdown
    with pytest.raises(ConnectionClosed):
        live.mux.open_stream(DialMeta(StreamKind.TCP, "x"))
