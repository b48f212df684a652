"""Options shared by the server commands (up, api, edge)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ramparts import logs
from ramparts.config.paths import default_data_dir, ensure_private_dir
from ramparts.edge.settings import (
    DEFAULT_ADMIN_PORT,
    DEFAULT_DNS_PORT,
    DEFAULT_DOH_PORT,
    DEFAULT_DOT_PORT,
    DEFAULT_HTTPS_PORT,
    DEFAULT_PROXY_PORT,
    DEFAULT_PROXY_TLS_PORT,
    DEFAULT_TUNNEL_PORT,
    EdgeSettings,
)
from ramparts.store import Database, database_url_for

F = TypeVar("F", bound=Callable[..., Any])


def store_options(func: F) -> F:
    func = click.option(
        "--database",
        envvar="RAMPARTS_DATABASE",
        metavar="URL",
        help="postgresql://user@host:port/db (default: SQLite in the data dir)",
    )(func)
    func = click.option(
        "--data-dir",
        envvar="RAMPARTS_DATA_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        default=default_data_dir,
        show_default="~/.local/share/ramparts",
        help="where the CA, certificates and the SQLite database live",
    )(func)
    return func


def log_options(func: F) -> F:
    func = click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"]),
        default="info",
        show_default=True,
    )(func)
    func = click.option(
        "--log-format", type=click.Choice(["json", "text"]), default="json", show_default=True
    )(func)
    return func


def open_store(data_dir: Path, database: str | None) -> tuple[Path, Database]:
    data_dir = ensure_private_dir(data_dir.expanduser().resolve())
    return data_dir, Database(database_url_for(data_dir, database))


def setup_logging(level: str, fmt: str) -> None:
    logs.setup(level, fmt)


def edge_options(func: F) -> F:
    """Listener options shared by `ramparts up` and `ramparts edge` (collected as **edge)."""
    options = [
        click.option(
            "--host", default="127.0.0.1", show_default=True, help="address services bind"
        ),
        click.option("--https-port", type=int, default=DEFAULT_HTTPS_PORT, show_default=True),
        click.option("--tunnel-port", type=int, default=DEFAULT_TUNNEL_PORT, show_default=True),
        click.option(
            "--tunnel-advertise",
            default=None,
            metavar="HOST:PORT",
            help="tunnel address put in connector tokens (default: the bound address)",
        ),
        click.option("--metrics-host", default="127.0.0.1", show_default=True),
        click.option("--metrics-port", type=int, default=DEFAULT_ADMIN_PORT, show_default=True),
        click.option("--hostname", "hostnames", multiple=True, help="extra certificate name/IP"),
        click.option("--drain-timeout", type=float, default=10.0, show_default=True),
        click.option(
            "--dns-port",
            type=int,
            default=DEFAULT_DNS_PORT,
            show_default=True,
            help="plain DNS, UDP and TCP",
        ),
        click.option("--dot-port", type=int, default=DEFAULT_DOT_PORT, show_default=True),
        click.option("--doh-port", type=int, default=DEFAULT_DOH_PORT, show_default=True),
        click.option(
            "--dns-workers",
            type=click.IntRange(1, 64),
            default=1,
            show_default=True,
            help="processes sharing the plain DNS port (SO_REUSEPORT)",
        ),
        click.option(
            "--proxy-port",
            type=int,
            default=DEFAULT_PROXY_PORT,
            show_default=True,
            help="forward proxy (HTTP, CONNECT) and PAC files",
        ),
        click.option(
            "--proxy-tls-port",
            type=int,
            default=DEFAULT_PROXY_TLS_PORT,
            show_default=True,
            help="forward proxy over TLS (PAC: HTTPS host:port)",
        ),
        click.option(
            "--proxy-resolver",
            default=None,
            metavar="HOST:PORT",
            help="DNS server the proxy resolves destinations with (default: the system's)",
        ),
        click.option(
            "--proxy-origin-ca",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            default=None,
            help="extra CA bundle trusted for inspected HTTPS destinations",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def edge_settings(data_dir: Path, edge: dict[str, Any]) -> EdgeSettings:
    return EdgeSettings(
        data_dir=data_dir,
        bind_host=edge["host"],
        https_port=edge["https_port"],
        tunnel_port=edge["tunnel_port"],
        tunnel_advertise=edge["tunnel_advertise"],
        admin_host=edge["metrics_host"],
        admin_port=edge["metrics_port"],
        hostnames=list(edge["hostnames"]),
        drain_timeout=edge["drain_timeout"],
        dns_port=edge["dns_port"],
        dot_port=edge["dot_port"],
        doh_port=edge["doh_port"],
        dns_workers=edge["dns_workers"],
        proxy_port=edge["proxy_port"],
        proxy_tls_port=edge["proxy_tls_port"],
        proxy_resolver=edge["proxy_resolver"],
        proxy_origin_ca=edge["proxy_origin_ca"],
    )
