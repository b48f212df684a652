"""The `ramparts` command."""

from __future__ import annotations

import sys

import click

from ramparts import __version__
from ramparts.cli.access import access
from ramparts.cli.connector import connector
from ramparts.cli.dns import dns
from ramparts.cli.edge import edge
from ramparts.cli.login import login
from ramparts.cli.output import EXIT_UNAVAILABLE
from ramparts.cli.tunnel import tunnel
from ramparts.cli.up import api, up
from ramparts.pki.ca import CaError
from ramparts.serving import BindError
from ramparts.store import StoreError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ramparts")
def cli() -> None:
    """Ramparts: a self-hosted zero-trust edge (tunnels, access, DNS and web filtering)."""


for command in (up, api, edge, login, tunnel):
    cli.add_command(command)
cli.add_command(dns)
cli.add_command(connector)
cli.add_command(access)


def main() -> None:
    """Console entry point: known failures become one line on stderr and an exit code."""
    try:
        cli.main(standalone_mode=True)
    except (StoreError, CaError, BindError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
