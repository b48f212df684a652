"""`ramparts up` as a user runs it: summary line, real curl, the CLI, TLS, drain on SIGTERM."""

from __future__ import annotations

import base64
import json
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from harness.net import free_port
from harness.procs import RampartsProcess, run_cli

pytestmark = pytest.mark.slow


def _start_up(tmp_path: Path, env: dict[str, str], data_dir: Path) -> RampartsProcess:
    args = [
        "up",
        "--json",
        "--data-dir", str(data_dir),
        "--api-port", str(free_port()),
        "--https-port", str(free_port()),
        "--metrics-port", str(free_port()),
        "--tunnel-port", str(free_port()),
        "--dns-port", "0", "--dot-port", "0", "--doh-port", "0",
        "--proxy-port", "0", "--proxy-tls-port", "0",
        "--team", "acme",
    ]  # fmt: skip
    proc = RampartsProcess(args, env, tmp_path / f"up-{time.monotonic_ns()}.log")
    proc.read_summary()
    return proc


def test_up_first_run_api_cli_edge_and_drain(tmp_path: Path, user_env: dict[str, str]) -> None:
    data_dir = tmp_path / "data"
    proc = _start_up(tmp_path, user_env, data_dir)
    try:
        s = proc.summary
        assert set(s) >= {"api_url", "admin_token", "team_domain", "data_dir", "ca_cert", "edge"}
        assert s["team_domain"] == "acme.localhost"
        assert s["admin_token"].startswith("rpt_")
        assert {"https", "metrics"} <= set(s["edge"])
        token = s["admin_token"]

        # The done-criterion, with real curl.
        listed = subprocess.run(
            [
                "curl",
                "-sf",
                "-H",
                f"Authorization: Bearer {token}",
                f"{s['api_url']}/api/v1/tunnels",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(listed.stdout) == []

        # The CLI uses the login that `up` saved on first run.
        created = run_cli(["tunnel", "create", "demo"], user_env)
        assert created.returncode == 0, created.stderr
        token_line = created.stdout.strip().splitlines()[-1]
        body = json.loads(base64.b64decode(token_line))
        assert body["ca"] == s["ca_fingerprint"]
        listed_json = run_cli(["tunnel", "list", "--json"], user_env)
        assert [t["name"] for t in json.loads(listed_json.stdout)] == ["demo"]
        info = run_cli(["tunnel", "info", "demo"], user_env)
        assert info.returncode == 0 and body["t"] in info.stdout
        dup = run_cli(["tunnel", "create", "demo"], user_env)
        assert dup.returncode == 1
        assert dup.stderr.startswith("error: 409") and len(dup.stderr.strip().splitlines()) == 1
        missing = run_cli(["tunnel", "info", "nope"], user_env)
        assert missing.returncode == 1 and "404" in missing.stderr

        # Files holding secrets are private.
        creds = Path(user_env["XDG_CONFIG_HOME"]) / "ramparts" / "credentials.json"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        assert stat.S_IMODE((data_dir / "ca.key").stat().st_mode) == 0o600
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700

        # The edge's HTTPS listener presents a certificate from the team CA (verified by curl).
        https_port = s["edge"]["https"].rsplit(":", 1)[1]
        page = subprocess.run(
            [
                "curl", "-s", "-o", "-", "-w", "%{http_code}",
                "--cacert", s["ca_cert"],
                "--resolve", f"app.acme.localhost:{https_port}:127.0.0.1",
                f"https://app.acme.localhost:{https_port}/",
            ],
            capture_output=True,
            text=True,
            check=True,
        )  # fmt: skip
        assert page.stdout.endswith("404") and "app.acme.localhost" in page.stdout

        ready = httpx.get(f"http://{s['edge']['metrics']}/ready").json()
        assert ready["ready"] is True and ready["snapshot_version"] >= 2
        metrics = httpx.get(f"http://{s['edge']['metrics']}/metrics").text
        assert "ramparts_config_snapshot_version" in metrics
        assert 'ramparts_service_up{service="https"} 1.0' in metrics

        assert proc.terminate() == 0
        logs = proc.logs()
        assert token not in logs and body["s"] not in logs, "secrets never reach the logs"
        for line in logs.strip().splitlines():
            json.loads(line)  # structured: every log line is one JSON object
        assert "edge draining" in logs and "edge stopped" in logs

        # A second start: same CA, no new admin token, the CLI login still works.
        again = _start_up(tmp_path, user_env, data_dir)
        try:
            assert again.summary["admin_token"] is None
            assert again.summary["ca_fingerprint"] == s["ca_fingerprint"]
        finally:
            assert again.terminate() == 0
    finally:
        proc.kill()


def _open_inflight_request(api_url: str, token: str, body: bytes) -> socket.socket:
    """A create request whose headers are sent but whose body is held back: work in flight."""
    host, port = api_url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=20)
    head = (
        "POST /api/v1/tunnels HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


def _wait_for_log(proc: RampartsProcess, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in proc.logs():
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{proc.logs()}"
        time.sleep(0.02)


def test_sigterm_drains_in_flight_requests(tmp_path: Path, user_env: dict[str, str]) -> None:
    proc = _start_up(tmp_path, user_env, tmp_path / "data")
    try:
        body = b'{"name": "late"}'
        sock = _open_inflight_request(proc.summary["api_url"], proc.summary["admin_token"], body)
        time.sleep(0.2)
        proc.proc.send_signal(signal.SIGTERM)
        _wait_for_log(proc, "signal received, draining")
        time.sleep(0.3)
        assert proc.proc.poll() is None, "the process must wait for the in-flight request"
        sock.sendall(body)
        response = sock.recv(65536).decode()
        sock.close()
        assert response.startswith("HTTP/1.1 201"), response
        assert proc.proc.wait(15) == 0
    finally:
        proc.kill()


def test_second_signal_exits_at_once(tmp_path: Path, user_env: dict[str, str]) -> None:
    proc = _start_up(tmp_path, user_env, tmp_path / "data")
    try:
        sock = _open_inflight_request(proc.summary["api_url"], proc.summary["admin_token"], b"{}")
        time.sleep(0.2)
        proc.proc.send_signal(signal.SIGTERM)
        _wait_for_log(proc, "signal received, draining")
        started = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(10) == 130
        assert time.monotonic() - started < 2.0
        sock.close()
    finally:
        proc.kill()


def test_port_in_use_is_a_one_line_error(tmp_path: Path, user_env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            ["up", "--data-dir", str(tmp_path / "d"), "--api-port", str(port)], user_env
        )
    assert result.returncode != 0
    assert f"127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_without_login_or_api(tmp_path: Path, user_env: dict[str, str]) -> None:
    result = run_cli(["tunnel", "list"], user_env)
    assert result.returncode == 1 and "not logged in" in result.stderr
    env = {**user_env, "RAMPARTS_API": f"http://127.0.0.1:{free_port()}", "RAMPARTS_TOKEN": "x"}
    result = run_cli(["tunnel", "list"], env)
    assert result.returncode == 3 and "cannot reach the API" in result.stderr
