"""A real OpenSSH server on a loopback port, for the tests (its own host key and config)."""

from __future__ import annotations

import getpass
import os
import subprocess
from pathlib import Path

from harness.net import free_port, wait_for_port

SSHD = "/usr/sbin/sshd"


class SshServer:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.user = getpass.getuser()
        self.client_key = directory / "id_ed25519"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SshServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        host_key = self.dir / "host_ed25519"
        for key in (host_key, self.client_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
        authorized = self.dir / "authorized_keys"
        authorized.write_text(Path(f"{self.client_key}.pub").read_text())
        os.chmod(authorized, 0o600)
        config = self.dir / "sshd_config"
        config.write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {host_key}\n"
            f"AuthorizedKeysFile {authorized}\n"
            f"PidFile {self.dir / 'sshd.pid'}\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "Subsystem sftp internal-sftp\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege-separation directory
        self._proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "sshd.log").open("wb"),
        )
        wait_for_port("127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
