"""DNS resolver throughput: dnsperf against unbound and against Ramparts, same query file.

    .venv/bin/python bench/dns.py [--seconds 4] [--names 1000] [--workers N] [--no-log]

Anchor: unbound (Debian package), one thread, answering its own local data (the same names
Ramparts forwards to it), i.e. cached answers. Ours: the edge's resolver (the UDP listener,
``Resolver`` and its cache) with a realistic policy set (a 100,000-domain block list, 300
name rules, regex rules, safe search for one location, a resolver policy, a post-resolution
IP rule), every query location-checked and policy-checked, answers from the cache (one pass
of the query file warms it), the query log on (batched into SQLite). Measured with one worker
process, then with ``--workers`` processes sharing the port (SO_REUSEPORT, as
``ramparts up --dns-workers N``), then the p99 latency of one worker at half its peak load.

Loopback only; bounded in time (about 9 x --seconds plus start-up: under a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import ipaddress
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# This file is bench/dns.py: keep its folder off the import path, or ``import dns`` (dnspython)
# would find this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
DNSPERF_CLIENTS = 8  # UDP sockets dnsperf spreads queries over (SO_REUSEPORT hashes by them)
DNSPERF_OUTSTANDING = 200
BLOCKLIST_SIZE = 100_000
NAME_RULES = 300
ROUNDS = 2


def _load_unbound_harness() -> ModuleType:
    path = REPO / "tests" / "dns" / "unbound_harness.py"
    spec = importlib.util.spec_from_file_location("unbound_harness", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["unbound_harness"] = module
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the workload ----------------------------------------------------------------------------


def names(count: int) -> tuple[list[str], list[str]]:
    """(unbound local-data records, dnsperf query lines): 90% allowed, 10% block-listed."""
    records: list[str] = []
    queries: list[str] = []
    for i in range(count):
        host = f"h{i}.site{i % 50}.bench.test"
        records.append(f"{host}. 300 IN A 192.0.2.{i % 250 + 1}")
        records.append(f"{host}. 300 IN AAAA 2001:db8::{i % 65535 + 1:x}")
        queries.append(f"{host} {'AAAA' if i % 3 == 0 else 'A'}")
        if i % 9 == 0:
            queries.append(f"t{i}.ads{i % 1000}.blocked.test A")
    random.Random(6).shuffle(queries)
    return records, queries


def snapshot(upstream_port: int) -> object:
    """The policy set and locations every worker serves (built identically in each)."""
    from ramparts.config.dns import DnsConfig, DnsLocationEntry, parse_upstream
    from ramparts.config.gateway import GatewayConfig
    from ramparts.config.snapshot import Snapshot
    from ramparts.policy import Context, ListKind, PolicyRule, compile_policy_set, make_list

    blocked = make_list(
        "ads", ListKind.DOMAIN, [f"ads{i}.blocked.test" for i in range(BLOCKLIST_SIZE)]
    )
    rules = [
        PolicyRule("ads", "block ads", Context.DNS, "any(dns.domains[*] in $ads)", "block", 10),
        PolicyRule("ss", "safe search", Context.DNS, 'dns.location == "school"', "safesearch", 20),
        PolicyRule(
            "rx",
            "regex",
            Context.DNS,
            'dns.fqdn matches "^(xmr|coin)[0-9]+\\\\.pool\\\\."',
            "block",
            30,
        ),
        PolicyRule(
            "corp",
            "corp",
            Context.DNS_RESOLVER,
            'any(dns.domains[*] == "corp.test")',
            "resolve",
            settings={"upstream": "unbound"},
        ),
        PolicyRule(
            "post",
            "bad ips",
            Context.DNS_POST,
            "any(dns.resolved_ips[*] in {203.0.113.0/24})",
            "block",
        ),
    ]
    for i in range(NAME_RULES):
        rules.append(
            PolicyRule(
                f"n{i}",
                f"name rule {i}",
                Context.DNS,
                f'any(dns.domains[*] == "r{i}.rules.test") and dns.query_rtype == "A"',
                "block" if i % 2 else "override",
                100 + i,
                settings={"override_ips": "192.0.2.200"},
            )
        )
    config = DnsConfig(
        locations=(
            DnsLocationEntry("0ff1ce0001", "office", (ipaddress.ip_network("127.0.0.0/8"),), False),
            DnsLocationEntry("5c4001aaaa", "school", (ipaddress.ip_network("10.0.0.0/8"),), False),
        ),
        upstreams=(parse_upstream("unbound", "udp", f"127.0.0.1:{upstream_port}"),),
    )
    return Snapshot(
        1,
        "bench",
        "bench.localhost",
        "fp",
        gateway=GatewayConfig(compile_policy_set(rules, {"ads": blocked})),
        dns=config,
    )


# --- a worker process ------------------------------------------------------------------------


def serve(port: int, upstream_port: int, log_db: str | None) -> None:
    """One resolver process on the shared port until SIGTERM (what ``--dns-workers`` runs)."""
    from ramparts.dns.listeners.sockets import bind_socket
    from ramparts.dns.listeners.udp import serve_udp
    from ramparts.dns.querylog import QueryLog
    from ramparts.dns.resolver import Resolver
    from ramparts.lifecycle import run
    from ramparts.store import Database

    async def main(stop: asyncio.Event) -> int:
        db = Database(log_db) if log_db else None
        query_log = QueryLog(db, f"bench-{os.getpid()}", process=True)
        resolver = Resolver(query_log=query_log)
        resolver.apply(snapshot(upstream_port))  # type: ignore[arg-type]
        sock = bind_socket("127.0.0.1", port, socket.SOCK_DGRAM, reuse_port=True)
        udp = await serve_udp(sock, resolver)
        query_log.start()
        print("ready", flush=True)
        await stop.wait()
        udp.close()
        await query_log.stop()
        await resolver.close()
        return 0

    raise SystemExit(run(main))


class Workers:
    def __init__(self, count: int, port: int, upstream_port: int, log_db: str | None) -> None:
        args = [sys.executable, __file__, "--serve", str(port), str(upstream_port)]
        if log_db:
            args.append(log_db)
        self.procs = [
            subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(count)
        ]
        for proc in self.procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a worker did not start")

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- dnsperf -------------------------------------------------------------------------------


def dnsperf(
    port: int,
    queries: Path,
    seconds: float,
    *,
    max_qps: int = 0,
    verbose: bool = False,
    passes: int = 0,
) -> tuple[float, list[float], str]:
    """(queries per second, per-query latencies when verbose, raw output)."""
    args = [
        "dnsperf",
        "-s",
        "127.0.0.1",
        "-p",
        str(port),
        "-d",
        str(queries),
        "-c",
        str(DNSPERF_CLIENTS),
        "-q",
        str(DNSPERF_OUTSTANDING),
        "-T",
        "1",
        "-t",
        "2",
    ]
    args += ["-n", str(passes)] if passes else ["-l", str(seconds)]
    if max_qps:
        args += ["-Q", str(max_qps)]
    if verbose:
        args.append("-v")
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=True)
    qps = 0.0
    latencies: list[float] = []
    for line in out.stdout.splitlines():
        if "Queries per second:" in line:
            qps = float(line.split(":")[1])
        elif verbose and line.startswith("> "):
            with contextlib.suppress(ValueError, IndexError):
                latencies.append(float(line.split()[-1]))
    return qps, latencies, out.stdout


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each run")
    parser.add_argument("--names", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-log", action="store_true", help="query log off (not the default)")
    args = parser.parse_args()
    for tool in ("dnsperf", "unbound"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} not found: run scripts/install-test-deps.sh")

    harness = _load_unbound_harness()
    records, query_lines = names(args.names)
    work = Path(tempfile.mkdtemp(prefix="ramparts-bench-dns-"))
    queries = work / "queries.txt"
    queries.write_text("\n".join(query_lines) + "\n")
    unbound = harness.Unbound(records=records, threads=1).start()
    log_db = None if args.no_log else f"sqlite:///{work / 'log.db'}"
    if log_db:
        from ramparts.store import Database

        db = Database(log_db)
        db.migrate()
        db.dispose()
    load_before = os.getloadavg()[0]
    try:
        dnsperf(unbound.port, queries, args.seconds, passes=1)  # warm unbound's cache
        anchor = 0.0
        results: dict[int, float] = {}
        latencies: list[float] = []
        for count in sorted({1, args.workers}):
            port = _free_port()
            workers = Workers(count, port, unbound.port, log_db)
            try:
                dnsperf(port, queries, args.seconds, passes=2)  # warm every worker's cache
                # Best of ROUNDS, alternating with the anchor: on a shared machine other
                # processes take the CPU now and then; the best run is the code's figure.
                for _ in range(ROUNDS):
                    anchor = max(anchor, dnsperf(unbound.port, queries, args.seconds)[0])
                    best = dnsperf(port, queries, args.seconds)[0]
                    results[count] = max(results.get(count, 0.0), best)
                if count == 1:
                    half = max(1000, int(results[1] / 2))
                    _, latencies, _ = dnsperf(
                        port, queries, args.seconds, max_qps=half, verbose=True
                    )
            finally:
                workers.stop()
    finally:
        unbound.destroy()
        shutil.rmtree(work, ignore_errors=True)

    one, many = results[1], results[args.workers]
    p99 = percentile(latencies, 0.99) * 1000 if latencies else float("nan")
    p50 = percentile(latencies, 0.50) * 1000 if latencies else float("nan")
    log_state = "off" if args.no_log else "on"
    print(
        f"queries: {len(query_lines)} names (A/AAAA, 10% block-listed), dnsperf -c "
        f"{DNSPERF_CLIENTS} -q {DNSPERF_OUTSTANDING}, {args.seconds:.0f} s per run, "
        f"{os.cpu_count()} cores, query log {log_state}, best of {ROUNDS} runs, "
        f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(f"unbound 1 thread, cached           : {anchor:>9,.0f} q/s")
    print(
        f"ramparts 1 worker, cached+policy   : {one:>9,.0f} q/s"
        f"   = {one / anchor:.2f}x unbound  (target >= 0.5x)"
    )
    print(
        f"ramparts {args.workers} workers, cached+policy  : {many:>9,.0f} q/s"
        f"   = {many / anchor:.2f}x unbound  (target >= 1.0x)"
    )
    print(
        f"ramparts 1 worker at half load ({int(one / 2):,} q/s): "
        f"p50 {p50:.3f} ms, p99 {p99:.3f} ms  (target p99 < 2 ms)"
    )


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        main()
