"""Gateway policies end to end: the installed `ramparts` CLI against `ramparts up`, lists from
entries, files and a URL served on loopback, `ramparts policy test` verdicts, and real DNS
queries (dig) answered by the edge under those policies; a restart keeps URL lists without
downloading them again."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.net import free_port
from harness.procs import RampartsProcess, run_cli

pytestmark = pytest.mark.slow


class ListServer:
    """Serves list files on loopback with ETags; counts the GETs of each path."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, bytes]] = {}
        self.gets: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.gets[self.path] = server.gets.get(self.path, 0) + 1
                status, body = server.files.get(self.path, (404, b"not found"))
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def list_server() -> Iterator[ListServer]:
    server = ListServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def unbound() -> Iterator[Any]:
    path = Path(__file__).resolve().parent.parent / "dns" / "unbound_harness.py"
    spec = importlib.util.spec_from_file_location("unbound_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("unbound_harness", module)
    spec.loader.exec_module(module)
    server = module.Unbound().start()
    yield server
    server.destroy()


def _start(tmp_path: Path, env: dict[str, str], api_port: int) -> RampartsProcess:
    args = [
        "up", "--json", "--team", "acme",
        "--data-dir", str(tmp_path / "data"),
        "--api-port", str(api_port),
        "--https-port", str(free_port()),
        "--metrics-port", str(free_port()),
        "--tunnel-port", str(free_port()),
        "--dns-port", "0", "--dot-port", "0", "--doh-port", "0",
        "--proxy-port", "0", "--proxy-tls-port", "0",
    ]  # fmt: skip
    proc = RampartsProcess(args, env, tmp_path / f"up-{time.monotonic_ns()}.log")
    proc.read_summary()
    return proc


def _ok(args: list[str], env: dict[str, str]) -> str:
    result = run_cli(args, env, timeout=300)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def _json(args: list[str], env: dict[str, str]) -> Any:
    return json.loads(_ok([*args, "--json"], env))


def _dig(port: int, name: str, qtype: str = "A") -> list[str]:
    out = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), "-b", "127.0.0.2", name, qtype,
         "+short", "+tries=1", "+time=3"],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    return out.stdout.split()


def _wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def test_policies_and_lists_through_the_cli(
    tmp_path: Path, user_env: dict[str, str], unbound: Any, list_server: ListServer
) -> None:
    list_server.files["/hosts.txt"] = (200, b"# ads\n0.0.0.0 ads.example.test\n")
    api_port = free_port()
    proc = _start(tmp_path, user_env, api_port)
    try:
        port = int(proc.summary["edge"]["dns_udp"].rsplit(":", 1)[1])
        _ok(["dns", "upstream", "add", "local", "--address", f"127.0.0.1:{unbound.port}"], user_env)
        _ok(["dns", "location", "create", "office", "--network", "127.0.0.2/32"], user_env)
        assert _dig(port, "ads.example.test") == ["192.0.2.66"]

        # A URL list, downloaded at creation, and a policy that uses it.
        created = _ok(
            ["list", "create", "remote", "--kind", "domain",
             "--url", list_server.url("/hosts.txt"), "--refresh", "1h"],
            user_env,
        )  # fmt: skip
        assert "Created list 'remote' (domain, url): 1 entries." in created
        out = _ok(
            ["policy", "create", "Block remote", "--phase", "dns",
             "--expr", "any(dns.domains[*] in $remote)", "--action", "block"],
            user_env,
        )  # fmt: skip
        assert out.strip() == "Created dns policy 'Block remote' (precedence 1000, block)."
        _wait_for(lambda: _dig(port, "ads.example.test") == ["0.0.0.0"])
        assert _dig(port, "sub.ads.example.test", "AAAA") == ["::"]

        # The verdict without sending traffic.
        verdict = _ok(
            ["policy", "test", "--phase", "dns", "--dns-name", "x.ads.example.test",
             "--qtype", "A", "--src-ip", "127.0.0.2"],
            user_env,
        )  # fmt: skip
        assert verdict.splitlines()[0] == "block: policy 'Block remote' (precedence 1000, block)"
        verdict = _ok(["policy", "test", "--dns-name", "www.example.test"], user_env)
        assert verdict.strip() == "allow: no policy matched (the dns default)"

        # Errors: the field, the line and column, and a caret; one exit code.
        bad = run_cli(
            ["policy", "create", "bad", "--phase", "dns", "--expr", 'dns.fqdn == "a" and',
             "--action", "block"],
            user_env,
        )  # fmt: skip
        assert bad.returncode == 1
        assert bad.stderr.startswith("error: 422: invalid request: expression: line 1, column 20")
        assert bad.stderr.rstrip().endswith("^")
        unknown = run_cli(
            ["policy", "create", "bad", "--phase", "dns", "--expr", "dns.fqdn in $nope",
             "--action", "block"],
            user_env,
        )  # fmt: skip
        assert unknown.returncode == 1 and "unknown list $nope" in unknown.stderr

        # An override before it, with its setting; then switched off again.
        _ok(
            ["policy", "create", "ovr", "--phase", "dns",
             "--expr", 'dns.fqdn == "www.example.test"', "--action", "override",
             "--setting", "override_ips=192.0.2.99", "--precedence", "10"],
            user_env,
        )  # fmt: skip
        _wait_for(lambda: _dig(port, "www.example.test") == ["192.0.2.99"])
        verdict = _ok(["policy", "test", "--dns-name", "www.example.test"], user_env)
        assert "override: policy 'ovr' (precedence 10, override)" in verdict
        assert "settings: override_ips=192.0.2.99" in verdict
        listed = _json(["policy", "list"], user_env)
        assert [(p["name"], p["precedence"]) for p in listed] == [
            ("ovr", 10),
            ("Block remote", 1000),
        ]
        _ok(["policy", "update", "ovr", "--disable"], user_env)
        _wait_for(lambda: _dig(port, "www.example.test") == ["192.0.2.10"])
        shown = _json(["policy", "show", "ovr"], user_env)
        assert shown["enabled"] is False and shown["settings"] == {"override_ips": "192.0.2.99"}

        # A list in use cannot be deleted; the message names the policy.
        refused = run_cli(["list", "delete", "remote", "--yes"], user_env)
        assert refused.returncode == 1 and "409" in refused.stderr
        assert "Block remote" in refused.stderr

        # A big hosts file, uploaded in parts.
        hosts = tmp_path / "hosts"
        lines = [f"0.0.0.0 n{i}.blocked.test" for i in range(60_000)]
        hosts.write_text("\n".join(["# big", *lines, "127.0.0.1 localhost", "junk"]) + "\n")
        out = _ok(["list", "create", "big", "--kind", "domain", "--file", str(hosts),
                   "--format", "hosts"], user_env)  # fmt: skip
        assert "Created list 'big' (domain, file): 60000 entries, 1 lines skipped." in out
        shown_list = _json(["list", "show", "big", "--entries", "3"], user_env)
        assert shown_list["entries"] == 60_000 and len(shown_list["first_entries"]) == 3
        both = "any(dns.domains[*] in $remote) or any(dns.domains[*] in $big)"
        _ok(["policy", "update", "Block remote", "--expr", both], user_env)
        _wait_for(lambda: _dig(port, "n59999.blocked.test") == ["0.0.0.0"])
        table = _ok(["list", "list"], {**user_env, "COLUMNS": "200"})
        assert "remote" in table and "big" in table and "Block remote" in table

        # The URL list changes upstream: a refresh brings it in.
        list_server.files["/hosts.txt"] = (
            200,
            b"0.0.0.0 ads.example.test\n0.0.0.0 www.example.test\n",
        )
        out = _ok(["list", "refresh", "remote"], user_env)
        assert "2 entries (ok)" in out
        _wait_for(lambda: _dig(port, "www.example.test") == ["0.0.0.0"])
        downloads = list_server.gets["/hosts.txt"]
    finally:
        assert proc.terminate() == 0, proc.logs()

    # Restart with the list host down: the list is in force at once, and not downloaded again.
    list_server.files["/hosts.txt"] = (503, b"down")
    proc = _start(tmp_path, user_env, api_port)  # the saved login names this API port
    try:
        port = int(proc.summary["edge"]["dns_udp"].rsplit(":", 1)[1])
        assert _dig(port, "www.example.test") == ["0.0.0.0"]
        shown_list = _json(["list", "show", "remote"], user_env)
        assert (shown_list["entries"], shown_list["last_refresh_status"]) == (2, "ok")
        time.sleep(1.0)
        assert list_server.gets["/hosts.txt"] == downloads, "the cached copy is fresh"
        failed = run_cli(["list", "refresh", "remote"], user_env)
        assert failed.returncode == 1 and "503" in failed.stderr
        assert _dig(port, "www.example.test") == ["0.0.0.0"], "the last good copy stays"
        _ok(["policy", "delete", "Block remote", "--yes"], user_env)
        _ok(["list", "delete", "remote", "--yes"], user_env)
        _wait_for(lambda: _dig(port, "ads.example.test") == ["192.0.2.66"])
    finally:
        assert proc.terminate() == 0, proc.logs()
