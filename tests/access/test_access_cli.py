"""The installed `ramparts access ...` commands against a real API server on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.net import free_port
from harness.procs import isolated_env, run_cli
from ramparts.api.app import create_app
from ramparts.api.bootstrap import bootstrap
from ramparts.api.context import ControlPlane
from ramparts.config.snapshot import build_snapshot
from ramparts.serving import AsgiServer
from ramparts.store import Database


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], Database]]:
    db = Database(f"sqlite:///{tmp_path / 'store.db'}")
    boot = bootstrap(db, tmp_path, "acme", "acme.localhost")
    assert boot.admin_token is not None
    port = free_port()
    loop = asyncio.new_event_loop()
    server = AsgiServer("api", create_app(ControlPlane(db, boot.team, [])), "127.0.0.1", port)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(20)
    env = isolated_env(tmp_path)
    env["RAMPARTS_API"] = f"http://127.0.0.1:{port}"
    env["RAMPARTS_TOKEN"] = boot.admin_token
    yield env, db
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(20)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    db.dispose()


def ok(args: list[str], env: dict[str, str]) -> str:
    result = run_cli(args, env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_access_cli(cli_env: tuple[dict[str, str], Database]) -> None:
    env, db = cli_env
    app = json.loads(
        ok(["access", "app", "create", "wiki", "--domain", "wiki.acme.localhost",
            "--path", "/docs", "--session", "8h", "--json"], env)
    )  # fmt: skip
    assert app["session_seconds"] == 8 * 3600 and app["path"] == "/docs"
    env["PIN_PASSWORD"] = "smtp-pass"
    ok(["access", "idp", "create", "pin", "--type", "otp", "--smtp-host", "127.0.0.1",
        "--smtp-security", "none", "--from", "access@acme.localhost",
        "--smtp-password-env", "PIN_PASSWORD"], env)  # fmt: skip
    ok(["access", "policy", "create", "wiki", "eng", "--action", "allow",
        "--include", "email=a@example.com", "--include", "group=eng",
        "--require", "ip=10.0.0.0/8"], env)  # fmt: skip
    token = json.loads(ok(["access", "service-token", "create", "ci", "--json"], env))
    ok(["access", "policy", "create", "wiki", "ci", "--action", "service_auth",
        "--include", "service_token=ci"], env)  # fmt: skip
    ok(["access", "group", "create", "eng", "--member", "b@example.com"], env)
    listed = json.loads(ok(["access", "policy", "list", "wiki", "--json"], env))
    assert [(p["name"], p["action"]) for p in listed] == [("eng", "allow"), ("ci", "service_auth")]
    assert listed[0]["require"] == ["ip=10.0.0.0/8"]
    table = ok(["access", "app", "list"], env)
    assert "wiki.acme.localhost" in table
    assert token["client_secret"] not in ok(["access", "service-token", "list"], env)
    assert "smtp-pass" not in ok(["access", "idp", "list", "--json"], env)
    snap = build_snapshot(db)
    wiki = snap.access.app_for("wiki.acme.localhost", "/docs/page")
    assert wiki is not None and [p.name for p in wiki.policies] == ["eng", "ci"]
    assert snap.access.idps[0].smtp is not None and snap.access.idps[0].smtp.password == "smtp-pass"
    # one-line errors with a non-zero exit code
    bad = run_cli(["access", "policy", "create", "wiki", "x", "--action", "allow",
                   "--include", "ip=nope"], env)  # fmt: skip
    assert bad.returncode != 0 and "include.0" in bad.stderr and len(bad.stderr.splitlines()) == 1
    bad = run_cli(["access", "app", "create", "wiki", "--domain", "x.example"], env)
    assert bad.returncode != 0 and "409" in bad.stderr
    ok(["access", "keys", "rotate"], env)
    keys = json.loads(ok(["access", "keys", "list", "--json"], env))
    assert [k["signing"] for k in keys] == [False, True]
    ok(["access", "policy", "delete", "wiki", "eng", "-y"], env)
    ok(["access", "service-token", "delete", "ci", "-y"], env)
    ok(["access", "app", "delete", "wiki", "-y"], env)
    assert json.loads(ok(["access", "app", "list", "--json"], env)) == []
