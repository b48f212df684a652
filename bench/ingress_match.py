"""Ingress rule matching: indexed ``IngressRules.match`` vs cloudflared's linear scan.

    .venv/bin/python bench/ingress_match.py [--rules 1000] [--seconds 1.0]

Rules: 70% exact hostnames, 20% ``*.`` wildcards, 5% exact with a path regex, 5% path-only,
then the catch-all. Requests: hosts drawn from the rules (exact hits, wildcard subdomains,
rules whose path decides) and 20% unknown hosts (the catch-all), with random case and ports.

Anchor: cloudflared's algorithm (``FindMatchingRule``: strip the port, then test each rule in
order, hostname then path regex) written in Python over the same compiled regexes, so the
ratio is the gain of the lookup tables. Both answers are checked equal first. Single core.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from ramparts.tunnel.connector.ingress import IngressRule, IngressRules, parse_ingress


def build(count: int, seed: int = 7) -> tuple[IngressRules, list[tuple[str, str]]]:
    rng = random.Random(seed)
    raw: list[dict[str, object]] = []
    requests: list[tuple[str, str]] = []
    for i in range(count):
        kind = rng.random()
        port = 8000 + i % 1000
        if kind < 0.70:
            host = f"app{i}.site{i % 50}.example.com"
            raw.append({"hostname": host, "service": f"http://127.0.0.1:{port}"})
            requests.append((host, "/"))
        elif kind < 0.90:
            raw.append(
                {"hostname": f"*.zone{i}.example.net", "service": f"http://127.0.0.1:{port}"}
            )
            requests.append((f"www.zone{i}.example.net", "/index.html"))
        elif kind < 0.95:
            host = f"api{i}.example.org"
            raw.append({"hostname": host, "path": r"^/v[0-9]+/", "service": "http://127.0.0.1:9"})
            requests.append((host, "/v2/users"))
            requests.append((host, "/health"))
        else:
            raw.append({"path": f"^/hook{i}$", "service": "http://127.0.0.1:10"})
            requests.append((f"any{i}.example.io", f"/hook{i}"))
    raw.append({"service": "http_status:404"})
    requests += [(f"unknown{i}.example.com", "/") for i in range(len(requests) // 4)]
    shaped = []
    for host, path in requests:
        if rng.random() < 0.3:
            host = host.upper()
        if rng.random() < 0.3:
            host += ":443"
        shaped.append((host, path))
    rng.shuffle(shaped)
    return parse_ingress(raw), shaped


def linear_match(rules: tuple[IngressRule, ...], host: str, path: str) -> int:
    """cloudflared's FindMatchingRule/matchHost, case-folded as ours is."""
    if host.count(":") == 1:
        host = host[: host.index(":")]
    host = host.lower()
    for rule in rules:
        name = rule.hostname
        if name is None:
            host_ok = True
        elif name.startswith("*."):
            host_ok = host.endswith(name[1:])
        else:
            host_ok = name == host
        if host_ok and (rule.path_regex is None or rule.path_regex.search(path)):
            return rule.index
    return len(rules) - 1


def measure(loop: Callable[[], None], per_loop: int, seconds: float) -> float:
    loops = 0
    start = time.perf_counter()
    while True:
        loop()
        loops += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return loops * per_loop / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()

    started = time.perf_counter()
    rules, requests = build(args.rules)
    build_ms = (time.perf_counter() - started) * 1000
    table = rules.rules
    for host, path in requests:
        assert rules.match(host, path)[0] == linear_match(table, host, path), (host, path)

    match = rules.match

    def ours() -> None:
        for host, path in requests:
            match(host, path)

    def anchor() -> None:
        for host, path in requests:
            linear_match(table, host, path)

    ours_rate = measure(ours, len(requests), args.seconds)
    anchor_rate = measure(anchor, len(requests), args.seconds)
    print(f"rules: {len(rules)} ({args.rules} + catch-all), {len(requests)} request shapes")
    print(f"parse + tables          : {build_ms:>10.1f} ms")
    print(f"linear scan (cloudflared): {anchor_rate:>10,.0f} matches/s")
    print(f"IngressRules.match       : {ours_rate:>10,.0f} matches/s "
          f"({1e6 / ours_rate:.2f} us each)")  # fmt: skip
    print(f"ratio ours/linear        : {ours_rate / anchor_rate:>10.1f}x")


if __name__ == "__main__":
    main()
