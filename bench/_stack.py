"""Shared helpers of the tunnel benches: a whole Ramparts stack and anchor servers on loopback.

``TunnelStack`` starts ``ramparts up`` (control plane + edge, one process), creates a tunnel,
routes hostnames to it and runs ``ramparts connector run --url ORIGIN``; ``nginx()`` runs an
nginx with a config of ours in a temp dir as a non-daemon child. Every process is a child of
the bench and is stopped by it; only 127.0.0.1 is ever addressed.
"""

from __future__ import annotations

import getpass
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RAMPARTS = str(Path(sys.executable).parent / "ramparts")
TEAM = "acme"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def ensure_debian(*commands: str, packages: Sequence[str]) -> None:
    """Install the Debian packages when one of ``commands`` is missing (benches need root)."""
    if all(shutil.which(c) for c in commands):
        return
    print(f"installing {' '.join(packages)} with apt-get ...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *packages],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def rss_mib(pid: int) -> float:
    """Resident set size of a process (VmRSS), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its children (nginx workers) have used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += cpu_seconds(int(child))
    return total


class Child:
    """A child process whose stderr goes to a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(
        self, args: Sequence[str], log: Path, env: dict[str, str] | None = None, **kw: Any
    ) -> None:
        self.args = list(args)
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            self.args, stderr=self._log, env=env, start_new_session=True, **kw
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class RampartsChild(Child):
    """``ramparts … --json``: the first stdout line is a JSON summary."""

    def __init__(self, args: Sequence[str], log: Path, env: dict[str, str]) -> None:
        super().__init__([RAMPARTS, *args], log, env, stdout=subprocess.PIPE)

    def summary(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise TimeoutError(f"no summary from {self.args}:\n{self.logs()}")
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                raise RuntimeError(f"{self.args} exited early:\n{self.logs()}")
            line += chunk
        result: dict[str, Any] = json.loads(line)
        return result


def nginx(directory: Path, name: str, server_block: str, *, workers: int = 1) -> Child:
    """Run nginx in the foreground with one ``server { … }`` block and our own paths."""
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / f"{name}.conf"
    conf.write_text(
        f"worker_processes {workers};\n"
        "daemon off;\n"
        "master_process on;\n"
        f"pid {directory / name}.pid;\n"
        f"error_log {directory / name}-error.log warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "  access_log off;\n"
        f"  client_body_temp_path {directory}/{name}-body;\n"
        f"  proxy_temp_path {directory}/{name}-proxy;\n"
        f"  fastcgi_temp_path {directory}/{name}-fastcgi;\n"
        f"  uwsgi_temp_path {directory}/{name}-uwsgi;\n"
        f"  scgi_temp_path {directory}/{name}-scgi;\n"
        "  keepalive_requests 1000000;\n"
        f"{server_block}\n"
        "}\n"
    )
    ensure_debian("nginx", packages=["nginx"])
    return Child(
        ["nginx", "-c", str(conf), "-p", str(directory), "-e", str(directory / f"{name}.err")],
        directory / f"{name}.log",
    )


class SshServer:
    """A real OpenSSH server on a loopback port with its own host key, user key and config."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.user = getpass.getuser()
        self.client_key = directory / "id_ed25519"
        self.child: Child | None = None

    def start(self) -> SshServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        host_key = self.dir / "host_ed25519"
        for key in (host_key, self.client_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
        authorized = self.dir / "authorized_keys"
        authorized.write_text(Path(f"{self.client_key}.pub").read_text())
        authorized.chmod(0o600)
        config = self.dir / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
            f"AuthorizedKeysFile {authorized}\nPidFile {self.dir / 'sshd.pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n"
            "AllowTcpForwarding yes\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege-separation directory
        self.child = Child(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], self.dir / "sshd.log")
        wait_for_port(self.port)
        return self

    def forward(self, local_port: int, target_port: int) -> Child:
        """``ssh -N -L local_port:127.0.0.1:target_port`` through this server."""
        child = Child(
            ["ssh", "-N", "-F", "/dev/null", "-i", str(self.client_key), "-p", str(self.port),
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ExitOnForwardFailure=yes",
             "-L", f"127.0.0.1:{local_port}:127.0.0.1:{target_port}",
             f"{self.user}@127.0.0.1"],
            self.dir / "ssh-client.log",
        )  # fmt: skip
        wait_for_port(local_port)
        return child

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()


class TunnelStack:
    """An edge (``ramparts edge``) + one tunnel + ``ramparts connector run --url ORIGIN``.

    The control plane (``ramparts api``, same SQLite data dir) runs only while the tunnel and
    its routes are created; once the edge serves that snapshot and the connector is
    registered, it is stopped, so the edge process and the CPU are the data path's alone.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.env = dict(os.environ)
        self.env["XDG_CONFIG_HOME"] = str(directory / "config")
        self.env["XDG_DATA_HOME"] = str(directory / "data")
        self.api: RampartsChild | None = None
        self.edge: RampartsChild | None = None
        self.connector: RampartsChild | None = None
        self.api_summary: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.token = ""

    @property
    def team_domain(self) -> str:
        return f"{TEAM}.localhost"

    @property
    def https_port(self) -> int:
        return int(self.summary["edge"]["https"].rsplit(":", 1)[1])

    @property
    def ca_cert(self) -> str:
        return str(self.api_summary["ca_cert"])

    def edge_cert(self) -> tuple[Path, Path]:
        """The edge's own certificate and key (an anchor can serve the very same cert)."""
        pem = sorted((self.dir / "d").glob("edge-*.pem"))[0]
        return pem, pem.with_suffix(".key")

    def start_edge(self) -> None:
        data = str(self.dir / "d")
        tunnel_port = free_port()
        self.api = RampartsChild(
            ["api", "--json", "--team", TEAM, "--data-dir", data, "--port", str(free_port()),
             "--tunnel-address", f"127.0.0.1:{tunnel_port}", "--log-level", "warning"],
            self.dir / "api.log",
            self.env,
        )  # fmt: skip
        self.api_summary = self.api.summary()
        self.env["RAMPARTS_API"] = self.api_summary["api_url"]
        self.env["RAMPARTS_TOKEN"] = self.api_summary["admin_token"]
        args = ["edge", "--json", "--data-dir", data, "--drain-timeout", "2"]
        args += ["--tunnel-port", str(tunnel_port), "--poll-interval", "2"]
        for flag in ("https", "metrics", "dns", "dot", "doh"):
            args += [f"--{flag}-port", str(free_port())]
        self.edge = RampartsChild(args, self.dir / "edge.log", self.env)
        self.summary = self.edge.summary()

    def _edge_version(self) -> int:
        url = f"http://{self.summary['edge']['metrics']}/ready"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return int(json.load(answer)["snapshot_version"])
        except urllib.error.HTTPError as exc:  # 503 while not ready: the body says the same
            return int(json.load(exc)["snapshot_version"])

    def _api_version(self) -> int:
        request = urllib.request.Request(  # noqa: S310 - the API's own http URL
            f"{self.api_summary['api_url']}/api/v1/status",
            headers={"Authorization": f"Bearer {self.api_summary['admin_token']}"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - http
            return int(json.load(answer)["config_version"])

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [RAMPARTS, *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        if done.returncode:
            raise RuntimeError(f"ramparts {' '.join(args)}: {done.stderr}")
        return done.stdout

    def create_tunnel(self, name: str, *hostnames: str) -> None:
        self.token = json.loads(self.cli("tunnel", "create", name, "--json"))["token"]
        for host in hostnames:
            self.cli("tunnel", "route", "dns", name, host)
        wanted = self._api_version()
        deadline = time.monotonic() + 30
        while self._edge_version() < wanted:
            if time.monotonic() > deadline:
                raise TimeoutError(f"edge never applied v{wanted}")
            time.sleep(0.1)

    def start_connector(self, url: str, *extra: str) -> None:
        args = ["connector", "run", "--json", "--token", self.token, "--url", url]
        args += ["--grace-period", "2", *extra]
        self.connector = RampartsChild(args, self.dir / "connector.log", self.env)
        metrics = self.connector.summary()["metrics"]
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{metrics}/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"connector never ready:\n{self.connector.logs()}")
            time.sleep(0.1)
        if self.api is not None:  # set up: the data path needs no control plane
            self.api.stop()
            self.api = None

    def stop(self) -> None:
        for child in (self.connector, self.edge, self.api):
            if child is not None:
                child.stop()
