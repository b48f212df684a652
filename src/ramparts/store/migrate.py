"""Alembic, driven from code: the migrations ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade_to_heads(engine: Engine) -> None:
    """Apply every pending migration on every branch (capabilities each have their own branch
    off the initial schema, so they can be developed side by side)."""
    command.upgrade(alembic_config(engine), "heads")
