"""unbound (Debian package) started by the tests as a local upstream: local zones only, on
loopback ports, never recursing anywhere (the root is a static local zone, so every name
without local data is NXDOMAIN). Optional DoT and DoH listeners with a test certificate.

Also loaded by path from tests/e2e and bench/ (it is not in a package).
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query

DEFAULT_RECORDS = (
    "www.example.test. 300 IN A 192.0.2.10",
    "www.example.test. 300 IN AAAA 2001:db8::10",
    "alias.example.test. 300 IN CNAME www.example.test.",
    "ads.example.test. 300 IN A 192.0.2.66",
    "tracker.ads.example.test. 300 IN A 192.0.2.67",
    "short.example.test. 1 IN A 192.0.2.11",
    "forcesafesearch.google.com. 300 IN A 216.239.38.120",
    "strict.bing.com. 300 IN A 204.79.197.220",
    "safe.duckduckgo.com. 300 IN A 52.142.124.215",
    "restrict.youtube.com. 300 IN A 216.239.38.120",
    *(f'big.example.test. 300 IN TXT "{"x" * 200} {i}"' for i in range(12)),
)


def _free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    # A port free for both UDP and TCP (unbound binds both).
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started us dies (Linux
    PR_SET_PDEATHSIG), so a killed test run leaves no unbound behind."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def unbound_binary() -> str:
    found = shutil.which("unbound") or (
        "/usr/sbin/unbound" if Path("/usr/sbin/unbound").exists() else None
    )
    if found is None:
        raise RuntimeError("unbound not found: run scripts/install-test-deps.sh")
    return found


@dataclass
class Unbound:
    records: Sequence[str] = DEFAULT_RECORDS
    threads: int = 1
    tls_cert: Path | None = None  # PEM chain and key for DoT/DoH listeners
    tls_key: Path | None = None
    verbosity: int = 0
    directory: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="ramparts-unbound-"))
    )
    port: int = 0
    dot_port: int = 0
    doh_port: int = 0
    _proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        lines = [
            "server:",
            f'  directory: "{self.directory}"',
            '  username: ""',
            '  chroot: ""',
            f'  pidfile: "{self.directory}/unbound.pid"',
            "  use-syslog: no",
            f'  logfile: "{self.directory}/unbound.log"',
            f"  verbosity: {self.verbosity}",
            f"  num-threads: {self.threads}",
            f"  interface: 127.0.0.1@{self.port}",
            "  access-control: 127.0.0.0/8 allow",
            "  do-ip6: no",
            '  module-config: "iterator"',
            "  so-reuseport: yes",
            "  msg-cache-size: 32m",
            "  rrset-cache-size: 64m",
            "  outgoing-range: 64",
            "  minimal-responses: yes",
            '  local-zone: "." static',
        ]
        if self.tls_cert and self.tls_key:
            lines += [
                f"  interface: 127.0.0.1@{self.dot_port}",
                f"  interface: 127.0.0.1@{self.doh_port}",
                f"  tls-port: {self.dot_port}",
                f"  https-port: {self.doh_port}",
                f'  tls-service-pem: "{self.tls_cert}"',
                f'  tls-service-key: "{self.tls_key}"',
                '  http-endpoint: "/dns-query"',
                "  http-notls-downstream: no",
            ]
        lines += [f"  local-data: '{r}'" for r in self.records]
        lines += ["remote-control:", "  control-enable: no"]
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 15.0) -> Unbound:
        if not self.port:
            self.port = _free_port()
        if self.tls_cert and not self.dot_port:
            self.dot_port, self.doh_port = _free_port(), _free_port()
        conf = self.directory / "unbound.conf"
        conf.write_text(self.config())
        self._proc = subprocess.Popen(
            [unbound_binary(), "-d", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "stderr.log").open("wb"),
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        query = dns.message.make_query("www.example.test", "A")
        while True:
            try:
                dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.3)
                return self
            except (OSError, dns.exception.Timeout):
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"unbound did not start:\n{self.logs()}") from None
                time.sleep(0.05)

    def logs(self) -> str:
        parts = []
        for name in ("stderr.log", "unbound.log"):
            path = self.directory / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
