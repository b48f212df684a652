"""`ramparts policy test` verdicts in every phase, through the installed CLI against
`ramparts up`: network and HTTP policies with identity, resolver and post-resolution
policies with IP and e-mail lists."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from harness.net import free_port
from harness.procs import RampartsProcess, run_cli

pytestmark = pytest.mark.slow


def _ok(args: list[str], env: dict[str, str]) -> str:
    result = run_cli(args, env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def _verdict(args: list[str], env: dict[str, str]) -> Any:
    return json.loads(_ok(["policy", "test", *args, "--json"], env))


def test_verdicts_in_every_phase(tmp_path: Path, user_env: dict[str, str]) -> None:
    args = [
        "up", "--json", "--team", "acme",
        "--data-dir", str(tmp_path / "data"),
        "--api-port", str(free_port()),
        "--https-port", str(free_port()),
        "--metrics-port", str(free_port()),
        "--tunnel-port", str(free_port()),
        "--dns-port", "0", "--dot-port", "0", "--doh-port", "0",
        "--proxy-port", "0", "--proxy-tls-port", "0",
    ]  # fmt: skip
    proc = RampartsProcess(args, user_env, tmp_path / f"up-{time.monotonic_ns()}.log")
    proc.read_summary()
    env = user_env
    try:
        _ok(["list", "create", "servers", "--kind", "ip", "--entry", "10.1.0.0/16",
             "--entry", "192.0.2.10"], env)  # fmt: skip
        _ok(["list", "create", "admins", "--kind", "email", "--entry", "Ann@Corp.test"], env)
        _ok(["list", "create", "sinkholes", "--kind", "ip", "--entry", "198.51.100.0/24"], env)
        _ok(["policy", "create", "ssh for eng", "--phase", "network", "--action", "allow",
             "--expr", "net.dst.ip in $servers and net.dst.port == 22",
             "--identity", 'any(identity.groups[*] == "eng")'], env)  # fmt: skip
        _ok(["policy", "create", "no ssh", "--phase", "network", "--action", "block",
             "--expr", "net.dst.port == 22"], env)  # fmt: skip
        _ok(["policy", "create", "admin pages", "--phase", "http", "--action", "block",
             "--expr", 'http.request.uri.path matches "^/admin" and '
                       'http.request.method in {"POST" "PUT"}',
             "--identity", "not identity.email in $admins"], env)  # fmt: skip
        _ok(["policy", "create", "corp resolver", "--phase", "dns_resolver",
             "--action", "resolve", "--expr", 'any(dns.domains[*] == "corp.test")',
             "--setting", "upstream=udp://10.0.0.53:53"], env)  # fmt: skip
        _ok(
            [
                "policy",
                "create",
                "sinkholed answers",
                "--phase",
                "dns_post",
                "--action",
                "block",
                "--expr",
                "any(dns.resolved_ips[*] in $sinkholes)",
            ],
            env,
        )

        # Network: the identity makes the difference; the second policy also matches.
        eng = _verdict(
            [
                "--phase",
                "network",
                "--dst-ip",
                "10.1.2.3",
                "--dst-port",
                "22",
                "--protocol",
                "tcp",
                "--email",
                "bob@corp.test",
                "--group",
                "eng",
            ],
            env,
        )
        assert (eng["action"], eng["policy"]["name"]) == ("allow", "ssh for eng")
        assert [m["name"] for m in eng["matching"]] == ["ssh for eng", "no ssh"]
        other = _verdict(["--phase", "network", "--dst-ip", "10.1.2.3", "--dst-port", "22",
                          "--group", "sales"], env)  # fmt: skip
        assert (other["action"], other["policy"]["name"]) == ("block", "no ssh")
        web = _verdict(["--phase", "network", "--dst-ip", "10.1.2.3", "--dst-port", "443"], env)
        assert (web["action"], web["policy"]) == ("allow", None)

        # HTTP: method and path, unless the user is on the admins list (case-insensitive).
        post = ["--phase", "http", "--uri", "https://intranet.corp.test/admin/users",
                "--method", "POST"]  # fmt: skip
        assert _verdict([*post, "--email", "joe@corp.test"], env)["action"] == "block"
        assert _verdict([*post, "--email", "ann@corp.test"], env)["action"] == "allow"
        get = _verdict(["--phase", "http", "--uri", "https://intranet.corp.test/admin"], env)
        assert get["action"] == "allow", "GET is not in the method set"

        # Resolver policy: the chosen upstream is in the settings.
        human = _ok(
            ["policy", "test", "--phase", "dns_resolver", "--dns-name", "git.corp.test"], env
        )
        assert human.splitlines() == [
            "resolve: policy 'corp resolver' (precedence 1000, resolve)",
            "settings: upstream=udp://10.0.0.53:53",
        ]
        # Post-resolution: the answer's addresses decide.
        sunk = _verdict(
            [
                "--phase",
                "dns_post",
                "--dns-name",
                "x.test",
                "--resolved-ip",
                "203.0.113.1",
                "--resolved-ip",
                "198.51.100.7",
            ],
            env,
        )
        assert (sunk["action"], sunk["policy"]["name"]) == ("block", "sinkholed answers")
        clean = _verdict(["--phase", "dns_post", "--dns-name", "x.test",
                          "--resolved-ip", "203.0.113.1"], env)  # fmt: skip
        assert clean["action"] == "allow"

        # A bad described request is a one-line error.
        bad = run_cli(["policy", "test", "--phase", "network", "--dst-ip", "not-an-ip"], env)
        assert bad.returncode == 1 and "not an IP address" in bad.stderr
        bad_field = run_cli(["policy", "test", "--field", "dns.nope=1"], env)
        assert bad_field.returncode == 1 and "unknown field 'dns.nope'" in bad_field.stderr
    finally:
        assert proc.terminate() == 0, proc.logs()
