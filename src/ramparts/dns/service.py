"""The edge's DNS service: UDP and TCP (plain DNS), DoT and DoH listeners around one resolver,
the query log writer, Prometheus metrics, and optional worker processes.

With ``workers > 1`` the plain DNS ports are shared with ``workers - 1`` child processes
(``python -m ramparts.dns.worker``) through SO_REUSEPORT: each child builds the same snapshots
from the store (and is told to refresh when this process applies one), answers from its own
cache, writes its own query log, and reports its counters on stdout for ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from ramparts.config.snapshot import Snapshot
from ramparts.dns.listeners.doh import IdentityVerifier, doh_context, serve_doh
from ramparts.dns.listeners.sockets import address_of, bind_pair, bind_socket
from ramparts.dns.listeners.stream import dot_context, serve_stream
from ramparts.dns.listeners.udp import UdpListener, serve_udp
from ramparts.dns.querylog import QueryLog
from ramparts.dns.resolver import Resolver
from ramparts.dns.stats import ResolverCollector
from ramparts.edge.service import Health
from ramparts.pki.ca import TeamCA
from ramparts.pki.tls import write_certificate
from ramparts.store import Database
from ramparts.store.repositories import dns as dns_repo

log = logging.getLogger(__name__)

SERVICE = "dns"
WORKER_READY_TIMEOUT = 30.0
"""Seconds a worker process may take to read its first snapshot and bind."""
WORKER_STOP_TIMEOUT = 10.0
STATS_INTERVAL = 2.0
"""Seconds between counter reports of worker processes."""
MAX_WORKER_LINE = 1024 * 1024


@dataclass(slots=True)
class DnsServiceSettings:
    host: str
    dns_port: int
    dot_port: int
    doh_port: int
    workers: int = 1
    drain_timeout: float = 10.0
    poll_interval: float = 2.0
    hostnames: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Worker:
    process: asyncio.subprocess.Process
    reader: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    export: dict[str, Any] = field(default_factory=dict)


class DnsService:
    name = SERVICE

    def __init__(
        self,
        settings: DnsServiceSettings,
        *,
        db: Database,
        edge_id: str,
        edge_name: str,
        data_dir: Path,
        certfile: Path,
        keyfile: Path,
        own_certificate: bool,
        registry: CollectorRegistry | None = None,
        identity: IdentityVerifier | None = None,
    ) -> None:
        self.settings = settings
        self._db = db
        self._edge_id = edge_id
        self._edge_name = edge_name
        self._data_dir = data_dir
        self._certfile, self._keyfile = certfile, keyfile
        self._own_certificate = own_certificate
        self._identity = identity
        self.resolver: Resolver | None = None
        self._udp: UdpListener | None = None
        self._servers: list[asyncio.Server] = []
        self._addresses: dict[str, str] = {}
        self._ports = {"dns": settings.dns_port, "dot": settings.dot_port, "doh": settings.doh_port}
        self._workers: list[_Worker] = []
        self._issued: tuple[Path, Path] | None = None
        self._team_domain = ""
        if registry is not None:
            registry.register(ResolverCollector(self.exports))

    # --- EdgeService ---------------------------------------------------------------------

    @property
    def addresses(self) -> dict[str, str]:
        return dict(self._addresses)

    async def start(self, snapshot: Snapshot) -> None:
        s = self.settings
        self._team_domain = snapshot.team_domain
        query_log = QueryLog(self._db, self._edge_name, lambda: self._retention(), process=True)
        resolver = Resolver(query_log=query_log)
        resolver.apply(snapshot)
        self.resolver = resolver
        sockets: list[socket.socket] = []
        try:
            udp, tcp = bind_pair(s.host, self._ports["dns"], reuse_port=s.workers > 1)
            sockets += [udp, tcp]
            port = udp.getsockname()[1]
            dot = bind_socket(s.host, self._ports["dot"], socket.SOCK_STREAM, reuse_port=False)
            sockets.append(dot)
            doh = bind_socket(s.host, self._ports["doh"], socket.SOCK_STREAM, reuse_port=False)
            sockets.append(doh)
        except OSError:
            for sock in sockets:
                sock.close()
            raise
        certfile, keyfile = await asyncio.to_thread(self._certificate, snapshot)
        self._udp = await serve_udp(udp, resolver)
        self._servers = [
            await serve_stream(tcp, resolver, "tcp"),
            await serve_stream(dot, resolver, "dot", dot_context(str(certfile), str(keyfile))),
            await serve_doh(
                doh, resolver, doh_context(str(certfile), str(keyfile)), self._identity
            ),
        ]
        self._addresses = {
            "dns_udp": address_of(udp),
            "dns_tcp": address_of(tcp),
            "dot": address_of(dot),
            "doh": address_of(doh),
        }
        # A restart (supervisor) keeps the ports chosen the first time.
        self._ports = {"dns": port, "dot": dot.getsockname()[1], "doh": doh.getsockname()[1]}
        query_log.start()
        for index in range(1, s.workers):
            await self._spawn_worker(index, port)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._announce)
        log.info("DNS listening", extra={**self._addresses, "workers": s.workers})

    def apply(self, snapshot: Snapshot) -> None:
        if self.resolver is not None:
            self.resolver.apply(snapshot)
        for worker in self._workers:
            stdin = worker.process.stdin
            if stdin is not None and not stdin.is_closing():
                stdin.write(b"refresh\n")

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        if self._udp is not None:
            await self._udp.drain(min(self.settings.drain_timeout, 5.0))
            self._udp.close()
            self._udp = None
        for server in self._servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), self.settings.drain_timeout)
        self._servers = []
        await self._stop_workers()
        resolver, self.resolver = self.resolver, None
        if resolver is not None:
            if resolver.log is not None:
                await resolver.log.stop()
            await resolver.close()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._withdraw)
        if self._issued is not None:
            for path in self._issued:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            self._issued = None
        self._addresses = {}

    def health(self) -> Health:
        if self.resolver is None or self._udp is None or not self._servers:
            return Health(False, "DNS listeners are not running")
        if not all(server.is_serving() for server in self._servers):
            return Health(False, "a DNS listener stopped")
        dead = [w for w in self._workers if w.process.returncode is not None]
        if dead:
            return Health(False, f"{len(dead)} DNS worker process(es) exited")
        return Health(True)

    # --- helpers -------------------------------------------------------------------------

    def _retention(self) -> int:
        return self.resolver.retention_days if self.resolver is not None else 7

    def _certificate(self, snapshot: Snapshot) -> tuple[Path, Path]:
        """A certificate for ``dns.<team>`` and ``*.dns.<team>`` (one level deeper than the
        edge's wildcard) from the team CA, unless the operator gave their own."""
        if not self._own_certificate:
            return self._certfile, self._keyfile
        ca = TeamCA.load(self._data_dir)
        team = snapshot.team_domain
        names = [f"dns.{team}", f"*.dns.{team}", team, f"*.{team}", "localhost", "127.0.0.1",
                 "::1", *self.settings.hostnames]  # fmt: skip
        if self.settings.host not in ("0.0.0.0", "::", "127.0.0.1", "::1"):
            names.append(self.settings.host)
        issued = ca.issue_server_certificate(names)
        self._issued = write_certificate(self._data_dir, f"dns-{self._edge_id}", issued)
        return self._issued

    def _announce(self) -> None:
        with self._db.transaction() as session:
            dns_repo.announce_endpoints(session, self._edge_id, self._addresses)

    def _withdraw(self) -> None:
        with self._db.transaction() as session:
            dns_repo.withdraw_endpoints(session, self._edge_id)

    def exports(self) -> list[dict[str, Any]]:
        """Counters of this process and of every worker (for the Prometheus collector)."""
        out = [w.export for w in self._workers if w.export]
        if self.resolver is not None:
            out.append(self.resolver.export())
        return out

    # --- worker processes ----------------------------------------------------------------

    async def _spawn_worker(self, index: int, port: int) -> None:
        env = dict(os.environ)
        env["RAMPARTS_DATABASE"] = self._db.url
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ramparts.dns.worker",
            "--host", self.settings.host, "--port", str(port),
            "--edge-name", f"{self._edge_name}/dns-{index}",
            "--poll-interval", str(self.settings.poll_interval),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            limit=MAX_WORKER_LINE,
        )  # fmt: skip
        worker = _Worker(process)
        worker.reader = asyncio.create_task(self._read_worker(worker), name=f"dns-worker-{index}")
        self._workers.append(worker)
        try:
            await asyncio.wait_for(worker.ready.wait(), WORKER_READY_TIMEOUT)
        except TimeoutError:
            await self._stop_workers()
            raise RuntimeError(f"DNS worker {index} did not start") from None

    async def _read_worker(self, worker: _Worker) -> None:
        stdout = worker.process.stdout
        assert stdout is not None
        while True:
            try:
                line = await stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):
                continue
            if not line:
                return
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("ready"):
                worker.ready.set()
            if isinstance(message.get("stats"), dict):
                worker.export = message["stats"]

    async def _stop_workers(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            stdin = worker.process.stdin
            if stdin is not None:
                stdin.close()  # EOF: the worker drains and exits
        for worker in workers:
            try:
                await asyncio.wait_for(worker.process.wait(), WORKER_STOP_TIMEOUT)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
            if worker.reader is not None:
                worker.reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.reader


def stats_reporter(resolver: Resolver, write: Callable[[str], None]) -> Callable[[], None]:
    """The worker side: one JSON line of counters."""

    def report() -> None:
        write(json.dumps({"stats": resolver.export(), "at": time.time()}) + "\n")

    return report
