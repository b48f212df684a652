"""`ramparts edge`: one edge node serving the snapshots of a shared store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from ramparts.cli.options import (
    edge_options,
    edge_settings,
    log_options,
    open_store,
    setup_logging,
    store_options,
)
from ramparts.cli.output import print_json
from ramparts.edge.node import EdgeNode
from ramparts.lifecycle import run
from ramparts.store import StoreUnavailable


@click.command()
@store_options
@click.option("--name", default=None, help="edge name shown in status (default: host name)")
@edge_options
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--poll-interval", type=float, default=2.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object first, for scripts")
@log_options
def edge(
    data_dir: Path,
    database: str | None,
    name: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    poll_interval: float,
    as_json: bool,
    log_level: str,
    log_format: str,
    **edge_opts: Any,
) -> None:
    """Run one edge node. It waits (with backoff) for the database and the control plane."""
    setup_logging(log_level, log_format)
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    data_dir, db = open_store(data_dir, database)
    settings = edge_settings(data_dir, edge_opts)
    settings.tls_cert, settings.tls_key = tls_cert, tls_key
    settings.poll_interval = poll_interval
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
