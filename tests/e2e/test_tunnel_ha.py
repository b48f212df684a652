"""High availability: two edges on one PostgreSQL, a connector with four connections and a
replica; edges and replicas die while a client keeps requesting through the surviving edge."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.net import free_port
from harness.procs import RampartsProcess, isolated_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

HOST = "app.acme.localhost"
GRACE = 1.0  # the bar: no request through the surviving edge fails after this


class Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def origin() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def edge_args(name: str, url: str, data_dir: Path, ports: dict[str, int]) -> list[str]:
    return [
        "edge", "--json", "--name", name, "--database", url, "--data-dir", str(data_dir),
        "--https-port", str(ports["https"]), "--tunnel-port", str(ports["tunnel"]),
        "--metrics-port", str(ports["metrics"]), "--dns-port", str(ports["dns"]),
        "--dot-port", str(ports["dot"]), "--doh-port", str(ports["doh"]),
        "--proxy-port", "0", "--proxy-tls-port", "0",
        "--drain-timeout", "2",
    ]  # fmt: skip


class Prober:
    """Requests through one edge in a loop, recording (time, ok) for each."""

    def __init__(self, https: str, ca: str) -> None:
        self.results: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        context = ssl.create_default_context(cafile=ca)
        self._client = httpx.Client(base_url=f"https://{https}", verify=context, timeout=5)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ok = self._client.get("/", headers={"host": HOST}).status_code == 200
            except httpx.HTTPError:
                ok = False
            self.results.append((time.monotonic(), ok))
            time.sleep(0.01)

    def start(self) -> Prober:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._client.close()

    def failures_between(self, start: float, end: float) -> int:
        return sum(1 for at, ok in self.results if start <= at < end and not ok)

    def count_between(self, start: float, end: float) -> int:
        return sum(1 for at, _ in self.results if start <= at < end)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_edge_and_replica_failures_do_not_fail_requests(
    tmp_path: Path, pg_url: str, origin: int
) -> None:
    env = isolated_env(tmp_path)
    data_dir = tmp_path / "data"
    procs: list[RampartsProcess] = []
    prober: Prober | None = None
    try:
        api = RampartsProcess(
            ["api", "--json", "--team", "acme", "--database", pg_url, "--data-dir", str(data_dir),
             "--port", str(free_port())],
            env, tmp_path / "api.log",
        )  # fmt: skip
        procs.append(api)
        api.read_summary()
        base = api.summary["api_url"] + "/api/v1"
        auth = {"Authorization": f"Bearer {api.summary['admin_token']}"}
        ports = {
            name: {k: free_port() for k in ("https", "tunnel", "metrics", "dns", "dot", "doh")}
            for name in ("a", "b")
        }
        edges = {
            name: RampartsProcess(
                edge_args(name, pg_url, data_dir, ports[name]), env, tmp_path / f"edge-{name}.log"
            )
            for name in ("a", "b")
        }
        procs.extend(edges.values())
        for edge in edges.values():
            edge.read_summary()
        created = httpx.post(f"{base}/tunnels", json={"name": "web"}, headers=auth).json()
        token = created["token"]
        token_edges = json.loads(base64.b64decode(token))["e"]
        assert sorted(token_edges) == sorted(f"127.0.0.1:{p['tunnel']}" for p in ports.values())
        httpx.post(f"{base}/tunnels/web/hostnames", json={"hostname": HOST}, headers=auth)
        replicas = [
            RampartsProcess(
                [
                    "connector",
                    "run",
                    "--json",
                    "--token",
                    token,
                    "--url",
                    f"http://127.0.0.1:{origin}",
                    "--ha-connections",
                    "4",
                ],
                env,
                tmp_path / f"replica-{i}.log",
            )
            for i in range(2)
        ]
        procs.extend(replicas)
        for replica in replicas:
            replica.read_summary()

        def connections() -> list[dict[str, Any]]:
            result: list[dict[str, Any]] = httpx.get(
                f"{base}/tunnels/web/connections", headers=auth
            ).json()
            return result

        wait_until(lambda: len(connections()) == 8, 30, "8 connections (2 replicas x 4)")
        assert {c["edge_name"] for c in connections()} == {"a", "b"}

        prober = Prober(f"127.0.0.1:{ports['b']['https']}", api.summary["ca_cert"]).start()
        time.sleep(2)
        assert prober.count_between(0, time.monotonic()) > 20
        assert prober.failures_between(0, time.monotonic()) == 0

        killed_edge = time.monotonic()
        edges["a"].kill()
        time.sleep(3)
        killed_replica = time.monotonic()
        replicas[0].kill()
        time.sleep(3)
        end = time.monotonic()
        assert prober.failures_between(killed_edge + GRACE, killed_replica) == 0
        assert prober.failures_between(killed_replica + GRACE, end) == 0
        assert prober.count_between(killed_replica + GRACE, end) > 20

        # Edge A comes back on the same ports: the surviving replica dials it again.
        edges["a"] = RampartsProcess(
            edge_args("a", pg_url, data_dir, ports["a"]), env, tmp_path / "edge-a2.log"
        )
        procs.append(edges["a"])
        edges["a"].read_summary()
        wait_until(
            lambda: any(c["edge_name"] == "a" for c in connections()),
            40,
            "the replica to reconnect to edge a",
        )
        assert prober.failures_between(killed_replica + GRACE, time.monotonic()) == 0
    finally:
        if prober is not None:
            prober.stop()
        for proc in reversed(procs):
            proc.kill()
