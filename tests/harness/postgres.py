"""A real PostgreSQL server in a temporary directory, on a loopback port, for the tests.

initdb refuses to run as root, so as root the cluster belongs to the ``postgres`` system user
that Debian's postgresql package creates (scripts/install-test-deps.sh installs it if missing).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from harness.net import free_port

SERVER_START_TIMEOUT = 30.0


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL's {name} not found: run scripts/install-test-deps.sh (make test does)"
        )
    return candidates[-1]


class PostgresServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.user = "ramparts"
        self._tmp = Path(tempfile.mkdtemp(prefix="ramparts-pg-"))
        self.data = self._tmp / "data"
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_as: str | None = None
        if os.geteuid() == 0:
            self._run_as = "postgres"
            entry = pwd.getpwnam("postgres")
            os.chown(self._tmp, entry.pw_uid, entry.pw_gid)

    def _cmd(self, *argv: str) -> list[str]:
        if self._run_as:
            return ["runuser", "-u", self._run_as, "--", *argv]
        return list(argv)

    def start(self) -> PostgresServer:
        if not self.data.exists():
            subprocess.run(
                self._cmd(
                    _pg_bin("initdb"),
                    "-D", str(self.data),
                    "-U", self.user,
                    "-A", "trust",
                    "--no-sync",
                    "-E", "UTF8",
                ),
                check=True,
                capture_output=True,
            )  # fmt: skip
        self._proc = subprocess.Popen(
            self._cmd(
                _pg_bin("postgres"),
                "-D", str(self.data),
                "-h", self.host,
                "-p", str(self.port),
                "-k", str(self._tmp),
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
                "-c", "max_connections=200",
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()  # smart shutdown would wait for clients; use fast
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.dsn("postgres"), autocommit=True) as conn,
        ):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
