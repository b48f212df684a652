"""Live connector connections per tunnel, and the choice of one for each new stream."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from ramparts.tunnel.mux import MuxConnection


@dataclass(eq=False, slots=True)
class LiveConnection:
    """One registered connector connection held by this edge."""

    id: str
    tunnel_id: str
    connector_id: str
    index: int
    version: str
    origin_ip: str
    credential_digest: str  # which of the tunnel's credentials it used (revocation closes it)
    mux: MuxConnection
    config_version: int = 0  # the remotely managed configuration last pushed to it
    opened_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def usable(self) -> bool:
        return self.mux.is_open and not self.mux.conn.is_draining


class TunnelRegistry:
    """Connections by tunnel. A closed connection leaves at once, so it is never chosen."""

    def __init__(self) -> None:
        self._by_tunnel: dict[str, list[LiveConnection]] = {}
        self._turn = itertools.count()

    def add(self, connection: LiveConnection) -> None:
        self._by_tunnel.setdefault(connection.tunnel_id, []).append(connection)

    def remove(self, connection: LiveConnection) -> None:
        live = self._by_tunnel.get(connection.tunnel_id)
        if live is None:
            return
        if connection in live:
            live.remove(connection)
        if not live:
            del self._by_tunnel[connection.tunnel_id]

    def pick(self, tunnel_id: str) -> LiveConnection | None:
        """A usable connection of the tunnel: the least busy, rotating among equals."""
        live = self._by_tunnel.get(tunnel_id)
        if not live:
            return None
        usable = [c for c in live if c.usable]
        if not usable:
            return None
        start = next(self._turn) % len(usable)
        best = usable[start]
        best_load = best.mux.stream_count
        for offset in range(1, len(usable)):
            candidate = usable[(start + offset) % len(usable)]
            load = candidate.mux.stream_count
            if load < best_load:
                best, best_load = candidate, load
        return best

    def of(self, tunnel_id: str) -> list[LiveConnection]:
        return list(self._by_tunnel.get(tunnel_id, ()))

    def __iter__(self) -> Iterator[LiveConnection]:
        for live in list(self._by_tunnel.values()):
            yield from list(live)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_tunnel.values())
