"""`ramparts access tcp|ssh`: reach a tunnel's TCP application through the edge over HTTPS."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import click

from ramparts.cli import credentials
from ramparts.cli.output import fail
from ramparts.tunnel.carrier import CarrierError, CarrierTarget, serve_local, stdio_bridge
from ramparts.tunnel.connector.supervisor import split_address

DEFAULT_EDGE_PORT = 443

hostname_option = click.option("--hostname", required=True, help="the application's hostname")
edge_option = click.option(
    "--edge",
    default=None,
    metavar="HOST:PORT",
    help="where the edge listens (default: HOSTNAME:443); TLS still checks HOSTNAME",
)
ca_option = click.option(
    "--ca-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="team CA certificate (default: the one saved by `ramparts login`/`up`, else system CAs)",
)


@click.group()
def access() -> None:
    """Reach applications behind tunnels from this machine."""


def _target(hostname: str, edge: str | None, ca_cert: Path | None) -> CarrierTarget:
    try:
        host, port = split_address(edge) if edge else (hostname, DEFAULT_EDGE_PORT)
    except ValueError as exc:
        fail(str(exc))
    if ca_cert is not None:
        context = ssl.create_default_context(cafile=str(ca_cert))
    else:
        saved = credentials.load_ca()
        context = (
            ssl.create_default_context(cadata=saved) if saved else ssl.create_default_context()
        )
    return CarrierTarget(hostname=hostname, edge_host=host, edge_port=port, context=context)


@access.command("tcp")
@hostname_option
@click.option("--url", required=True, metavar="HOST:PORT", help="local address to listen on")
@edge_option
@ca_option
def tcp(hostname: str, url: str, edge: str | None, ca_cert: Path | None) -> None:
    """Listen on --url; each connection is carried to HOSTNAME's TCP service."""
    target = _target(hostname, edge, ca_cert)
    try:
        host, port = split_address(url.removeprefix("tcp://"))
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"Listening on {host}:{port} for {hostname}", err=True)
    try:
        asyncio.run(serve_local(target, host, port))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@access.command("ssh")
@hostname_option
@edge_option
@ca_option
def ssh_(hostname: str, edge: str | None, ca_cert: Path | None) -> None:
    """Carry stdin/stdout to HOSTNAME (use as OpenSSH ProxyCommand)."""
    try:
        asyncio.run(stdio_bridge(_target(hostname, edge, ca_cert)))
    except CarrierError as exc:
        fail(str(exc))


def _add_admin_commands() -> None:
    from ramparts.cli.access_admin import COMMANDS

    for command in COMMANDS:
        access.add_command(command)


_add_admin_commands()
