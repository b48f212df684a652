"""Real OpenSSH through a tunnel: `ssh -o ProxyCommand='ramparts access ssh …'`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.net import free_port
from harness.procs import RAMPARTS, RampartsProcess, isolated_env, run_cli
from harness.sshd import SshServer

pytestmark = pytest.mark.slow

HOST = "ssh.acme.localhost"
FILE_SIZE = 50 * 1024 * 1024  # the Tunnel issue's bar


@pytest.fixture(scope="module")
def tunnel_ssh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("ssh")
    env = isolated_env(tmp)
    sshd = SshServer(tmp / "sshd").start()
    up = RampartsProcess(
        [
            "up", "--json", "--team", "acme", "--data-dir", str(tmp / "data"),
            "--api-port", str(free_port()), "--https-port", str(free_port()),
            "--tunnel-port", str(free_port()), "--metrics-port", str(free_port()),
            "--dns-port", str(free_port()), "--dot-port", str(free_port()),
            "--doh-port", str(free_port()),
            "--proxy-port", "0", "--proxy-tls-port", "0",
        ],
        env,
        tmp / "up.log",
    )  # fmt: skip
    procs = [up]
    try:
        up.read_summary()
        token = json.loads(run_cli(["tunnel", "create", "ssh", "--json"], env).stdout)["token"]
        assert run_cli(["tunnel", "route", "dns", "ssh", HOST], env).returncode == 0
        connector = RampartsProcess(
            [
                "connector",
                "run",
                "--json",
                "--token",
                token,
                "--url",
                f"ssh://127.0.0.1:{sshd.port}",
            ],
            env,
            tmp / "connector.log",
        )
        procs.append(connector)
        connector.read_summary()
        deadline = time.monotonic() + 20
        while httpx.get(f"http://{connector.summary['metrics']}/ready").status_code != 200:
            assert time.monotonic() < deadline, connector.logs()
            time.sleep(0.1)
        yield {"sshd": sshd, "up": up, "env": env, "tmp": tmp}
    finally:
        for proc in reversed(procs):
            proc.terminate()
        sshd.stop()


def _ssh(ctx: dict[str, Any], command: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    sshd: SshServer = ctx["sshd"]
    edge = ctx["up"].summary["edge"]["https"]
    ca = ctx["up"].summary["ca_cert"]
    proxy = f"{RAMPARTS} access ssh --hostname %h --edge {edge} --ca-cert {ca}"
    return subprocess.run(
        [
            "ssh", "-F", "/dev/null", "-i", str(sshd.client_key),
            "-o", f"ProxyCommand={proxy}",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
            f"{sshd.user}@{HOST}", command,
        ],
        env=ctx["env"],
        capture_output=True,
        timeout=120,
        check=False,
        **kwargs,
    )  # fmt: skip


def test_ssh_runs_a_command(tunnel_ssh: dict[str, Any]) -> None:
    result = _ssh(tunnel_ssh, "echo hello-from-$(whoami)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == f"hello-from-{tunnel_ssh['sshd'].user}"


def test_ssh_copies_50_mb_intact(tunnel_ssh: dict[str, Any]) -> None:
    data = os.urandom(FILE_SIZE)
    target = tunnel_ssh["tmp"] / "received.bin"
    started = time.monotonic()
    result = _ssh(tunnel_ssh, f"cat > {target} && sha256sum {target}", input=data)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split()[0] == hashlib.sha256(data).hexdigest()
    assert Path(target).stat().st_size == FILE_SIZE
    print(f"50 MB over ssh through the tunnel in {elapsed:.2f} s")


def test_access_tcp_local_listener(tunnel_ssh: dict[str, Any]) -> None:
    """`ramparts access tcp` gives a local port that speaks to the SSH server."""
    import socket

    port = free_port()
    edge = tunnel_ssh["up"].summary["edge"]["https"]
    proc = subprocess.Popen(
        [RAMPARTS, "access", "tcp", "--hostname", HOST, "--url", f"127.0.0.1:{port}",
         "--edge", edge, "--ca-cert", tunnel_ssh["up"].summary["ca_cert"]],
        env=tunnel_ssh["env"], stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with sock:
            banner = sock.recv(256)
        assert banner.startswith(b"SSH-2.0-OpenSSH"), banner
    finally:
        proc.terminate()
        proc.wait(5)
