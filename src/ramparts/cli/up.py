"""`ramparts up` (everything on one machine) and `ramparts api` (control plane alone)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from ramparts.api.server import (
    DEFAULT_API_PORT,
    ControlPlaneSettings,
    RunningControlPlane,
    start_control_plane,
)
from ramparts.cli import credentials
from ramparts.cli.options import (
    edge_options,
    edge_settings,
    log_options,
    open_store,
    setup_logging,
    store_options,
)
from ramparts.cli.output import console, print_json
from ramparts.edge.node import EdgeNode
from ramparts.lifecycle import run
from ramparts.pki.ca import CA_CERT_FILE

DEFAULT_TEAM = "ramparts"


def team_options(func: Any) -> Any:
    func = click.option("--team", default=DEFAULT_TEAM, show_default=True, help="team name")(func)
    func = click.option(
        "--team-domain", default=None, help="team domain (default: <team>.localhost)"
    )(func)
    return func


@click.command()
@store_options
@team_options
@click.option("--api-host", default="127.0.0.1", show_default=True)
@click.option("--api-port", type=int, default=DEFAULT_API_PORT, show_default=True)
@edge_options
@click.option("--json", "as_json", is_flag=True, help="print one JSON object first, for scripts")
@log_options
def up(
    data_dir: Path,
    database: str | None,
    team: str,
    team_domain: str | None,
    api_host: str,
    api_port: int,
    as_json: bool,
    log_level: str,
    log_format: str,
    **edge_opts: Any,
) -> None:
    """Run the control plane and one edge on this machine (SQLite by default)."""
    setup_logging(log_level, log_format)
    data_dir, db = open_store(data_dir, database)
    db.wait_until_ready()
    settings = edge_settings(data_dir, edge_opts)
    cp_settings = ControlPlaneSettings(
        data_dir=data_dir,
        team_name=team,
        team_domain=team_domain or f"{team}.localhost",
        host=api_host,
        port=api_port,
        default_tunnel_addresses=[settings.advertised_tunnel_address],
    )

    async def main(stop: asyncio.Event) -> int:
        plane = await start_control_plane(db, cp_settings)
        edge = EdgeNode(db, settings)
        try:
            await edge.start(stop)
        except BaseException:
            await plane.stop()
            raise
        _announce(plane, edge, data_dir, as_json)
        await stop.wait()
        await edge.stop()
        await plane.stop()
        db.dispose()
        return 0

    raise SystemExit(run(main))


@click.command()
@store_options
@team_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=DEFAULT_API_PORT, show_default=True)
@click.option(
    "--tunnel-address",
    "tunnel_addresses",
    multiple=True,
    help="edge tunnel address for tokens until edges announce themselves",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object first, for scripts")
@log_options
def api(
    data_dir: Path,
    database: str | None,
    team: str,
    team_domain: str | None,
    host: str,
    port: int,
    tunnel_addresses: tuple[str, ...],
    as_json: bool,
    log_level: str,
    log_format: str,
) -> None:
    """Run the control plane's REST API alone (SQLite or PostgreSQL)."""
    setup_logging(log_level, log_format)
    data_dir, db = open_store(data_dir, database)
    db.wait_until_ready(attempts=5)
    settings = ControlPlaneSettings(
        data_dir=data_dir,
        team_name=team,
        team_domain=team_domain or f"{team}.localhost",
        host=host,
        port=port,
        default_tunnel_addresses=list(tunnel_addresses),
    )

    async def main(stop: asyncio.Event) -> int:
        plane = await start_control_plane(db, settings)
        _announce(plane, None, data_dir, as_json)
        await stop.wait()
        await plane.stop()
        db.dispose()
        return 0

    raise SystemExit(run(main))


def _announce(
    plane: RunningControlPlane, edge: EdgeNode | None, data_dir: Path, as_json: bool
) -> None:
    token = plane.boot.admin_token
    saved: Path | None = None
    if token is not None:
        saved = credentials.save(credentials.Credentials(plane.api_url, token))
        credentials.save_ca(plane.boot.team.ca_cert_pem)
    summary: dict[str, Any] = {
        "api_url": plane.api_url,
        "admin_token": token,
        "team_domain": plane.boot.team.domain,
        "data_dir": str(data_dir),
        "ca_cert": str(data_dir / CA_CERT_FILE),
        "ca_fingerprint": plane.boot.team.ca_fingerprint,
        "database": plane.db.display_url,
        "edge": edge.addresses if edge else {},
    }
    if as_json:
        print_json(summary)
        return
    console.print("[bold green]Ramparts is up[/]")
    console.print(f"  API          {plane.api_url}/api/v1   (docs: {plane.api_url}/api/v1/docs)")
    if token is not None:
        console.print(f"  admin token  [bold]{token}[/]   (shown once)")
        console.print(f"               saved for the CLI in {saved}")
    console.print(f"  team         {plane.boot.team.domain}")
    console.print(f"  CA           {data_dir / CA_CERT_FILE}  ({plane.boot.team.ca_fingerprint})")
    console.print(f"  database     {plane.db.display_url}")
    for service, address in (edge.addresses if edge else {}).items():
        console.print(f"  edge {service:<8}{address}")
    console.print("Stop with Ctrl-C (drains in-flight work; a second Ctrl-C exits at once).")
