"""Control-plane store: models, migrations and repositories (SQLite default, PostgreSQL)."""

from ramparts.store.database import Database, database_url_for
from ramparts.store.errors import Conflict, NotFound, StoreError, StoreUnavailable

__all__ = [
    "Conflict",
    "Database",
    "NotFound",
    "StoreError",
    "StoreUnavailable",
    "database_url_for",
]
