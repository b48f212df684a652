"""`ramparts edge`: one edge node serving the snapshots of a shared store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from ramparts.cli.options import log_options, open_store, setup_logging, store_options
from ramparts.cli.output import print_json
from ramparts.edge.node import DEFAULT_ADMIN_PORT, DEFAULT_HTTPS_PORT, EdgeNode, EdgeSettings
from ramparts.lifecycle import run
from ramparts.store import StoreUnavailable


@click.command()
@store_options
@click.option("--name", default=None, help="edge name shown in status (default: host name)")
@click.option("--host", default="127.0.0.1", show_default=True, help="address services bind")
@click.option("--https-port", type=int, default=DEFAULT_HTTPS_PORT, show_default=True)
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@click.option("--metrics-port", type=int, default=DEFAULT_ADMIN_PORT, show_default=True)
@click.option("--hostname", "hostnames", multiple=True, help="extra name/IP for the certificate")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--drain-timeout", type=float, default=10.0, show_default=True)
@click.option("--poll-interval", type=float, default=2.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object first, for scripts")
@log_options
def edge(
    data_dir: Path,
    database: str | None,
    name: str | None,
    host: str,
    https_port: int,
    metrics_host: str,
    metrics_port: int,
    hostnames: tuple[str, ...],
    tls_cert: Path | None,
    tls_key: Path | None,
    drain_timeout: float,
    poll_interval: float,
    as_json: bool,
    log_level: str,
    log_format: str,
) -> None:
    """Run one edge node. It waits (with backoff) for the database and the control plane."""
    setup_logging(log_level, log_format)
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    data_dir, db = open_store(data_dir, database)
    settings = EdgeSettings(
        data_dir=data_dir,
        bind_host=host,
        https_port=https_port,
        admin_host=metrics_host,
        admin_port=metrics_port,
        hostnames=list(hostnames),
        tls_cert=tls_cert,
        tls_key=tls_key,
        drain_timeout=drain_timeout,
        poll_interval=poll_interval,
    )
    if name:
        settings.name = name

    async def main(stop: asyncio.Event) -> int:
        node = EdgeNode(db, settings)
        try:
            await node.start(stop)
        except StoreUnavailable:
            if stop.is_set():
                return 0
            raise
        if as_json:
            print_json({"edge_id": node.id, "name": settings.name, "edge": node.addresses})
        await stop.wait()
        await node.stop()
        db.dispose()
        return 0

    raise SystemExit(run(main))
