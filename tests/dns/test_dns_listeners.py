"""Listeners over real sockets: UDP, pipelined TCP with limits, DoT with SNI locations, DoH over
HTTP/2 and HTTP/1.1 with its error answers, and garbage thrown at all of them."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import httpx
import pytest

from ramparts.dns.listeners import stream as stream_module
from ramparts.dns.listeners.doh import doh_context, min_ttl, serve_doh
from ramparts.dns.listeners.sockets import bind_pair, bind_socket
from ramparts.dns.listeners.stream import dot_context, serve_stream
from ramparts.dns.listeners.udp import UdpListener, serve_udp
from ramparts.dns.resolver import Resolver
from ramparts.pki.ca import TeamCA
from ramparts.policy import Context, PolicyRule

from .conftest import FakeUpstream, snapshot_for

OFFICE_ID = "0ff1ce0001"
LAB_ID = "1ab0000001"


@dataclass
class Servers:
    resolver: Resolver
    udp: UdpListener
    port: int  # UDP and TCP
    dot_port: int
    doh_port: int
    ca_pem: bytes
    servers: list[asyncio.Server]

    def client_context(self, alpn: list[str] | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        if alpn:
            context.set_alpn_protocols(alpn)
        return context


@pytest.fixture
async def servers(upstream: FakeUpstream, tmp_path: Path) -> AsyncIterator[Servers]:
    rules = [
        PolicyRule("ads", "ads", Context.DNS,
                   'dns.fqdn == "ads.example.test" and dns.location == "office"', "block"),
    ]  # fmt: skip
    resolver = Resolver()
    resolver.apply(
        snapshot_for(
            rules,
            [(OFFICE_ID, "office", ["127.0.0.2/32"]), (LAB_ID, "lab", ["127.0.0.3/32"])],
            [("u", "udp", f"127.0.0.1:{upstream.port}")],
        )
    )
    ca = TeamCA.create("acme")
    issued = ca.issue_server_certificate(["dns.acme.localhost", "*.dns.acme.localhost"])
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(issued.cert_pem)
    key.write_bytes(issued.key_pem)
    udp_sock, tcp_sock = bind_pair("127.0.0.1", 0, reuse_port=False)
    port = udp_sock.getsockname()[1]
    dot_sock = bind_socket("127.0.0.1", 0, socket.SOCK_STREAM, reuse_port=False)
    doh_sock = bind_socket("127.0.0.1", 0, socket.SOCK_STREAM, reuse_port=False)
    udp = await serve_udp(udp_sock, resolver)
    started = [
        await serve_stream(tcp_sock, resolver, "tcp"),
        await serve_stream(dot_sock, resolver, "dot", dot_context(str(cert), str(key))),
        await serve_doh(doh_sock, resolver, doh_context(str(cert), str(key))),
    ]
    yield Servers(
        resolver,
        udp,
        port,
        dot_sock.getsockname()[1],
        doh_sock.getsockname()[1],
        ca.cert_pem,
        started,
    )
    udp.close()
    for server in started:
        server.close()
    await resolver.close()


def _query(name: str, rdtype: str = "A", qid: int = 1) -> bytes:
    message = dns.message.make_query(name, rdtype)
    message.id = qid
    return message.to_wire()


def _ips(message: dns.message.Message) -> list[str]:
    return [r.to_text() for rrset in message.answer for r in rrset if rrset.rdtype in (1, 28)]


async def _udp_ask(port: int, wire: bytes, source: str = "127.0.0.2") -> bytes | None:
    def run() -> bytes | None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((source, 0))
            sock.settimeout(1.0)
            sock.sendto(wire, ("127.0.0.1", port))
            try:
                return sock.recv(65535)
            except TimeoutError:
                return None

    return await asyncio.to_thread(run)


async def test_udp_answers_and_survives_garbage(servers: Servers) -> None:
    reply = await _udp_ask(servers.port, _query("www.example.test"))
    assert reply is not None and _ips(dns.message.from_wire(reply)) == ["192.0.2.10"]
    for junk in (b"", b"\x00", os.urandom(11), os.urandom(300), b"\xff" * 5000):
        await _udp_ask(servers.port, junk)
    formerr = await _udp_ask(servers.port, _query("a.test")[:-2])
    assert formerr is not None and formerr[3] & 0xF == dns.rcode.FORMERR
    blocked = await _udp_ask(servers.port, _query("ads.example.test"), "127.0.0.2")
    assert blocked is not None and _ips(dns.message.from_wire(blocked)) == ["0.0.0.0"]
    lab = await _udp_ask(servers.port, _query("ads.example.test"), "127.0.0.3")
    assert lab is not None and _ips(dns.message.from_wire(lab)) == ["192.0.2.66"]
    refused = await _udp_ask(servers.port, _query("www.example.test"), "127.0.0.9")
    assert refused is not None and refused[3] & 0xF == dns.rcode.REFUSED


async def _read_frames(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    frames = []
    for _ in range(count):
        length = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 3), "big")
        frames.append(await reader.readexactly(length))
    return frames


def _frame(wire: bytes) -> bytes:
    return len(wire).to_bytes(2, "big") + wire


async def test_tcp_pipelining_answers_every_query(servers: Servers) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", servers.port, local_addr=("127.0.0.2", 0)
    )
    try:
        names = ["www.example.test", "ads.example.test", "www.example.test", "nx.example.test"]
        writer.write(b"".join(_frame(_query(n, qid=i + 1)) for i, n in enumerate(names)))
        replies = {
            dns.message.from_wire(f).id: dns.message.from_wire(f)
            for f in await _read_frames(reader, 4)
        }
        assert sorted(replies) == [1, 2, 3, 4]
        assert _ips(replies[1]) == ["192.0.2.10"] and _ips(replies[2]) == ["0.0.0.0"]
        assert replies[4].rcode() == dns.rcode.NXDOMAIN
        # Split frames across writes still parse.
        wire = _frame(_query("www.example.test", qid=9))
        for byte in wire:
            writer.write(bytes([byte]))
            await writer.drain()
        (reply,) = await _read_frames(reader, 1)
        assert dns.message.from_wire(reply).id == 9
    finally:
        writer.close()


@pytest.mark.parametrize("prefix", [b"\xff\xff", b"\x00\x05", b"\x10\x01"])
async def test_tcp_closes_on_lengths_no_query_has(servers: Servers, prefix: bytes) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", servers.port, local_addr=("127.0.0.2", 0)
    )
    writer.write(prefix + b"\x00" * 64)
    assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the server
    writer.close()
    # The listener still serves others.
    reply = await _udp_ask(servers.port, _query("www.example.test"))
    assert reply is not None


async def test_tcp_idle_connections_are_closed(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream_module, "IDLE_TIMEOUT", 0.2)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", servers.port, local_addr=("127.0.0.2", 0)
    )
    writer.write(_frame(_query("www.example.test")))
    await _read_frames(reader, 1)
    assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()


async def test_dot_location_from_sni(servers: Servers) -> None:
    def run(server_name: str) -> dns.message.Message:
        q = dns.message.make_query("ads.example.test", "A")
        return dns.query.tls(
            q, "127.0.0.1", port=servers.dot_port, timeout=3,
            ssl_context=servers.client_context(), server_hostname=server_name,
        )  # fmt: skip

    office = await asyncio.to_thread(run, f"{OFFICE_ID}.dns.acme.localhost")
    assert _ips(office) == ["0.0.0.0"]
    lab = await asyncio.to_thread(run, f"{LAB_ID}.dns.acme.localhost")
    assert _ips(lab) == ["192.0.2.66"]
    unnamed = await asyncio.to_thread(run, "dns.acme.localhost")  # served without location
    assert _ips(unnamed) == ["192.0.2.66"]


async def _doh(servers: Servers, http2: bool, host: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        http2=http2,
        http1=not http2,
        verify=servers.client_context(),
        base_url=f"https://127.0.0.1:{servers.doh_port}",
        headers={"host": f"{host}:{servers.doh_port}"},
    )


@pytest.mark.parametrize("http2", [True, False])
async def test_doh_get_and_post(servers: Servers, http2: bool) -> None:
    office_host = f"{OFFICE_ID}.dns.acme.localhost"
    ext = {"sni_hostname": office_host}
    async with await _doh(servers, http2, office_host) as client:
        post = await client.post(
            "/dns-query", content=_query("ads.example.test", qid=0), extensions=ext,
            headers={"content-type": "application/dns-message"},
        )  # fmt: skip
        assert post.status_code == 200, post.text
        assert post.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        assert post.headers["content-type"] == "application/dns-message"
        assert post.headers["cache-control"] == "max-age=60"
        assert _ips(dns.message.from_wire(post.content)) == ["0.0.0.0"]
        encoded = base64.urlsafe_b64encode(_query("ads.example.test", qid=0)).rstrip(b"=").decode()
        # The id in the path wins over the host name: the lab is not blocked.
        get = await client.get(f"/dns-query/{LAB_ID}", params={"dns": encoded}, extensions=ext)
        assert get.status_code == 200 and _ips(dns.message.from_wire(get.content)) == ["192.0.2.66"]
        for request, status in (
            (client.post("/dns-query", content=b"x" * 70_000, extensions=ext,
                         headers={"content-type": "application/dns-message"}), 413),
            (client.post("/dns-query", content=_query("a.test"), extensions=ext,
                         headers={"content-type": "text/plain"}), 415),
            (client.put("/dns-query", content=b"", extensions=ext), 405),
            (client.get("/other", extensions=ext), 404),
            (client.get("/dns-query", extensions=ext), 400),
            (client.get("/dns-query", params={"dns": "!!"}, extensions=ext), 400),
            (client.get("/dns-query", params={"dns": "A" * 10_000}, extensions=ext), 413),
            (client.post("/dns-query", content=b"\x00\x01", extensions=ext,
                         headers={"content-type": "application/dns-message"}), 400),
        ):  # fmt: skip
            response = await request
            assert response.status_code == status, (status, response.text)
        after = await client.get("/dns-query", params={"dns": encoded}, extensions=ext)
        assert after.status_code == 200  # the connection survived the errors (HTTP/2)


async def test_garbage_over_tls_and_http_does_not_hurt(servers: Servers) -> None:
    # Not TLS at all, then TLS with garbage inside, on both encrypted ports.
    for port in (servers.dot_port, servers.doh_port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(os.urandom(2000))
        await asyncio.wait_for(reader.read(), 6)
        writer.close()
        reader, writer = await asyncio.open_connection(
            "127.0.0.1",
            port,
            ssl=servers.client_context(["h2"]),
            server_hostname="dns.acme.localhost",
        )
        writer.write(os.urandom(5000))
        await asyncio.wait_for(reader.read(), 6)
        writer.close()
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", servers.doh_port, ssl=servers.client_context(["http/1.1"]),
        server_hostname="dns.acme.localhost",
    )  # fmt: skip
    writer.write(
        b"GET /dns-query HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 20_000 + b"\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.read(), 6)
    assert head.startswith(b"HTTP/1.1 431")  # and the server closed the connection
    writer.close()
    reply = await _udp_ask(servers.port, _query("www.example.test"))
    assert reply is not None


def test_min_ttl_reads_our_answers() -> None:
    q = dns.message.make_query("a.test", "A", use_edns=0)
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("a.test.", 42, "IN", "A", "192.0.2.1"))
    r.answer.append(dns.rrset.from_text("a.test.", 7, "IN", "A", "192.0.2.2"))
    assert min_ttl(r.to_wire()) == 7
    assert min_ttl(dns.message.make_response(q).to_wire()) is None
    assert min_ttl(b"\x00" * 5) is None
