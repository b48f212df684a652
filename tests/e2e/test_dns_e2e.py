"""DNS locations end to end: `ramparts up` with its DNS listeners, unbound as the upstream,
real clients (dig over UDP/TCP with +dnssec, kdig over DoT with SNI and DoH), the CLI, the
query log, metrics, bad input on the wire, and worker processes sharing the port."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.net import free_port
from harness.procs import RampartsProcess, run_cli
from ramparts.store import Database
from ramparts.store.repositories import policies, versions

pytestmark = pytest.mark.slow


def _load_unbound() -> Any:
    path = Path(__file__).resolve().parent.parent / "dns" / "unbound_harness.py"
    spec = importlib.util.spec_from_file_location("unbound_harness", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("unbound_harness", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def unbound() -> Iterator[Any]:
    server = _load_unbound().Unbound().start()
    yield server
    server.destroy()


def _start(tmp_path: Path, env: dict[str, str], *extra: str) -> RampartsProcess:
    args = [
        "up", "--json", "--team", "acme",
        "--data-dir", str(tmp_path / "data"),
        "--api-port", str(free_port()),
        "--https-port", str(free_port()),
        "--metrics-port", str(free_port()),
        "--tunnel-port", str(free_port()),
        "--dns-port", "0", "--dot-port", "0", "--doh-port", "0",
        "--proxy-port", "0", "--proxy-tls-port", "0",
        *extra,
    ]  # fmt: skip
    proc = RampartsProcess(args, env, tmp_path / f"up-{time.monotonic_ns()}.log")
    proc.read_summary()
    return proc


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _dig(port: int, name: str, *opts: str, source: str = "127.0.0.2") -> str:
    out = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), "-b", source, name, "+tries=1", "+time=3", *opts],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    return out.stdout


def _short(port: int, name: str, *opts: str, source: str = "127.0.0.2") -> list[str]:
    return _dig(port, name, "+short", *opts, source=source).split()


def _wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def _add_policy(data_dir: Path, name: str, expression: str, action: str = "block",
                phase: str = "dns", **settings: str) -> None:  # fmt: skip
    """Policies go in through the store (the policy API/CLI is another part's work); the
    edge sees them on its next snapshot poll."""
    db = Database(f"sqlite:///{data_dir / 'ramparts.db'}")
    try:
        with db.transaction() as session:
            policies.create(session, name=name, phase=phase, action=action,
                            expression=expression, settings=dict(settings))  # fmt: skip
            versions.bump(session)
    finally:
        db.dispose()


def _cli_json(args: list[str], env: dict[str, str]) -> Any:
    result = run_cli([*args, "--json"], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_locations_policies_and_real_clients(
    tmp_path: Path, user_env: dict[str, str], unbound: Any
) -> None:
    proc = _start(tmp_path, user_env)
    try:
        edge = proc.summary["edge"]
        assert {"dns_udp", "dns_tcp", "dot", "doh"} <= set(edge)
        port, dot_port, doh_port = _port(edge["dns_udp"]), _port(edge["dot"]), _port(edge["doh"])
        assert _port(edge["dns_tcp"]) == port
        data_dir = Path(proc.summary["data_dir"])
        ca = proc.summary["ca_cert"]

        added = run_cli(
            ["dns", "upstream", "add", "local", "--address", f"127.0.0.1:{unbound.port}"], user_env
        )
        assert added.returncode == 0, added.stderr
        office = _cli_json(
            ["dns", "location", "create", "office", "--network", "127.0.0.2/32"], user_env
        )
        lab = _cli_json(["dns", "location", "create", "lab", "--network", "127.0.0.3"], user_env)
        assert office["client"]["dns"] == [edge["dns_udp"]]
        assert office["client"]["dot_hostname"] == f"{office['id']}.dns.acme.localhost"
        assert office["client"]["doh"] == [
            f"https://{office['id']}.dns.acme.localhost:{doh_port}/dns-query",
            f"https://dns.acme.localhost:{doh_port}/dns-query/{office['id']}",
        ]
        human = run_cli(["dns", "location", "info", "lab"], user_env)
        assert human.returncode == 0 and lab["client"]["dot_hostname"] in human.stdout
        office_ads = 'any(dns.domains[*] == "ads.example.test") and dns.location == "office"'
        _add_policy(data_dir, "office-ads", office_ads)

        # The location-specific block, proven from two locations over plain DNS.
        _wait_for(lambda: _short(port, "ads.example.test") == ["0.0.0.0"])
        assert _short(port, "tracker.ads.example.test", "AAAA") == ["::"]
        assert _short(port, "ads.example.test", source="127.0.0.3") == ["192.0.2.66"]
        assert _short(port, "www.example.test", "+tcp") == ["192.0.2.10"]
        blocked = _dig(port, "ads.example.test")
        assert "EDE: 15 (Blocked)" in blocked
        # Not in any location: refused (no open resolver).
        refused = _dig(port, "www.example.test", source="127.0.0.9")
        assert "status: REFUSED" in refused and "EDE: 18" in refused
        # DNSSEC OK is carried through; a big answer is truncated over UDP, dig retries in TCP.
        dnssec = _dig(port, "www.example.test", "+dnssec")
        assert "flags: do;" in dnssec and "192.0.2.10" in dnssec
        big = _dig(port, "big.example.test", "TXT")
        assert "Truncated, retrying in TCP mode" in big and "ANSWER: 12" in big
        # NXDOMAIN comes back from unbound's static root as it is.
        assert "status: NXDOMAIN" in _dig(port, "nothing.example.test")

        # DoT: the location comes from the TLS server name (SNI).
        def kdig_tls(server_name: str, name: str) -> list[str]:
            out = subprocess.run(
                ["kdig", "@127.0.0.1", "-p", str(dot_port), "+tls", f"+tls-ca={ca}",
                 f"+tls-hostname={server_name}", f"+tls-sni={server_name}", name, "+short"],
                capture_output=True, text=True, timeout=20, check=False,
            )  # fmt: skip
            return out.stdout.split()

        assert kdig_tls(office["client"]["dot_hostname"], "ads.example.test") == ["0.0.0.0"]
        assert kdig_tls(lab["client"]["dot_hostname"], "ads.example.test") == ["192.0.2.66"]

        # DoH over HTTP/2 (kdig) with the location in the host name, then in the path.
        def kdig_https(server_name: str, path: str, name: str) -> str:
            out = subprocess.run(
                ["kdig", "@127.0.0.1", "-p", str(doh_port), f"+https={path}", f"+tls-ca={ca}",
                 f"+tls-hostname={server_name}", f"+tls-sni={server_name}", name],
                capture_output=True, text=True, timeout=20, check=False,
            )  # fmt: skip
            return out.stdout

        via_host = kdig_https(office["client"]["dot_hostname"], "/dns-query", "ads.example.test")
        assert "HTTP/2-POST" in via_host and "0.0.0.0" in via_host
        via_path = kdig_https("dns.acme.localhost", f"/dns-query/{lab['id']}", "ads.example.test")
        assert "192.0.2.66" in via_path

        # Bad input on the wire: garbage datagrams, an impossible TCP length; still serving.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for junk in (b"", b"\x12", os.urandom(40), b"\xff" * 3000):
                sock.sendto(junk, ("127.0.0.1", port))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as tcp:
            tcp.sendall(b"\xff\xff" + b"\x00" * 100)
            assert tcp.recv(10) == b""
        assert _short(port, "www.example.test") == ["192.0.2.10"]

        # The query log (batched, a second or so behind) and the metrics.
        def logged() -> bool:  # every protocol's rows, not only the first batch
            rows = _cli_json(["dns", "log", "--location", "office", "--blocked"], user_env)
            names = any(r["name"] == "ads.example.test" for r in rows)
            return names and {r["protocol"] for r in rows} >= {"udp", "dot", "doh"}

        _wait_for(logged)
        rows = _cli_json(["dns", "log", "--location", "office", "--blocked"], user_env)
        row = next(r for r in rows if r["name"] == "ads.example.test" and r["protocol"] == "udp")
        assert row["decision"] == "block" and row["policy"] == "office-ads"
        assert row["src_ip"] == "127.0.0.2" and row["location"] == "office"
        assert {r["protocol"] for r in rows} >= {"udp", "dot", "doh"}
        table = run_cli(["dns", "log", "--blocked"], {**user_env, "COLUMNS": "200"})
        assert table.returncode == 0 and "ads.example.test" in table.stdout
        metrics = httpx.get(f"http://{edge['metrics']}/metrics", timeout=5).text
        assert (
            'ramparts_dns_queries_total{cached="false",decision="block",protocol="udp"}' in metrics
        )
        assert 'ramparts_dns_upstream_up{address="127.0.0.1",upstream="local"} 1.0' in metrics

        # Team settings: serve unmatched sources (no location, no location policy).
        assert (
            run_cli(["dns", "settings", "set", "--unmatched-plain", "serve"], user_env).returncode
            == 0
        )
        _wait_for(lambda: _short(port, "ads.example.test", source="127.0.0.9") == ["192.0.2.66"])
        # Deleting a location: its sources are now unmatched, served without its policy.
        assert run_cli(["dns", "location", "delete", "office", "--yes"], user_env).returncode == 0
        _wait_for(lambda: _short(port, "ads.example.test") == ["192.0.2.66"])
    finally:
        assert proc.terminate() == 0, proc.logs()


def test_workers_share_the_port_and_follow_snapshots(
    tmp_path: Path, user_env: dict[str, str], unbound: Any
) -> None:
    proc = _start(tmp_path, user_env, "--dns-workers", "2")
    try:
        edge = proc.summary["edge"]
        port = _port(edge["dns_udp"])
        data_dir = Path(proc.summary["data_dir"])
        upstream = ["dns", "upstream", "add", "local", "--address", f"127.0.0.1:{unbound.port}"]
        assert run_cli(upstream, user_env).returncode == 0
        assert run_cli(["dns", "location", "create", "office", "--network", "127.0.0.0/8"],
                       user_env).returncode == 0  # fmt: skip

        def all_answer(expected: list[str]) -> bool:
            # Many source ports: SO_REUSEPORT spreads them over both processes.
            return all(_short(port, "ads.example.test") == expected for _ in range(16))

        _wait_for(lambda: all_answer(["192.0.2.66"]))
        _add_policy(data_dir, "ads", 'dns.fqdn == "ads.example.test"')
        _wait_for(lambda: all_answer(["0.0.0.0"]))

        def both_counted() -> bool:
            text = httpx.get(f"http://{edge['metrics']}/metrics", timeout=5).text
            key = 'ramparts_dns_queries_total{cached="false",decision="block",protocol="udp"}'
            line = next((x for x in text.splitlines() if x.startswith(key)), "")
            return bool(line) and float(line.split()[-1]) >= 16

        _wait_for(both_counted)
        pgrep = ["pgrep", "-f", "ramparts.dns.worker", "-P", str(proc.proc.pid)]
        pids = subprocess.run(pgrep, capture_output=True, text=True, check=False).stdout.split()
        assert len(pids) == 1
    finally:
        assert proc.terminate() == 0, proc.logs()
    assert subprocess.run(["pgrep", "-P", str(proc.proc.pid)], capture_output=True,
                          check=False).returncode == 1  # no worker left behind  # fmt: skip
