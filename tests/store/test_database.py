"""Opening stores: URLs, a database that is down, file modes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from harness.net import free_port
from ramparts.store import Database, StoreUnavailable, database_url_for


def test_default_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    assert database_url_for(tmp_path, None) == f"sqlite:///{tmp_path / 'ramparts.db'}"


def test_postgres_urls_select_psycopg() -> None:
    url = database_url_for(Path("/x"), "postgresql://u:pw@127.0.0.1:5432/db")
    assert url.startswith("postgresql+psycopg://u:pw@127.0.0.1:5432/db")


@pytest.mark.parametrize("bad", ["mysql://x/y", "::not a url::"])
def test_unsupported_or_invalid_url_is_a_clear_error(bad: str) -> None:
    with pytest.raises(StoreUnavailable):
        database_url_for(Path("/x"), bad)


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    db = Database(database_url_for(tmp_path, None))
    db.migrate()
    mode = stat.S_IMODE((tmp_path / "ramparts.db").stat().st_mode)
    assert mode == 0o600
    db.dispose()


def test_database_down_is_a_clear_error_after_retries() -> None:
    port = free_port()
    db = Database(f"postgresql+psycopg://nobody:secretpw@127.0.0.1:{port}/x")
    with pytest.raises(StoreUnavailable) as info:
        db.wait_until_ready(attempts=2, first_delay=0.05)
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message
    assert "secretpw" not in message, "passwords never appear in errors"
