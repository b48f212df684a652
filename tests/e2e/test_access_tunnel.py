"""Access in front of a tunnelled app, through the real edge listener and connector: no
request reaches the origin before identity and policy allow it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from harness.net import free_port
from harness.procs import RampartsProcess, isolated_env, run_cli

pytestmark = pytest.mark.slow

HOST = "secret.acme.localhost"
OPEN_HOST = "open.acme.localhost"


class Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        Origin.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = b"the secret"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("access")
    env = isolated_env(tmp)
    origin = ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    up = RampartsProcess(
        [
            "up", "--json", "--team", "acme", "--data-dir", str(tmp / "data"),
            "--api-port", str(free_port()), "--https-port", str(free_port()),
            "--tunnel-port", str(free_port()), "--metrics-port", str(free_port()),
            "--dns-port", "0", "--dot-port", "0", "--doh-port", "0",
            "--proxy-port", "0", "--proxy-tls-port", "0",
        ],
        env,
        tmp / "up.log",
    )  # fmt: skip
    procs = [up]
    try:
        up.read_summary()
        token = json.loads(run_cli(["tunnel", "create", "web", "--json"], env).stdout)["token"]
        for host in (HOST, OPEN_HOST):
            assert run_cli(["tunnel", "route", "dns", "web", host], env).returncode == 0
        connector = RampartsProcess(
            ["connector", "run", "--json", "--token", token,
             "--url", f"http://127.0.0.1:{origin.server_address[1]}"],
            env, tmp / "connector.log",
        )  # fmt: skip
        procs.append(connector)
        connector.read_summary()
        deadline = time.monotonic() + 20
        while httpx.get(f"http://{connector.summary['metrics']}/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        created = run_cli(["access", "app", "create", "secret", "--domain", HOST], env)
        assert created.returncode == 0, created.stderr
        result = {"up": up, "env": env, "tmp": tmp}
        # The edge applies the new snapshot asynchronously: wait until it enforces the app.
        deadline = time.monotonic() + 20
        with client(result) as c:
            while c.get("/", headers={"host": HOST}).status_code != 403:
                assert time.monotonic() < deadline, "the edge never applied the application"
                time.sleep(0.1)
        yield result
    finally:
        for proc in reversed(procs):
            proc.terminate()
        origin.shutdown()


def client(stack: dict[str, Any]) -> httpx.Client:
    import ssl

    edge = stack["up"].summary["edge"]["https"]
    context = ssl.create_default_context(cafile=stack["up"].summary["ca_cert"])
    return httpx.Client(base_url=f"https://{edge}", verify=context, timeout=10)


def test_nobody_gets_in_without_identity_and_the_origin_sees_nothing(
    stack: dict[str, Any],
) -> None:
    Origin.seen.clear()
    browser_headers = {"host": HOST, "accept": "text/html", "user-agent": "Mozilla/5.0"}
    with client(stack) as c:
        # An application with no policy lets nobody in.
        assert c.get("/", headers=browser_headers).status_code == 403
        allow = run_cli(
            ["access", "policy", "create", "secret", "people", "--action", "allow",
             "--include", "email=alice@example.com"],
            stack["env"],
        )  # fmt: skip
        assert allow.returncode == 0, allow.stderr
        deadline = time.monotonic() + 10
        while (browser := c.get("/", headers=browser_headers)).status_code != 302:
            assert time.monotonic() < deadline, browser.status_code
            time.sleep(0.2)
        location = browser.headers["location"]
        assert (
            location.startswith("https://acme.localhost:") and "/cdn-cgi/access/login/" in location
        )
        assert c.get("/", headers={"host": HOST}).status_code == 401
        xhr = c.get("/", headers={**browser_headers, "x-requested-with": "XMLHttpRequest"})
        assert xhr.status_code == 401
        forged = c.get(
            "/", headers={"host": HOST, "cf-access-jwt-assertion": "eyJhbGciOiJub25lIn0.e30."}
        )
        assert forged.status_code == 401
        cookie = c.get("/", headers={"host": HOST, "cookie": "CF_Authorization=forged.token.here"})
        assert cookie.status_code == 401
    assert Origin.seen == [], "no request may reach the origin before Access allows it"


def test_service_token_with_a_service_auth_policy(stack: dict[str, Any]) -> None:
    env = stack["env"]
    made = run_cli(["access", "service-token", "create", "ci", "--json"], env)
    assert made.returncode == 0, made.stderr
    secret = json.loads(made.stdout)
    policy = run_cli(
        ["access", "policy", "create", "secret", "machines", "--action", "service_auth",
         "--include", "service_token=ci"],
        env,
    )  # fmt: skip
    assert policy.returncode == 0, policy.stderr
    headers = {
        "host": HOST,
        "cf-access-client-id": secret["client_id"],
        "cf-access-client-secret": secret["client_secret"],
    }
    Origin.seen.clear()
    with client(stack) as c:
        deadline = time.monotonic() + 10
        while (response := c.get("/", headers=headers)).status_code != 200:
            assert time.monotonic() < deadline, response.text
            time.sleep(0.2)
        assert response.text == "the secret"
        wrong = c.get("/", headers={**headers, "cf-access-client-secret": "x" * 40})
        assert wrong.status_code in (401, 403)
    seen = Origin.seen[-1]
    assert seen["cf-access-jwt-assertion"].count(".") == 2, "the origin gets the Access JWT"
    assert "cf-access-client-secret" not in seen, "the service token secret stays at the edge"


def test_unprotected_hosts_pass_but_forged_identity_headers_are_dropped(
    stack: dict[str, Any],
) -> None:
    Origin.seen.clear()
    with client(stack) as c:
        response = c.get("/", headers={"host": OPEN_HOST, "cf-access-jwt-assertion": "forged"})
    assert response.status_code == 200
    assert "cf-access-jwt-assertion" not in Origin.seen[-1]


def test_team_domain_serves_login_and_certs(stack: dict[str, Any]) -> None:
    with client(stack) as c:
        certs = c.get("/cdn-cgi/access/certs", headers={"host": "acme.localhost"})
        assert certs.status_code == 200
        assert certs.json()["keys"][0]["kty"] == "RSA"
        root = c.get("/", headers={"host": "acme.localhost", "accept": "text/html"})
        assert root.status_code == 303  # the launcher needs a login first
        target = urlsplit(root.headers["location"])
        path = target.path + (f"?{target.query}" if target.query else "")
        login = c.get(path, headers={"host": "acme.localhost", "accept": "text/html"})
        assert login.status_code == 200 and "Sign in to acme" in login.text
