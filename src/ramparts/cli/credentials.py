"""The CLI's saved login: API URL and token in the user config dir, mode 0600."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ramparts.config.paths import ensure_private_dir, user_config_dir
from ramparts.pki.ca import write_private

CREDENTIALS_FILE = "credentials.json"
CA_FILE = "ca.pem"  # the team CA, saved by `ramparts login`/`up` for `ramparts access`
ENV_API = "RAMPARTS_API"
ENV_TOKEN = "RAMPARTS_TOKEN"  # noqa: S105 - the name of an environment variable


@dataclass(frozen=True, slots=True)
class Credentials:
    api_url: str
    token: str


def credentials_path() -> Path:
    return user_config_dir() / CREDENTIALS_FILE


def save(credentials: Credentials, path: Path | None = None) -> Path:
    path = path or credentials_path()
    ensure_private_dir(path.parent)
    body = {"api_url": credentials.api_url, "token": credentials.token}
    write_private(path, (json.dumps(body, indent=2) + "\n").encode())
    return path


def load(path: Path | None = None) -> Credentials | None:
    """Environment variables win over the saved file; None when neither is there."""
    env_api, env_token = os.environ.get(ENV_API), os.environ.get(ENV_TOKEN)
    path = path or credentials_path()
    saved: dict[str, str] = {}
    try:
        data = json.loads(path.read_text())
        if isinstance(data, dict):
            saved = {k: v for k, v in data.items() if isinstance(v, str)}
    except (FileNotFoundError, ValueError):
        pass
    api_url = env_api or saved.get("api_url")
    token = env_token or saved.get("token")
    if not api_url or not token:
        return None
    return Credentials(api_url.rstrip("/"), token)


def save_ca(pem: str, directory: Path | None = None) -> Path:
    path = (directory or user_config_dir()) / CA_FILE
    ensure_private_dir(path.parent)
    path.write_text(pem)
    return path


def load_ca(directory: Path | None = None) -> str | None:
    try:
        return ((directory or user_config_dir()) / CA_FILE).read_text()
    except FileNotFoundError:
        return None
