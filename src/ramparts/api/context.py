"""What the API needs from the process that runs it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ramparts.store import Database
from ramparts.store.repositories import edges


@dataclass(frozen=True, slots=True)
class TeamInfo:
    name: str
    domain: str
    ca_fingerprint: str
    ca_cert_pem: str


@dataclass(slots=True)
class ControlPlane:
    db: Database
    team: TeamInfo
    # Tunnel addresses handed to connectors when no edge has announced itself yet.
    default_tunnel_addresses: list[str] = field(default_factory=list)

    def tunnel_addresses(self) -> list[str]:
        """Every live edge's tunnel address, else the configured defaults."""
        with self.db.session() as session:
            live = [e.tunnel_address for e in edges.live(session) if e.tunnel_address]
        return list(dict.fromkeys(live)) or list(self.default_tunnel_addresses)
