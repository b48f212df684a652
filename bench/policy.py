"""Policy engine benchmark: 1,000 policies over 1,000 lists of 1,000 domains (1,000,000 in all).

Prints, from one run: list load time and peak RSS (in child processes), policy-set compile
time, and the median decision time of the indexed evaluator against the anchor, the naive
linear scan over every rule, with the ratio. Targets (issue 3): decision < 20 us median,
compile < 2 s, 1,000,000 domains load < 10 s and < 300 MB RSS.

    .venv/bin/python bench/policy.py [--requests N]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ramparts.policy import (
    Context,
    Identity,
    ListKind,
    PolicyList,
    PolicyRule,
    compile_policy_set,
    dns_request,
)
from ramparts.policy.list_formats import load_list

N_LISTS = 1_000
DOMAINS_PER_LIST = 1_000
TARGET_DECISION_US = 20.0
TARGET_COMPILE_S = 2.0
TARGET_LOAD_S = 10.0
TARGET_RSS_MB = 300.0

_LOAD_CHILD = """
import resource, sys, time
from pathlib import Path
from ramparts.policy import ListKind
from ramparts.policy.list_formats import load_list_file
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
files = sorted(Path(sys.argv[1]).glob("*.txt"))
t = time.perf_counter()
lists = [load_list_file(f, f.stem, ListKind.DOMAIN) for f in files]
elapsed = time.perf_counter() - t
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(sum(len(x) for x in lists), len(files), elapsed, before / 1024, after / 1024)
"""


def list_domains(i: int) -> list[str]:
    """Deterministic, distinct names: 1,000 per list, spread over many parent domains."""
    return [f"h{j:03d}x{i:03d}.site{(i * 7 + j) % 997}.test" for j in range(DOMAINS_PER_LIST)]


def list_text(i: int) -> bytes:
    header = f"# list {i}\n! generated for the benchmark\n"
    return (header + "\n".join(list_domains(i)) + "\n").encode()


def measure_load(directory: Path) -> tuple[int, int, float, float, float]:
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_CHILD, str(directory)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[0]), int(out[1]), float(out[2]), float(out[3]), float(out[4])


def build_rules() -> list[PolicyRule]:
    rules: list[PolicyRule] = []

    def add(expr: str, action: str = "block", identity: str = "") -> None:
        n = len(rules)
        rules.append(
            PolicyRule(f"r{n}", f"policy {n}", Context.DNS, expr, action, n, True, identity)
        )

    for i in range(880):  # one list each, some with an extra condition
        expr = f"any(dns.domains[*] in $list{i})"
        if i % 5 == 1:
            expr += ' and dns.query_rtype in {"A" "AAAA"}'
        elif i % 5 == 2:
            expr += " and not dns.src_ip in {10.99.0.0/16}"
        add(expr)
    for k in range(60):  # two lists each
        a, b = 880 + 2 * k, 881 + 2 * k
        add(f"any(dns.domains[*] in $list{a}) or any(dns.domains[*] in $list{b})")
    for k in range(15):
        add(f'dns.fqdn in {{"exact{k}.corp.test" "alias{k}.corp.test"}}', "override")
    for k in range(10):
        add(f'dns.src_ip in {{10.{k}.0.0/16}} and dns.query_rtype == "AAAA"')
    for k in range(10):
        add(
            f'any(dns.domains[*] == "team{k}.corp.test")',
            "allow",
            identity=f'any(identity.groups[*] == "g{k}")',
        )
    for k in range(10):
        add(f'dns.location == "site{k}" and any(dns.domains[*] == "printer.local{k}.test")')
    for k in range(10):  # no indexable guard: evaluated for every request
        add(f'dns.fqdn matches "^tracker{k}-[0-9]+\\\\."')
    for _ in range(5):
        add(
            'not dns.query_rtype in {"A" "AAAA" "HTTPS" "MX" "TXT"}'
            ' and not any(dns.domains[*] == "ok.corp.test")',
            "block",
        )
    return rules


def make_requests(rng: random.Random, count: int) -> list[dict[str, object]]:
    who = Identity(email="bob@corp.test", groups=("g3", "staff"))
    out: list[dict[str, object]] = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.4:  # a listed name, or a subdomain of one
            name = rng.choice(list_domains(rng.randrange(N_LISTS)))
            if rng.random() < 0.5:
                name = "www." + name
        elif roll < 0.5:
            name = rng.choice(
                ["exact3.corp.test", "team3.corp.test", "printer.local4.test", "tracker2-77.x"]
            )
        else:
            name = f"n{rng.randrange(10**9)}.unlisted{n % 50}.example"
        out.append(
            dns_request(
                name,
                rng.choice(["A", "A", "A", "AAAA", "HTTPS"]),
                src_ip=f"10.{rng.randrange(12)}.{rng.randrange(256)}.{rng.randrange(256)}",
                location=f"site{rng.randrange(12)}",
                identity=who if rng.random() < 0.3 else None,
            )
        )
    return out


def time_each(fn: object, requests: list[dict[str, object]]) -> list[float]:
    call = fn  # type: ignore[assignment]
    clock = time.perf_counter_ns
    samples: list[float] = []
    for r in requests:
        t = clock()
        call(r)  # type: ignore[operator]
        samples.append((clock() - t) / 1000.0)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(3)

    with tempfile.TemporaryDirectory(prefix="ramparts-bench-") as tmp:
        d = Path(tmp)
        for i in range(N_LISTS):
            (d / f"list{i}.txt").write_bytes(list_text(i))
        total, files, load_s, rss0, rss1 = measure_load(d)
        one = d / "one"
        one.mkdir()
        with (one / "all.txt").open("wb") as f:
            for i in range(N_LISTS):
                f.write(list_text(i))
        total1, _, load1_s, _, rss1_one = measure_load(one)
    print(
        f"list load     : {total:,} domains from {files:,} files in {load_s:.2f} s "
        f"(target < {TARGET_LOAD_S:.0f} s); peak RSS {rss1:.0f} MB "
        f"(interpreter alone {rss0:.0f} MB; target < {TARGET_RSS_MB:.0f} MB)"
    )
    print(
        f"list load     : {total1:,} domains from one file in {load1_s:.2f} s; "
        f"peak RSS {rss1_one:.0f} MB"
    )

    lists: dict[str, PolicyList] = {
        f"list{i}": load_list(f"list{i}", ListKind.DOMAIN, list_text(i)) for i in range(N_LISTS)
    }
    rules = build_rules()
    t = time.perf_counter()
    policies = compile_policy_set(rules, lists)
    compile_s = time.perf_counter() - t
    phase = policies[Context.DNS]
    print(
        f"compile       : {len(rules):,} policies over {sum(map(len, lists.values())):,} "
        f"list entries in {compile_s:.2f} s (target < {TARGET_COMPILE_S:.0f} s); "
        f"index {phase.index.stats}"
    )

    requests = make_requests(rng, args.requests)
    who = Identity(email="bob@corp.test", groups=("g3",))
    t = time.perf_counter()
    for n in range(2_000):
        dns_request(f"www.h{n:03d}x007.site42.test", "AAAA", src_ip="10.1.2.3", identity=who)
    build_us = (time.perf_counter() - t) / 2_000 * 1e6
    # Same answers, then timings.
    mismatches = sum(phase.evaluate(r) != phase.evaluate_linear(r) for r in requests[:2_000])
    blocked = sum(phase.evaluate(r).matched for r in requests)
    indexed = time_each(phase.evaluate, requests)
    linear = time_each(phase.evaluate_linear, requests[: max(1, len(requests) // 10)])
    med_i, med_l = statistics.median(indexed), statistics.median(linear)
    unmatched = [r for r in requests if not phase.evaluate(r).matched]
    med_miss = statistics.median(time_each(phase.evaluate, unmatched)) if unmatched else 0.0
    p99 = statistics.quantiles(indexed, n=100)[98]
    print(
        f"decision      : indexed median {med_i:.2f} us (p99 {p99:.1f} us; target < "
        f"{TARGET_DECISION_US:.0f} us) vs anchor linear scan {med_l:.1f} us = "
        f"{med_l / med_i:.0f}x faster; {blocked / len(requests):.0%} of requests matched; "
        f"{mismatches} mismatches with the linear scan; median {med_miss:.2f} us for "
        f"requests no policy matches (default allow)"
    )
    print(f"request build : dns_request() {build_us:.2f} us each (not included above)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process       : peak RSS {rss:.0f} MB with lists, compiled set and index loaded")
    ok = (
        med_i < TARGET_DECISION_US
        and compile_s < TARGET_COMPILE_S
        and max(load_s, load1_s) < TARGET_LOAD_S
        and max(rss1, rss1_one) < TARGET_RSS_MB
        and mismatches == 0
    )
    print("targets       :", "all met" if ok else "NOT all met")


if __name__ == "__main__":
    main()
