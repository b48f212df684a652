from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ramparts.api.app import create_app
from ramparts.api.bootstrap import bootstrap
from ramparts.api.context import ControlPlane
from ramparts.store import Database


@dataclass
class Api:
    client: TestClient
    token: str
    plane: ControlPlane

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[Api]:
    boot = bootstrap(db, tmp_path, "acme", "acme.localhost")
    assert boot.admin_token is not None
    plane = ControlPlane(db, boot.team, ["127.0.0.1:7844"])
    with TestClient(create_app(plane), raise_server_exceptions=False) as client:
        yield Api(client, boot.admin_token, plane)
