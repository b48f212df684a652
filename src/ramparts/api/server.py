"""Starting a control plane: store, bootstrap, and the API listener."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ramparts.api.app import create_app
from ramparts.api.bootstrap import Bootstrapped, bootstrap
from ramparts.api.context import ControlPlane
from ramparts.api.list_refresh import CACHE_DIR, ListRefreshRunner
from ramparts.serving import AsgiServer
from ramparts.store import Database

DEFAULT_API_PORT = 7840


@dataclass(slots=True)
class ControlPlaneSettings:
    data_dir: Path
    team_name: str
    team_domain: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_API_PORT
    default_tunnel_addresses: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RunningControlPlane:
    db: Database
    boot: Bootstrapped
    server: AsgiServer
    lists: ListRefreshRunner | None = None

    @property
    def api_url(self) -> str:
        return f"http://{self.server.address}"

    async def stop(self) -> None:
        await self.server.stop()
        if self.lists is not None:
            await self.lists.stop()


async def start_control_plane(db: Database, settings: ControlPlaneSettings) -> RunningControlPlane:
    """Migrate and bootstrap the store (blocking work off the loop), then serve the API."""
    import asyncio

    boot = await asyncio.to_thread(
        bootstrap, db, settings.data_dir, settings.team_name, settings.team_domain
    )
    plane = ControlPlane(db, boot.team, list(settings.default_tunnel_addresses))
    app = create_app(plane)
    lists = ListRefreshRunner(db, settings.data_dir / CACHE_DIR)  # URL-sourced policy lists
    app.state.list_refresh = lists
    server = AsgiServer("api", app, settings.host, settings.port)
    await server.start()
    await lists.start()
    return RunningControlPlane(db, boot, server, lists)
