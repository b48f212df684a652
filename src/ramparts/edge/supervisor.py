"""Starts the edge's services, checks their health, restarts a failed one, stops them all."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from ramparts.config.snapshot import Snapshot
from ramparts.edge.metrics import EdgeMetrics
from ramparts.edge.service import EdgeService, Health

log = logging.getLogger(__name__)

HEALTH_INTERVAL = 5.0  # seconds between health checks
FAILURES_BEFORE_RESTART = 3  # consecutive failed checks before a restart (no flapping on one blip)
RESTART_BACKOFF_MAX = 60.0


class Supervisor:
    def __init__(
        self,
        services: Sequence[EdgeService],
        metrics: EdgeMetrics,
        current_snapshot: Callable[[], Snapshot],
        health_interval: float = HEALTH_INTERVAL,
    ) -> None:
        self.services = list(services)
        self._metrics = metrics
        self._snapshot = current_snapshot
        self._interval = health_interval
        self._failures: dict[str, int] = {}
        self._backoff: dict[str, float] = {}
        self._health: dict[str, Health] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start every service in order; if one fails, stop the ones already started."""
        started: list[EdgeService] = []
        snapshot = self._snapshot()
        try:
            for service in self.services:
                await service.start(snapshot)
                started.append(service)
                self._record(service, Health(True))
        except BaseException:
            for service in reversed(started):
                with contextlib.suppress(Exception):
                    await service.stop()
            raise
        self._task = asyncio.create_task(self._watch(), name="edge-supervisor")

    def apply(self, snapshot: Snapshot) -> None:
        for service in self.services:
            try:
                service.apply(snapshot)
            except Exception:
                log.exception("service rejected a snapshot", extra={"service": service.name})

    def addresses(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for service in self.services:
            merged.update(service.addresses)
        return merged

    def health(self) -> dict[str, Health]:
        return dict(self._health)

    @property
    def healthy(self) -> bool:
        return bool(self._health) and all(h.healthy for h in self._health.values())

    async def stop(self) -> None:
        """Drain and stop every service concurrently (each bounds its own drain time)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        results = await asyncio.gather(
            *(s.stop() for s in reversed(self.services)), return_exceptions=True
        )
        for service, result in zip(reversed(self.services), results, strict=True):
            if isinstance(result, BaseException):
                log.error(
                    "service failed to stop cleanly",
                    extra={"service": service.name},
                    exc_info=result,
                )

    async def check_once(self) -> None:
        for service in self.services:
            try:
                health = service.health()
            except Exception as exc:
                health = Health(False, f"health check raised {exc!r}")
            self._record(service, health)
            if health.healthy:
                self._failures[service.name] = 0
                self._backoff.pop(service.name, None)
                continue
            failures = self._failures.get(service.name, 0) + 1
            self._failures[service.name] = failures
            log.warning(
                "service unhealthy",
                extra={"service": service.name, "detail": health.detail, "failures": failures},
            )
            if failures >= FAILURES_BEFORE_RESTART:
                await self._restart(service)

    async def _restart(self, service: EdgeService) -> None:
        delay = self._backoff.get(service.name, 0.0)
        if delay:
            await asyncio.sleep(delay)
        self._backoff[service.name] = min(max(delay * 2, 1.0), RESTART_BACKOFF_MAX)
        self._metrics.service_restarts.labels(service.name).inc()
        log.warning("restarting service", extra={"service": service.name})
        with contextlib.suppress(Exception):
            await service.stop()
        try:
            await service.start(self._snapshot())
            self._failures[service.name] = 0
            self._record(service, Health(True))
        except Exception as exc:
            log.error(
                "service restart failed", extra={"service": service.name, "reason": repr(exc)}
            )

    def _record(self, service: EdgeService, health: Health) -> None:
        self._health[service.name] = health
        self._metrics.service_up.labels(service.name).set(1 if health.healthy else 0)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.check_once()
