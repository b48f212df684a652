"""One edge node: snapshot feed + supervised services + admin listener + store heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from pathlib import Path
from typing import Any

from ramparts.config.feed import SnapshotFeed
from ramparts.config.snapshot import Snapshot, SnapshotNotReady
from ramparts.edge.admin import admin_app
from ramparts.edge.metrics import EdgeMetrics
from ramparts.edge.services import EdgeContext, build_services
from ramparts.edge.settings import EdgeSettings
from ramparts.edge.supervisor import Supervisor
from ramparts.pki.ca import TeamCA
from ramparts.pki.tls import write_certificate
from ramparts.serving import AsgiServer
from ramparts.store import Database, StoreUnavailable
from ramparts.store.repositories import edges

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 10.0  # well inside edges.EDGE_LIVENESS
STORE_RETRY_MAX = 30.0  # backoff cap while the database is down or not initialised


class EdgeNode:
    def __init__(self, db: Database, settings: EdgeSettings) -> None:
        self.db = db
        self.settings = settings
        self.id = str(uuid.uuid4())
        self.metrics = EdgeMetrics()
        self.feed = SnapshotFeed(db, settings.poll_interval)
        self.supervisor: Supervisor | None = None
        self._admin: AsgiServer | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.draining = False

    @property
    def addresses(self) -> dict[str, str]:
        merged = self.supervisor.addresses() if self.supervisor else {}
        if self._admin is not None:
            merged["metrics"] = self._admin.address
        return merged

    async def wait_for_store(self, stop: asyncio.Event | None = None) -> Snapshot:
        """Start the feed, retrying with backoff while the database is down or uninitialised."""
        delay = 0.5
        while True:
            try:
                return await self.feed.start()
            except (StoreUnavailable, SnapshotNotReady) as exc:
                reason = str(exc)
            except Exception as exc:  # driver errors while the server is starting up
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            log.warning(
                "store not ready, retrying",
                extra={"database": self.db.display_url, "reason": reason, "retry_in": delay},
            )
            if stop is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    raise StoreUnavailable(f"gave up waiting for the store: {reason}")
            else:
                await asyncio.sleep(delay)
            delay = min(delay * 2, STORE_RETRY_MAX)

    async def start(self, stop: asyncio.Event | None = None) -> None:
        snapshot = await self.wait_for_store(stop)
        self.metrics.snapshot_version.set(snapshot.version)
        certfile, keyfile = await asyncio.to_thread(self._certificate, snapshot)
        context = EdgeContext(
            settings=self.settings,
            metrics=self.metrics,
            db=self.db,
            feed=self.feed,
            edge_id=self.id,
            certfile=certfile,
            keyfile=keyfile,
        )
        services = build_services(context)
        self.supervisor = Supervisor(services, self.metrics, lambda: self.feed.current)
        self.feed.subscribe(self._on_snapshot)
        await self.supervisor.start()
        self._admin = AsgiServer(
            "edge-admin",
            admin_app(self.metrics, self._readiness),
            self.settings.admin_host,
            self.settings.admin_port,
            drain_timeout=1.0,
        )
        await self._admin.start()
        await asyncio.to_thread(self._beat)
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="edge-heartbeat")
        log.info(
            "edge started",
            extra={"edge": self.settings.name, "version": snapshot.version, **self.addresses},
        )

    async def stop(self) -> None:
        """Drain: /ready turns 503 first, then services finish in-flight work, then exit."""
        self.draining = True
        log.info("edge draining", extra={"edge": self.settings.name})
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if self.supervisor is not None:
            await self.supervisor.stop()
        await self.feed.stop()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._unregister)
        if self._admin is not None:
            await self._admin.stop()
        log.info("edge stopped", extra={"edge": self.settings.name})

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self.metrics.snapshot_version.set(snapshot.version)
        self.metrics.snapshot_swaps.inc()
        if self.supervisor is not None:
            self.supervisor.apply(snapshot)

    def _readiness(self) -> tuple[bool, dict[str, Any]]:
        services = self.supervisor.health() if self.supervisor else {}
        ready = not self.draining and self.supervisor is not None and self.supervisor.healthy
        return ready, {
            "edge": self.settings.name,
            "edge_id": self.id,
            "draining": self.draining,
            "snapshot_version": self.feed.current.version,
            "services": {
                name: {"healthy": h.healthy, "detail": h.detail} for name, h in services.items()
            },
        }

    def _certificate(self, snapshot: Snapshot) -> tuple[Path, Path]:
        if self.settings.tls_cert and self.settings.tls_key:
            return self.settings.tls_cert, self.settings.tls_key
        ca = TeamCA.load(self.settings.data_dir)
        if ca.fingerprint != snapshot.ca_fingerprint:
            raise StoreUnavailable(
                f"the CA in {self.settings.data_dir} is not the team's CA; "
                "use the control plane's data dir or --tls-cert/--tls-key"
            )
        names = [
            snapshot.team_domain,
            f"*.{snapshot.team_domain}",
            "localhost",
            "127.0.0.1",
            "::1",
            *self.settings.hostnames,
        ]
        issued = ca.issue_server_certificate(names)
        return write_certificate(self.settings.data_dir, f"edge-{self.id}", issued)

    def _beat(self) -> None:
        with self.db.transaction() as session:
            edges.heartbeat(
                session,
                edge_id=self.id,
                name=self.settings.name,
                tunnel_address=self._tunnel_address(),
                snapshot_version=self.feed.current.version,
            )

    def _tunnel_address(self) -> str:
        bound = self.addresses.get("tunnel", "")
        return (self.settings.tunnel_advertise or bound) if bound else ""

    def _unregister(self) -> None:
        with self.db.transaction() as session:
            edges.remove(session, self.id)
        for suffix in ("pem", "key"):
            with contextlib.suppress(FileNotFoundError):
                (self.settings.data_dir / f"edge-{self.id}.{suffix}").unlink()

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            try:
                await asyncio.to_thread(self._beat)
            except Exception as exc:
                log.warning("edge heartbeat failed", extra={"reason": repr(exc)})
