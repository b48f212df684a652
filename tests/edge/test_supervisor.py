"""The supervisor: ordered start, rollback on a failed start, restart after failed checks.

The services here are small in-memory stand-ins for the edge's listeners (the supervisor only
sees the EdgeService interface); the real listeners are exercised by tests/e2e.
"""

from __future__ import annotations

import pytest

from ramparts.config.snapshot import Snapshot
from ramparts.edge.metrics import EdgeMetrics
from ramparts.edge.service import Health
from ramparts.edge.supervisor import FAILURES_BEFORE_RESTART, Supervisor

SNAP = Snapshot(version=1, team_name="t", team_domain="t.localhost", ca_fingerprint="sha256:00")


class RecordingService:
    def __init__(self, name: str, journal: list[str], fail_start: bool = False) -> None:
        self.name = name
        self.journal = journal
        self.fail_start = fail_start
        self.healthy = True
        self.snapshot: Snapshot | None = None

    @property
    def addresses(self) -> dict[str, str]:
        return {self.name: "127.0.0.1:1"}

    async def start(self, snapshot: Snapshot) -> None:
        if self.fail_start:
            raise OSError("port busy")
        self.snapshot = snapshot
        self.journal.append(f"start {self.name}")

    def apply(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")

    def health(self) -> Health:
        return Health(self.healthy, "" if self.healthy else "down")


async def test_start_order_and_stop() -> None:
    journal: list[str] = []
    services = [RecordingService("a", journal), RecordingService("b", journal)]
    sup = Supervisor(services, EdgeMetrics(), lambda: SNAP, health_interval=3600)
    await sup.start()
    assert journal == ["start a", "start b"]
    assert sup.addresses() == {"a": "127.0.0.1:1", "b": "127.0.0.1:1"}
    assert sup.healthy
    await sup.stop()
    assert sorted(journal[2:]) == ["stop a", "stop b"]


async def test_failed_start_stops_what_was_started() -> None:
    journal: list[str] = []
    services = [RecordingService("a", journal), RecordingService("b", journal, fail_start=True)]
    sup = Supervisor(services, EdgeMetrics(), lambda: SNAP, health_interval=3600)
    with pytest.raises(OSError, match="port busy"):
        await sup.start()
    assert journal == ["start a", "stop a"]


async def test_restart_after_consecutive_failures_only() -> None:
    journal: list[str] = []
    svc = RecordingService("a", journal)
    metrics = EdgeMetrics()
    sup = Supervisor([svc], metrics, lambda: SNAP, health_interval=3600)
    await sup.start()
    svc.healthy = False
    for _ in range(FAILURES_BEFORE_RESTART - 1):
        await sup.check_once()
    assert journal == ["start a"], "no restart on a blip"
    assert not sup.healthy
    await sup.check_once()
    assert journal == ["start a", "stop a", "start a"]
    assert metrics.service_restarts.labels("a")._value.get() == 1
    svc.healthy = True
    await sup.check_once()
    assert sup.healthy
    await sup.stop()


async def test_apply_reaches_every_service() -> None:
    journal: list[str] = []
    services = [RecordingService("a", journal), RecordingService("b", journal)]
    sup = Supervisor(services, EdgeMetrics(), lambda: SNAP, health_interval=3600)
    await sup.start()
    newer = Snapshot(
        version=2, team_name="t", team_domain="t.localhost", ca_fingerprint="sha256:00"
    )
    sup.apply(newer)
    assert [s.snapshot for s in services] == [newer, newer]
    await sup.stop()
