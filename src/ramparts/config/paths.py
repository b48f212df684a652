"""Where Ramparts keeps its files (XDG base directories)."""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR = "ramparts"
PRIVATE_DIR_MODE = 0o700  # the data dir holds the CA key and the SQLite database


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_DIR


def user_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP_DIR


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make sure only its owner can enter it."""
    path.mkdir(parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(PRIVATE_DIR_MODE)
    return path
