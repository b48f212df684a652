"""Proxy endpoints end to end: `ramparts up`, the CLI, an HTTP policy, real curl through the
proxy (plain and HTTPS proxy, token on an authorization endpoint), the request log, and
headless Chromium configured only with the endpoint's PAC URL loading an allowed and a blocked
site. Test names (allowed.test, blocked.test) are resolved by the proxy through a local
unbound; the origin is a loopback HTTP server that counts what reaches it."""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import shutil
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

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Site:
    """An HTML origin on loopback that records the Host of every request it serves."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0]
                site.hosts.append(host)
                body = f"<html><body><h1>Welcome to {host}</h1></body></html>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
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
    records = ("allowed.test. 300 IN A 127.0.0.1", "blocked.test. 300 IN A 127.0.0.1")
    server = module.Unbound(records=records).start()
    yield server
    server.destroy()


def _ok(args: list[str], env: dict[str, str]) -> str:
    result = run_cli(args, env, timeout=120)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "20", *args],
        capture_output=True, text=True, timeout=40, check=False,
    )  # fmt: skip


def _wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def test_proxy_endpoints_with_curl_chromium_and_the_log(
    tmp_path: Path, user_env: dict[str, str], unbound: Any, site: Site
) -> None:
    args = [
        "up", "--json", "--team", "acme", "--data-dir", str(tmp_path / "data"),
        "--api-port", str(free_port()), "--https-port", str(free_port()),
        "--metrics-port", str(free_port()), "--tunnel-port", str(free_port()),
        "--dns-port", "0", "--dot-port", "0", "--doh-port", "0",
        "--proxy-port", "0", "--proxy-tls-port", "0",
        "--proxy-resolver", f"127.0.0.1:{unbound.port}",
    ]  # fmt: skip
    proc = RampartsProcess(args, user_env, tmp_path / "up.log")
    summary = proc.read_summary()
    try:
        proxy = summary["edge"]["proxy"]
        proxy_tls = summary["edge"]["proxy_tls"]
        ca = summary["ca_cert"]
        created = json.loads(
            _ok(
                ["proxy", "endpoint", "create", "office", "--source-network", "127.0.0.1/32",
                 "--allow-private-destinations", "--connect-port", str(site.port), "--json"],
                user_env,
            )
        )  # fmt: skip
        endpoint_id = created["id"]
        pac_url = f"http://{proxy}/pac/{endpoint_id}.pac"
        _ok(
            ["policy", "create", "no blocked", "--phase", "http",
             "--expr", 'http.request.host == "blocked.test"', "--action", "block"],
            user_env,
        )  # fmt: skip
        allowed = f"http://allowed.test:{site.port}/"
        blocked = f"http://blocked.test:{site.port}/"

        def blocks() -> bool:
            return "403" in _curl("-o", "/dev/null", "-w", "%{http_code}", "--proxy",
                                  f"http://{proxy}", blocked).stdout  # fmt: skip

        _wait_for(blocks)
        out = _curl("--proxy", f"http://{proxy}", allowed)
        assert out.stdout.endswith("<h1>Welcome to allowed.test</h1></body></html>")
        out = _curl("--proxy", f"https://{proxy_tls}", "--proxy-cacert", ca, allowed)
        assert "Welcome to allowed.test" in out.stdout, out.stderr
        assert "blocked.test" not in site.hosts  # asserted at the origin

        # The PAC file at its stable URL, and what `pac show` prints.
        pac = _curl("-i", pac_url).stdout
        assert "application/x-ns-proxy-autoconfig" in pac and "FindProxyForURL" in pac
        assert "FindProxyForURL" in _ok(["proxy", "pac", "show", "office"], user_env)

        # Chromium with nothing but the PAC URL.
        if CHROMIUM is not None:
            _browse(pac_url, allowed, blocked, tmp_path)
        assert "blocked.test" not in site.hosts

        # An authorization endpoint: 407 without a token, in with one.
        _ok(["proxy", "endpoint", "update", "office", "--source-network", "10.9.0.0/16"],
            user_env)  # fmt: skip
        _ok(["proxy", "endpoint", "create", "people", "--authorization",
             "--allow-private-destinations"], user_env)  # fmt: skip
        token = json.loads(
            _ok(
                ["proxy", "token", "create", "people", "--email", "ann@example.com", "--json"],
                user_env,
            )
        )
        secret = token.get("secret") or token.get("token")
        assert isinstance(secret, str) and secret

        def asks_for_credentials() -> bool:
            out = _curl("-o", "/dev/null", "-w", "%{http_code}", "--proxy", f"http://{proxy}",
                        allowed).stdout  # fmt: skip
            return out == "407"

        _wait_for(asks_for_credentials)
        out = _curl("--proxy", f"http://{proxy}", "--proxy-user", f"ann@example.com:{secret}",
                    allowed)  # fmt: skip
        assert "Welcome to allowed.test" in out.stdout, out.stderr

        # The request log: every decision, with user and endpoint.
        def logged() -> bool:
            rows = json.loads(_ok(["proxy", "log", "--json", "--limit", "200"], user_env))
            decisions = {(r["decision"], r["host"]) for r in rows}
            return ("block", "blocked.test") in decisions and any(
                r.get("user") == "ann@example.com" for r in rows
            )

        _wait_for(logged)
        blocked_rows = json.loads(_ok(["proxy", "log", "--blocked", "--json"], user_env))
        assert blocked_rows and all(r["decision"] != "allow" for r in blocked_rows)
        assert secret not in proc.logs()
    finally:
        proc.terminate()


def _browse(pac_url: str, allowed: str, blocked: str, tmp_path: Path) -> None:
    import asyncio

    from playwright.async_api import async_playwright

    artifacts = Path(os.environ.get("RAMPARTS_TEST_ARTIFACTS", tmp_path)) / "proxy-browser"
    artifacts.mkdir(parents=True, exist_ok=True)

    async def run() -> None:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM,
                args=[f"--proxy-pac-url={pac_url}", "--no-sandbox"],
            )
            try:
                page = await browser.new_page()
                await page.goto(allowed)
                assert "Welcome to allowed.test" in await page.content()
                await page.screenshot(path=str(artifacts / "1-allowed.png"))
                response = await page.goto(blocked)
                assert response is not None and response.status == 403
                assert "This site is blocked" in await page.content()
                await page.screenshot(path=str(artifacts / "2-blocked.png"))
            finally:
                await browser.close()

    asyncio.run(run())
    assert (artifacts / "2-blocked.png").stat().st_size > 0
