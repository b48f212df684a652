"""An in-process proxy service with a hand-made snapshot, and a recording origin server.

The origin records every request head it receives, so that tests assert at the origin (what
must never arrive there) and not only at the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from ramparts.config.gateway import GatewayConfig
from ramparts.config.proxy import EndpointKind, ProxyConfig, ProxyEndpointEntry, ProxyTokenEntry
from ramparts.config.snapshot import Snapshot
from ramparts.pki.ca import TeamCA
from ramparts.pki.tls import write_certificate
from ramparts.policy import Context, PolicyRule, compile_policy_set
from ramparts.proxy.context import ProxyLimits
from ramparts.proxy.inspect import Inspector
from ramparts.proxy.service import ProxyService
from ramparts.secrets import digest

TEAM_DOMAIN = "team.localhost"


def endpoint(
    id: str = "ep1",
    *,
    kind: EndpointKind = EndpointKind.SOURCE_IP,
    networks: Sequence[str] = ("127.0.0.0/8",),
    private: bool = True,
    ports: Iterable[int] = (443,),
    inspect: bool = False,
    name: str | None = None,
) -> ProxyEndpointEntry:
    return ProxyEndpointEntry(
        id=id,
        name=name or f"name-{id}",
        kind=kind,
        networks=tuple(ipaddress.ip_network(n) for n in networks)
        if kind is EndpointKind.SOURCE_IP
        else (),
        allow_private_destinations=private,
        connect_ports=frozenset(ports),
        tls_inspection=inspect,
        pac="",
    )


def http_rule(
    name: str, expression: str, action: str, precedence: int, **settings: str
) -> PolicyRule:
    return PolicyRule(
        id=f"rule-{name}",
        name=name,
        phase=Context.HTTP,
        expression=expression,
        action=action,
        precedence=precedence,
        settings=settings,
    )


def snapshot(
    endpoints: Sequence[ProxyEndpointEntry],
    rules: Sequence[PolicyRule] = (),
    tokens: dict[str, ProxyTokenEntry] | None = None,
) -> Snapshot:
    return Snapshot(
        version=1,
        team_name="team",
        team_domain=TEAM_DOMAIN,
        ca_fingerprint="",
        gateway=GatewayConfig(policies=compile_policy_set(rules, {})),
        proxy=ProxyConfig(
            endpoints={e.id: e for e in endpoints},
            tokens={digest(secret): t for secret, t in (tokens or {}).items()},
        ),
    )


@dataclass
class OriginRequest:
    head: bytes
    body: bytes

    @property
    def request_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    def header(self, name: bytes) -> bytes | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name:
                return value.strip()
        return None


@dataclass
class Origin:
    """A small HTTP/1.1 origin (keep-alive, Content-Length bodies) that records requests.
    ``/type/<media>`` answers with that content type; ``/big/<n>`` sends n bytes."""

    port: int = 0
    requests: list[OriginRequest] = field(default_factory=list)
    connections: int = 0
    server: asyncio.Server | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request = OriginRequest(head, b"")
                length = request.header(b"content-length")
                if length:
                    request.body = await reader.readexactly(int(length))
                self.requests.append(request)
                path = request.request_line.split(b" ")[1]
                media = b"text/plain"
                body = b"hello from origin " + path
                if path.startswith(b"/type/"):
                    media = path[len(b"/type/") :].replace(b"_", b"/")
                if path.startswith(b"/big/"):
                    body = b"x" * int(path[len(b"/big/") :])
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: "
                    + media
                    + b"\r\ncontent-length: %d\r\n\r\n" % len(body)
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


@dataclass
class Stack:
    service: ProxyService
    origin: Origin
    ca: TeamCA
    ca_file: Path

    @property
    def proxy(self) -> str:
        return self.service.addresses["proxy"]

    @property
    def proxy_tls(self) -> str:
        return self.service.addresses["proxy_tls"]


def team_ca(directory: Path) -> tuple[TeamCA, Path, Path, Path]:
    """A team CA written like the edge's data dir, and a certificate for the proxy names."""
    ca = TeamCA.create("team")
    (directory / "ca.key").write_bytes(ca.key_pem())
    (directory / "ca.key").chmod(0o600)
    (directory / "ca.pem").write_bytes(ca.cert_pem)
    issued = ca.issue_server_certificate(["127.0.0.1", f"*.proxy.{TEAM_DOMAIN}"])
    cert, key = write_certificate(directory, "edge", issued)
    return ca, directory / "ca.pem", cert, key


@contextlib.asynccontextmanager
async def proxy_stack(
    tmp_path: Path,
    snap: Snapshot,
    *,
    limits: ProxyLimits | None = None,
    origin_tls: bool = False,
) -> AsyncIterator[Stack]:
    ca, ca_file, cert, key = team_ca(tmp_path)
    origin = Origin()
    context = None
    if origin_tls:
        leaf = ca.issue_server_certificate(["origin.test", "localhost"])
        ocert, okey = write_certificate(tmp_path, "origin", leaf)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(ocert, okey)
    await origin.start(context)
    service = ProxyService(
        host="127.0.0.1",
        port=0,
        tls_port=0,
        certfile=cert,
        keyfile=key,
        db=None,
        edge_id="edge-1",
        edge_name="edge",
        registry=CollectorRegistry(),
        drain_timeout=2.0,
        limits=limits,
        origin_ca=ca_file,
        inspector=Inspector(tmp_path),
    )
    await service.start(snap)
    try:
        yield Stack(service, origin, ca, ca_file)
    finally:
        await service.stop()
        await origin.stop()


async def curl(*args: str, timeout: float = 20.0) -> tuple[int, bytes, bytes]:
    """Run the real curl; (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        "curl",
        "--silent",
        "--show-error",
        "--max-time",
        str(int(timeout)),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout + 5)
    assert proc.returncode is not None
    return proc.returncode, out, err
