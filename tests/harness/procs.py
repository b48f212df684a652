"""Running `ramparts` commands as real processes, the way users and scripts do."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RAMPARTS = str(Path(sys.executable).parent / "ramparts")
FIRST_LINE_TIMEOUT = 60.0


class RampartsProcess:
    """A long-running `ramparts …` whose first stdout line is its JSON summary."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.args = list(args)
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [RAMPARTS, *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
        )
        self.summary: dict[str, Any] = {}

    def read_summary(self, timeout: float = FIRST_LINE_TIMEOUT) -> dict[str, Any]:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sel.select(remaining):
                raise TimeoutError(f"no summary line from {self.args}; log:\n{self.logs()}")
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                raise RuntimeError(
                    f"{self.args} exited ({self.proc.wait()}) before its summary:\n{self.logs()}"
                )
            line += chunk
        self.summary = json.loads(line)
        return self.summary

    def logs(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def run_cli(
    args: Sequence[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAMPARTS, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def isolated_env(home: Path) -> dict[str, str]:
    """Environment for CLI processes with their own config and data homes under ``home``."""
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env["XDG_DATA_HOME"] = str(home / "data")
    env.pop("RAMPARTS_TOKEN", None)
    env.pop("RAMPARTS_API", None)
    return env
