"""`ramparts connector run`: serve a tunnel from this machine (outbound connections only)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import click

from ramparts import logs
from ramparts.cli.output import fail, print_json
from ramparts.lifecycle import run
from ramparts.tunnel.connector.config import ConnectorConfig, load_config, quick_config
from ramparts.tunnel.connector.errors import ConfigError
from ramparts.tunnel.connector.run import RunningConnector, run_until_stopped
from ramparts.tunnel.connector.values import HostPort
from ramparts.tunnel.token import ConnectorToken, TokenError

TOKEN_ENV = "RAMPARTS_TUNNEL_TOKEN"  # noqa: S105 - the name of an environment variable


@click.command("run")
@click.option("--token", envvar=TOKEN_ENV, default=None, help=f"connector token (or ${TOKEN_ENV})")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="config.yml with ingress rules (and a credentials-file)",
)
@click.option("--url", default=None, help="quick form: send every hostname to this origin")
@click.option("--protocol", type=click.Choice(["auto", "tcp", "quic"]), default=None)
@click.option("--ha-connections", type=click.IntRange(1, 16), default=None)
@click.option("--grace-period", type=float, default=None, help="seconds to drain on SIGTERM")
@click.option(
    "--metrics", default=None, metavar="HOST:PORT", help="admin listener (default: a free port)"
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object first, for scripts")
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info"
)
@click.option("--log-format", type=click.Choice(["json", "text"]), default="json")
def run_command(
    token: str | None,
    config_path: Path | None,
    url: str | None,
    protocol: str | None,
    ha_connections: int | None,
    grace_period: float | None,
    metrics: str | None,
    as_json: bool,
    log_level: str,
    log_format: str,
) -> None:
    """Connect to the edge and serve the tunnel's requests from local origins."""
    logs.setup(log_level, log_format)
    try:
        config = load_config(config_path) if config_path else ConnectorConfig()
        if url:
            config = quick_config(url, config)
    except ConfigError as exc:
        fail(str(exc))
    credentials = _credentials(token, config)
    overrides: dict[str, object] = {}
    if protocol:
        overrides["protocol"] = protocol
    if ha_connections:
        overrides["ha_connections"] = ha_connections
    if grace_period is not None:
        overrides["grace_period"] = grace_period
    if metrics:
        host, sep, port = metrics.rpartition(":")
        if not sep or not port.isdigit():
            fail(f"--metrics {metrics!r} is not HOST:PORT")
        overrides["metrics"] = HostPort(host.strip("[]") or "127.0.0.1", int(port))
    config = dataclasses.replace(config, **overrides)  # type: ignore[arg-type]
    if config.protocol == "quic":
        fail("the QUIC transport is not available yet: use --protocol tcp or auto")

    def announce(running: RunningConnector) -> None:
        if as_json:
            print_json(
                {
                    "connector_id": str(running.supervisor.connector_id),
                    "tunnel_id": credentials.tunnel_id,
                    "metrics": running.metrics_address,
                    "edges": list(credentials.edge_addresses),
                }
            )

    async def main(stop: asyncio.Event) -> int:
        return await run_until_stopped(config, credentials, stop, announce)

    raise SystemExit(run(main))


def _credentials(token: str | None, config: ConnectorConfig) -> ConnectorToken:
    if token:
        try:
            return ConnectorToken.decode(token)
        except TokenError as exc:
            fail(f"invalid --token: {exc}")
    if config.credentials is not None:
        return config.credentials
    fail("no credentials: pass --token (`ramparts tunnel token NAME`) or a credentials-file")
