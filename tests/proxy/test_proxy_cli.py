"""`ramparts proxy ...`: in-process against the API on SQLite and PostgreSQL, and once through
the installed command against a real API server."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from access.test_access_cli import cli_env  # noqa: F401  (a real API server for the CLI)
from api.conftest import Api, api  # noqa: F401  (the API fixture of tests/api)
from harness.procs import run_cli
from ramparts import secrets
from ramparts.cli import cli
from ramparts.cli import proxy as proxy_cli
from ramparts.cli.client import API_PREFIX, ApiClient
from ramparts.config.snapshot import build_snapshot
from ramparts.store import Database
from ramparts.store.repositories import edges, proxy_listeners, proxy_requests


@pytest.fixture
def run(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:  # noqa: F811
    """``run(*args) -> (exit code, stdout, stderr)`` with the CLI talking to ``api``."""
    client = ApiClient.__new__(ApiClient)
    http = TestClient(api.client.app, base_url=f"http://testserver{API_PREFIX}", headers=api.auth)
    client._http = http  # the same httpx client the CLI builds, wired to the test app
    client.api_url = "http://testserver"
    monkeypatch.setattr(proxy_cli.ApiClient, "from_saved", classmethod(lambda cls: client))

    def invoke(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["proxy", *args], input=stdin)
        return result.exit_code, result.stdout, result.stderr

    yield invoke
    http.close()


def ok(run: object, *args: str, stdin: bytes | None = None) -> str:
    code, out, err = run(*args, stdin=stdin)  # type: ignore[operator]
    assert code == 0, (args, out, err)
    return str(out)


def test_endpoint_commands(run: object, api: Api) -> None:  # noqa: F811
    out = ok(run, "endpoint", "create", "office", "--source-network", "10.0.0.0/8",
             "--source-network", "192.0.2.1", "--connect-port", "443",
             "--connect-port", "8443")  # fmt: skip
    assert "Proxy endpoint office" in out and "10.0.0.0/8, 192.0.2.1/32" in out
    assert "no edge has announced its proxy yet" in out
    with api.plane.db.transaction() as s:
        edges.heartbeat(s, edge_id="e1", name="edge", tunnel_address="", snapshot_version=1)
        proxy_listeners.record(s, "e1", {"proxy": "127.0.0.1:7846", "proxy_tls": "127.0.0.1:7847"})
    created = json.loads(ok(run, "endpoint", "create", "roaming", "--authorization", "--json"))
    pac_url = f"http://127.0.0.1:7846/pac/{created['id']}.pac"
    assert created["kind"] == "authorization" and created["pac_url"] == pac_url
    info = ok(run, "endpoint", "info", "roaming")
    assert pac_url in info and "127.0.0.1:7846" in info and "127.0.0.1:7847" in info
    table = ok(run, "endpoint", "list")
    assert "office" in table and "roaming" in table and "443,8443" in table and pac_url in table
    listed = json.loads(ok(run, "endpoint", "list", "--json"))
    assert [e["name"] for e in listed] == ["office", "roaming"]
    updated = json.loads(
        ok(run, "endpoint", "update", "office", "--rename", "hq", "--allow-private-destinations",
           "--tls-inspection", "--json")
    )  # fmt: skip
    assert updated["name"] == "hq" and updated["allow_private_destinations"]
    assert updated["networks"] == ["10.0.0.0/8", "192.0.2.1/32"]  # unchanged
    # Usage errors and API errors are one line on stderr with a non-zero exit code.
    for args in (
        ("endpoint", "create", "x"),
        ("endpoint", "create", "x", "--authorization", "--source-network", "10.0.0.0/8"),
        ("endpoint", "update", "hq"),
    ):
        code, _, err = run(*args)  # type: ignore[operator]
        assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, (args, err)
    code, _, err = run("endpoint", "create", "bad", "--source-network", "10.0.0.0/33")  # type: ignore[operator]
    assert code == 1 and "422" in err and "networks" in err
    code, _, err = run("endpoint", "info", "nope")  # type: ignore[operator]
    assert code == 1 and "404" in err
    ok(run, "endpoint", "delete", "hq", "--yes")
    assert [e["name"] for e in json.loads(ok(run, "endpoint", "list", "--json"))] == ["roaming"]


def test_pac_commands(run: object, api: Api, tmp_path: Path) -> None:  # noqa: F811
    ok(run, "endpoint", "create", "office", "--source-network", "10.0.0.0/8")
    code, _, err = run("pac", "show", "office")  # type: ignore[operator]
    assert code == 1 and "no edge has announced" in err
    with api.plane.db.transaction() as s:
        proxy_listeners.record(s, "e1", {"proxy": "127.0.0.1:7846"})
    generated = ok(run, "pac", "show", "office")
    assert generated.startswith("// Ramparts proxy auto-config")
    assert '"PROXY 127.0.0.1:7846"' in generated
    custom = 'function FindProxyForURL(url, host) { return "PROXY 192.0.2.1:3128"; }\n'
    path = tmp_path / "custom.pac"
    path.write_text(custom)
    assert "serves your PAC file" in ok(run, "pac", "set", "office", str(path))
    assert ok(run, "pac", "show", "office") == custom
    ok(run, "pac", "set", "office", "-", stdin=(custom + "// stdin\n").encode())
    assert ok(run, "pac", "show", "office").endswith("// stdin\n")
    (tmp_path / "bad.pac").write_text("alert(1)")
    code, _, err = run("pac", "set", "office", str(tmp_path / "bad.pac"))  # type: ignore[operator]
    assert code == 1 and "FindProxyForURL" in err
    ok(run, "pac", "reset", "office")
    assert ok(run, "pac", "show", "office") == generated


def test_token_and_log_commands(run: object, api: Api) -> None:  # noqa: F811
    ok(run, "endpoint", "create", "roaming", "--authorization")
    with api.plane.db.transaction() as s:
        proxy_listeners.record(s, "e1", {"proxy": "127.0.0.1:7846", "proxy_tls": "127.0.0.1:7847"})
    out = ok(run, "token", "create", "roaming", "--email", "alice@example.com", "--name", "cli")
    secret = next(line for line in out.splitlines() if line.startswith("rpx_"))
    assert "curl --proxy https://127.0.0.1:7847 --proxy-user 'alice@example.com:<secret>'" in out
    assert secrets.digest(secret) in build_snapshot(api.plane.db).proxy.tokens
    created = json.loads(
        ok(run, "token", "create", "roaming", "--email", "bob@example.com",
           "--expires-in-days", "7", "--json")
    )  # fmt: skip
    table = ok(run, "token", "list", "roaming")
    assert "alice@example.com" in table and "bob@example.com" in table and secret not in table
    listed = json.loads(ok(run, "token", "list", "roaming", "--json"))
    assert {t["email"] for t in listed} == {"alice@example.com", "bob@example.com"}
    ok(run, "token", "revoke", created["id"])
    assert [t["email"] for t in json.loads(ok(run, "token", "list", "roaming", "--json"))] == [
        "alice@example.com"
    ]
    t0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
    with api.plane.db.transaction() as s:
        proxy_requests.insert_batch(
            s,
            [
                {"at": t0, "endpoint_name": "roaming", "src_ip": "127.0.0.1", "kind": "http",
                 "method": "GET", "host": "ok.test", "decision": "allow", "status": 200,
                 "user_email": "alice@example.com"},
                {"at": t0, "endpoint_name": "roaming", "src_ip": "127.0.0.1", "kind": "connect",
                 "method": "CONNECT", "host": "bad.test", "decision": "block", "status": 403},
            ],
        )  # fmt: skip
    table = ok(run, "log")
    assert "ok.test" in table and "bad.test" in table and "alice@example.com" in table
    blocked = json.loads(ok(run, "log", "--blocked", "--json"))
    assert [r["host"] for r in blocked] == ["bad.test"]
    mine = json.loads(ok(run, "log", "--user", "alice@example.com", "--endpoint", "roaming",
                         "--json"))  # fmt: skip
    assert [r["host"] for r in mine] == ["ok.test"]


def test_installed_command(cli_env: tuple[dict[str, str], Database]) -> None:  # noqa: F811
    env, _db = cli_env
    result = run_cli(
        ["proxy", "endpoint", "create", "office", "--source-network", "127.0.0.0/8",
         "--allow-private-destinations"], env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Proxy endpoint office" in result.stdout
    listed = run_cli(["proxy", "endpoint", "list", "--json"], env)
    assert [e["name"] for e in json.loads(listed.stdout)] == ["office"]
    missing = run_cli(["proxy", "pac", "show", "nope"], env)
    assert missing.returncode == 1 and missing.stderr.startswith("error: 404")
