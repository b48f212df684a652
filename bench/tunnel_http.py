"""HTTP through a tunnel vs nginx as a reverse proxy: requests/s and latency under wrk.

    .venv/bin/python bench/tunnel_http.py [--seconds 10] [--connections 64] [--threads 2]

Ours: wrk -> edge HTTPS listener (`ramparts up`) -> tunnel (TLS/TCP mux) -> `ramparts connector
run --url` -> origin. Anchor: wrk -> nginx (1 worker, TLS, keep-alive upstream pool) -> the
same origin. The origin is nginx serving a small static body (fast, so the proxies are what is
measured). Both TLS listeners serve the edge's own certificate. Same wrk load for both, after a
short warm-up each. Also prints the connector's idle RSS (before and after the load) and the
CPU seconds each process used during the measured runs. Needs Debian `nginx` and `wrk`
(installed with apt-get when missing). Loopback only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stack import (
    Child,
    TunnelStack,
    cpu_seconds,
    ensure_debian,
    free_port,
    nginx,
    rss_mib,
    wait_for_port,
)

HOST = "app.acme.localhost"
BODY = "hello from the origin\n"
WARMUP = 2


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str

    def line(self) -> str:
        extra = f", {self.errors}" if self.errors else ""
        return (
            f"{self.rps:>9,.0f} req/s  p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms"
            f"  ({self.requests:,} requests{extra})"
        )


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(port: int, seconds: float, connections: int, threads: int) -> WrkResult:
    out = subprocess.run(
        [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{round(seconds)}s", "--latency",
            "-H", f"Host: {HOST}", f"https://127.0.0.1:{port}/",
        ],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    problems = [
        m.group(0).strip()
        for m in re.finditer(r"(Non-2xx or 3xx responses: \d+|Socket errors: .*)", out)
    ]
    return WrkResult(rps, p50, p99, total, "; ".join(problems))


def fetch_once(port: int) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(f"https://127.0.0.1:{port}/", headers={"Host": HOST})
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:  # noqa: S310
        body: bytes = answer.read()
        return body


def measure(
    name: str, port: int, pids: dict[str, int], args: argparse.Namespace
) -> tuple[WrkResult, dict[str, float]]:
    assert fetch_once(port) == BODY.encode(), f"{name}: wrong body"
    wrk(port, WARMUP, args.connections, args.threads)
    before = {k: cpu_seconds(p) for k, p in pids.items()}
    result = wrk(port, args.seconds, args.connections, args.threads)
    cpu = {k: cpu_seconds(p) - before[k] for k, p in pids.items()}
    return result, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument(
        "--hold", type=float, default=0.0, help="before measuring ours, wait this long (profile)"
    )
    args = parser.parse_args()
    ensure_debian("wrk", packages=["wrk"])
    ensure_debian("nginx", packages=["nginx"])
    tmp = Path(tempfile.mkdtemp(prefix="bench-tunnel-http-"))
    children: list[Child] = []
    stack = TunnelStack(tmp)
    try:
        origin_port = free_port()
        children.append(
            nginx(
                tmp / "nginx",
                "origin",
                f"server {{ listen 127.0.0.1:{origin_port}; default_type text/plain;\n"
                f"  location / {{ return 200 '{BODY.strip()}\\n'; }} }}",
            )
        )
        wait_for_port(origin_port)

        stack.start_edge()
        stack.create_tunnel("web", HOST)
        stack.start_connector(f"http://127.0.0.1:{origin_port}")
        assert stack.edge is not None
        assert stack.connector is not None
        time.sleep(1.0)
        idle_rss = rss_mib(stack.connector.pid)

        cert, key = stack.edge_cert()
        proxy_port = free_port()
        children.append(
            nginx(
                tmp / "nginx",
                "proxy",
                f"upstream origin {{ server 127.0.0.1:{origin_port}; keepalive 64; }}\n"
                f"server {{ listen 127.0.0.1:{proxy_port} ssl;\n"
                f"  ssl_certificate {cert}; ssl_certificate_key {key};\n"
                "  location / { proxy_pass http://origin; proxy_http_version 1.1;\n"
                '    proxy_set_header Connection ""; proxy_set_header Host $host;\n'
                "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                "    proxy_set_header X-Forwarded-Proto https; } }",
            )
        )
        wait_for_port(proxy_port)
        origin_pid, proxy_pid = children[0].pid, children[1].pid

        anchor, anchor_cpu = measure(
            "nginx", proxy_port, {"nginx proxy": proxy_pid, "origin": origin_pid}, args
        )
        if args.hold:
            print(f"holding {args.hold}s: edge pid {stack.edge.pid}, connector pid "
                  f"{stack.connector.pid}", file=sys.stderr)  # fmt: skip
            time.sleep(args.hold)
        ours, ours_cpu = measure(
            "tunnel",
            stack.https_port,
            {"edge": stack.edge.pid, "connector": stack.connector.pid, "origin": origin_pid},
            args,
        )
        time.sleep(1.0)
        after_rss = rss_mib(stack.connector.pid)

        print(
            f"tunnel HTTP: wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s "
            "over HTTPS, origin = nginx returning a 22-byte static body"
        )
        print(f"  tunnel (edge -> connector -> origin): {ours.line()}")
        print(f"  nginx reverse proxy (1 worker):       {anchor.line()}")
        print(
            f"  ratio: {ours.rps / anchor.rps:.2f}x requests/s (target >= 0.5x); "
            f"p50 {ours.p50_ms / anchor.p50_ms:.1f}x, p99 {ours.p99_ms / anchor.p99_ms:.1f}x"
        )
        spent = ", ".join(
            f"{k} {v:.1f} s ({v / ours.requests * 1e6:.0f} us/req)" for k, v in ours_cpu.items()
        )
        anchor_spent = ", ".join(
            f"{k} {v:.1f} s ({v / anchor.requests * 1e6:.0f} us/req)" for k, v in anchor_cpu.items()
        )
        print(f"  CPU in the measured run: tunnel: {spent}")
        print(f"                           nginx: {anchor_spent}")
        print(f"  load average at the end: {os.getloadavg()[0]:.1f} (2 cores shared)")
        print(
            f"  connector RSS: idle {idle_rss:.1f} MiB (target <= 60), "
            f"idle after the load {after_rss:.1f} MiB"
        )
    finally:
        stack.stop()
        for child in reversed(children):
            child.stop()
        if args.keep:
            print(f"logs in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
