"""Human output (rich tables) and script output (--json); one-line errors with exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3  # the API or the database cannot be reached

# A pipe or a file gets whole lines (scripts grep them); a terminal gets its own width.
PIPE_WIDTH = 1000
console = Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)


class CliError(click.ClickException):
    """A failure reported as one line on stderr with a non-zero exit code."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class UnavailableError(CliError):
    """The API (or the database behind it) cannot be reached."""

    exit_code = EXIT_UNAVAILABLE


def fail(message: str, exit_code: int = EXIT_ERROR) -> NoReturn:
    if exit_code == EXIT_UNAVAILABLE:
        raise UnavailableError(message)
    raise CliError(message)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, default=str) + "\n")
    sys.stdout.flush()


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else escape(str(v)) for v in row))
    console.print(table)


def print_fields(pairs: Iterable[tuple[str, Any]]) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in pairs:
        table.add_row(escape(key), "" if value is None else escape(str(value)))
    console.print(table)
