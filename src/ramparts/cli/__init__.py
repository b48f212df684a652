"""The `ramparts` command.

Command groups are imported only when used (``LazyGroup``), so that `ramparts tunnel list`
does not pay for importing the server stack; add a group by adding a line to ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import sys

import click

from ramparts import __version__

EXIT_UNAVAILABLE = 3  # same value as cli.output.EXIT_UNAVAILABLE (kept import-free here)

COMMANDS: dict[str, str] = {
    "up": "ramparts.cli.up:up",
    "api": "ramparts.cli.up:api",
    "edge": "ramparts.cli.edge:edge",
    "login": "ramparts.cli.login:login",
    "tunnel": "ramparts.cli.tunnel:tunnel",
    "connector": "ramparts.cli.connector:connector",
    "access": "ramparts.cli.access:access",
    "dns": "ramparts.cli.dns:dns",
    "proxy": "ramparts.cli.proxy:proxy",
    "policy": "ramparts.cli.policy:policy",
    "list": "ramparts.cli.policy:policy_lists",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ramparts")
def cli() -> None:
    """Ramparts: a self-hosted zero-trust edge (tunnels, access, DNS and web filtering)."""


def main() -> None:
    """Console entry point: known failures become one line on stderr and an exit code."""
    try:
        cli.main(standalone_mode=True)
    except Exception as exc:
        if _is_known_failure(exc):
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_UNAVAILABLE)
        raise


def _is_known_failure(exc: Exception) -> bool:
    # Imported here: these modules are only loaded by commands that can raise them.
    from ramparts.pki.ca import CaError
    from ramparts.serving import BindError
    from ramparts.store import StoreError

    return isinstance(exc, StoreError | CaError | BindError)
