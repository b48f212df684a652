"""Engine, sessions and the unit of work of the control-plane store."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ramparts.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

SQLITE_FILE = "ramparts.db"
SQLITE_FILE_MODE = 0o600  # holds token and secret digests
SQLITE_BUSY_TIMEOUT_MS = 10_000  # writers wait for each other instead of failing at once
PG_CONNECT_TIMEOUT_S = 5
CONFIG_CHANNEL = "ramparts_config"  # PostgreSQL NOTIFY channel that carries the config version

VersionListener = Callable[[int], None]


def database_url_for(data_dir: Path, database: str | None) -> str:
    """The SQLAlchemy URL for ``--database`` (PostgreSQL) or the data dir's SQLite file."""
    if not database:
        return f"sqlite:///{data_dir / SQLITE_FILE}"
    try:
        url = make_url(database)
    except ArgumentError as exc:
        raise StoreUnavailable(f"invalid --database URL: {exc}") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if url.drivername == "sqlite":
        return database
    raise StoreUnavailable(
        f"unsupported database {url.drivername!r}: use postgresql://… or sqlite:///path"
    )


class Database:
    """One engine plus the unit of work. Thread-safe; sessions are short-lived."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _create_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._listeners: list[VersionListener] = []
        self._lock = threading.Lock()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def display_url(self) -> str:
        """The URL with any password masked, for logs and status output."""
        return make_url(self.url).render_as_string(hide_password=True)

    def wait_until_ready(
        self, attempts: int = 1, first_delay: float = 0.5, max_delay: float = 10.0
    ) -> None:
        """Open one connection, retrying with exponential backoff; StoreUnavailable at the end."""
        delay = first_delay
        for attempt in range(1, attempts + 1):
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except OperationalError as exc:
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                if attempt == attempts:
                    raise StoreUnavailable(
                        f"database {self.display_url} is unavailable: {reason}"
                    ) from None
                log.warning(
                    "database unavailable, retrying",
                    extra={"database": self.display_url, "attempt": attempt, "reason": reason},
                )
                time.sleep(delay)
                delay = min(delay * 2, max_delay)

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        from ramparts.store.migrate import upgrade_to_heads

        upgrade_to_heads(self.engine)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A read-only session (rolled back at the end)."""
        with self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: commit on success, roll back on error, then tell version listeners."""
        with self._sessions() as session, session.begin():
            yield session
        bumped = session.info.get("config_version")
        if isinstance(bumped, int):
            for listener in list(self._listeners):
                listener(bumped)

    def add_version_listener(self, listener: VersionListener) -> None:
        """Called in-process after each commit that bumped the configuration version."""
        with self._lock:
            self._listeners.append(listener)

    def remove_version_listener(self, listener: VersionListener) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Created 0600 before SQLite opens it; SQLite gives -wal/-shm the same mode.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, SQLITE_FILE_MODE))
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
    )


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
