"""What the supervisor expects of every edge service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ramparts.config.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class Health:
    healthy: bool
    detail: str = ""


class EdgeService(Protocol):
    """A listener-owning service of the edge (HTTPS ingress, tunnel server, DNS, proxy…)."""

    name: str

    @property
    def addresses(self) -> dict[str, str]:
        """Public names of what it listens on, e.g. ``{"https": "127.0.0.1:7843"}``."""
        ...

    async def start(self, snapshot: Snapshot) -> None:
        """Bind and begin serving ``snapshot``. Raising means the service failed to start."""
        ...

    def apply(self, snapshot: Snapshot) -> None:
        """Serve ``snapshot`` from now on. In-flight work keeps the snapshot it started with."""
        ...

    async def stop(self) -> None:
        """Stop accepting, drain in-flight work (bounded by the service's own timeout), close."""
        ...

    def health(self) -> Health: ...
