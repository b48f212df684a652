"""Options shared by the server commands (up, api, edge)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ramparts import logs
from ramparts.config.paths import default_data_dir, ensure_private_dir
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
