"""Several `ramparts edge` processes on one PostgreSQL converge on every change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.net import free_port
from harness.postgres import PostgresServer
from harness.procs import RampartsProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CONVERGENCE_BAR = 2.0  # seconds, from the Foundation issue


def _api(tmp_path: Path, env: dict[str, str], url: str, data_dir: Path) -> RampartsProcess:
    args = [
        "api", "--json", "--database", url, "--data-dir", str(data_dir),
        "--port", str(free_port()),
        # Until the edges run tunnel servers that announce themselves, tokens use this address.
        "--tunnel-address", "127.0.0.1:7844",
    ]  # fmt: skip
    proc = RampartsProcess(args, env, tmp_path / f"api-{time.monotonic_ns()}.log")
    proc.read_summary()
    return proc


def _edge(
    tmp_path: Path, env: dict[str, str], url: str, data_dir: Path, name: str
) -> RampartsProcess:
    args = [
        "edge", "--json", "--name", name,
        "--database", url,
        "--data-dir", str(data_dir),
        "--https-port", str(free_port()),
        "--metrics-port", str(free_port()),
        "--tunnel-port", str(free_port()),
        "--dns-port", str(free_port()),
        "--dot-port", str(free_port()),
        "--doh-port", str(free_port()),
        "--proxy-port", "0", "--proxy-tls-port", "0",
        # A long poll: convergence has to come from LISTEN/NOTIFY, not from polling.
        "--poll-interval", "60",
    ]  # fmt: skip
    return RampartsProcess(args, env, tmp_path / f"edge-{name}.log")


@pytest.fixture
def procs() -> Iterator[list[RampartsProcess]]:
    started: list[RampartsProcess] = []
    yield started
    for proc in started:
        proc.kill()


def _ready(edge: RampartsProcess) -> dict[str, object]:
    response = httpx.get(f"http://{edge.summary['edge']['metrics']}/ready", timeout=2)
    body: dict[str, object] = response.json()
    return body


def test_two_edges_serve_a_change_within_two_seconds(
    tmp_path: Path, user_env: dict[str, str], pg_url: str, procs: list[RampartsProcess]
) -> None:
    data_dir = tmp_path / "data"
    api = _api(tmp_path, user_env, pg_url, data_dir)
    procs.append(api)
    edges = [_edge(tmp_path, user_env, pg_url, data_dir, name) for name in ("a", "b")]
    procs.extend(edges)
    for edge in edges:
        edge.read_summary()
    headers = {"Authorization": f"Bearer {api.summary['admin_token']}"}
    base = api.summary["api_url"] + "/api/v1"
    # Both edges are listening before the change (LISTEN is set up right after start).
    time.sleep(0.5)
    for round_ in range(3):
        response = httpx.post(f"{base}/tunnels", json={"name": f"t{round_}"}, headers=headers)
        assert response.status_code == 201
        changed_at = time.monotonic()
        version = httpx.get(f"{base}/status", headers=headers).json()["config_version"]
        pending = {id(e): e for e in edges}
        while pending:
            for key, edge in list(pending.items()):
                if _ready(edge)["snapshot_version"] == version:
                    del pending[key]
            elapsed = time.monotonic() - changed_at
            assert elapsed < CONVERGENCE_BAR, (
                f"edges did not converge on v{version} in {elapsed:.2f}s"
            )
            time.sleep(0.02)
    status = httpx.get(f"{base}/status", headers=headers).json()
    assert {e["name"] for e in status["edges"]} == {"a", "b"}
    for edge in edges:
        assert edge.terminate() == 0
    after = httpx.get(f"{base}/status", headers=headers).json()
    assert after["edges"] == [], "edges unregister when they stop"


def test_edge_waits_for_a_database_that_is_down_at_start(
    tmp_path: Path, user_env: dict[str, str], procs: list[RampartsProcess]
) -> None:
    server = PostgresServer()  # port chosen, server not started yet
    try:
        url = server.dsn("postgres")
        data_dir = tmp_path / "data"
        edge = _edge(tmp_path, user_env, url, data_dir, "early")
        procs.append(edge)
        deadline = time.monotonic() + 15
        while "store not ready, retrying" not in edge.logs():
            assert edge.proc.poll() is None, edge.logs()
            assert time.monotonic() < deadline, edge.logs()
            time.sleep(0.1)
        assert "connection refused" in edge.logs().lower() or "connect" in edge.logs().lower()
        server.start()
        procs.append(_api(tmp_path, user_env, url, data_dir))
        summary = edge.read_summary(timeout=60)
        assert _ready(edge)["ready"] is True
        assert summary["name"] == "early"
        assert edge.terminate() == 0
    finally:
        server.destroy()
