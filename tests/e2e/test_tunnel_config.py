"""Remotely managed ingress (pushed to running connectors) and SIGHUP reloads of config.yml."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from harness.net import free_port
from harness.procs import RampartsProcess, isolated_env, run_cli

pytestmark = pytest.mark.slow

HOST = "app.acme.localhost"


def named_origin(name: str) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = name.encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("config")
    user_env = isolated_env(tmp)
    blue, blue_port = named_origin("blue")
    green, green_port = named_origin("green")
    up = RampartsProcess(
        [
            "up", "--json", "--team", "acme", "--data-dir", str(tmp / "data"),
            "--api-port", str(free_port()), "--https-port", str(free_port()),
            "--tunnel-port", str(free_port()), "--metrics-port", str(free_port()),
            "--dns-port", str(free_port()), "--dot-port", str(free_port()),
            "--doh-port", str(free_port()),
            "--proxy-port", "0", "--proxy-tls-port", "0",
        ],
        user_env,
        tmp / "up.log",
    )  # fmt: skip
    try:
        up.read_summary()
        yield {
            "tmp": tmp, "env": user_env, "up": up,
            "blue": blue_port, "green": green_port,
        }  # fmt: skip
    finally:
        up.terminate()
        blue.shutdown()
        green.shutdown()


def fetch(ctx: dict[str, Any]) -> tuple[int, str]:
    port = ctx["up"].summary["edge"]["https"].rsplit(":", 1)[1]
    result = subprocess.run(
        ["curl", "-s", "--max-time", "10", "--cacert", ctx["up"].summary["ca_cert"],
         "--resolve", f"{HOST}:{port}:127.0.0.1", "-w", "\n%{http_code}", f"https://{HOST}:{port}/"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    body, _, code = result.stdout.rpartition("\n")
    return int(code or 0), body


def eventually(ctx: dict[str, Any], expected: str, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while True:
        status, body = fetch(ctx)
        if status == 200 and body == expected:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"still {status} {body[:80]!r}"
        time.sleep(0.05)


def start_connector(ctx: dict[str, Any], name: str, *args: str) -> RampartsProcess:
    created = run_cli(["tunnel", "create", name, "--json"], ctx["env"])
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)["token"]
    routed = run_cli(["tunnel", "route", "dns", name, HOST], ctx["env"])
    assert routed.returncode == 0, routed.stderr
    proc = RampartsProcess(
        ["connector", "run", "--json", "--token", token, "--ha-connections", "2", *args],
        ctx["env"],
        ctx["tmp"] / f"{name}.log",
    )
    proc.read_summary()
    deadline = time.monotonic() + 20
    while httpx.get(f"http://{proc.summary['metrics']}/ready").status_code != 200:
        assert time.monotonic() < deadline, proc.logs()
        time.sleep(0.1)
    return proc


def test_remote_configuration_is_pushed_to_running_connectors(env: dict[str, Any]) -> None:
    connector = start_connector(env, "remote")
    try:
        status, _ = fetch(env)
        assert status == 503, "no rules yet: the connector answers 503"
        rules = env["tmp"] / "rules.yml"
        rules.write_text(f"ingress:\n  - service: http://127.0.0.1:{env['blue']}\n")
        result = run_cli(["tunnel", "ingress", "set", "remote", "--file", str(rules)], env["env"])
        assert result.returncode == 0, result.stderr
        took = eventually(env, "blue")
        assert took < 2.0
        rules.write_text(f"ingress:\n  - service: http://127.0.0.1:{env['green']}\n")
        assert (
            run_cli(
                ["tunnel", "ingress", "set", "remote", "--file", str(rules)], env["env"]
            ).returncode
            == 0
        )
        eventually(env, "green")
        shown = run_cli(["tunnel", "ingress", "show", "remote"], env["env"])
        assert "# version 2" in shown.stdout and str(env["green"]) in shown.stdout
        metrics = httpx.get(f"http://{connector.summary['metrics']}/metrics").text
        assert "ramparts_connector_config_version 2.0" in metrics

        bad = env["tmp"] / "bad.yml"
        bad.write_text(
            "ingress:\n  - hostname: x.example\n    service: ftp://nope\n"
            "  - service: http_status:404\n"
        )
        refused = run_cli(["tunnel", "ingress", "set", "remote", "--file", str(bad)], env["env"])
        assert refused.returncode == 1
        assert "ingress rule 1" in refused.stderr and "service" in refused.stderr
        eventually(env, "green")  # the last good version stays in force
    finally:
        connector.terminate()
        run_cli(["tunnel", "delete", "remote", "-y"], env["env"])


def test_sighup_reloads_the_local_config(env: dict[str, Any]) -> None:
    config = env["tmp"] / "config.yml"
    config.write_text(f"ingress:\n  - service: http://127.0.0.1:{env['blue']}\n")
    connector = start_connector(env, "local", "--config", str(config))
    try:
        eventually(env, "blue")
        config.write_text(f"ingress:\n  - service: http://127.0.0.1:{env['green']}\n")
        connector.proc.send_signal(signal.SIGHUP)
        eventually(env, "green")
        config.write_text("ingress: [broken\n")
        connector.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        eventually(env, "green")  # a broken file keeps the previous rules
        assert "config reload failed" in connector.logs()
    finally:
        connector.terminate()
        run_cli(["tunnel", "delete", "local", "-y"], env["env"])
