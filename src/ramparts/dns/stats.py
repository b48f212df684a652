"""Resolver counters kept as plain ints on the hot path, exported to Prometheus at scrape time.

Worker processes send ``export()`` dictionaries to the main edge process, which adds them to
its own in the collector, so ``/metrics`` shows the whole edge.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

LATENCY_BOUNDS_US = (100, 250, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 250_000, 1_000_000)
"""Histogram buckets of answer latency (µs): cached answers sit in the first ones."""


class ResolverStats:
    def __init__(self) -> None:
        # (protocol, decision, cached) -> count
        self.queries: dict[tuple[str, str, bool], int] = {}
        self.latency = [0] * (len(LATENCY_BOUNDS_US) + 1)
        self.latency_sum_us = 0
        self.dropped = 0  # packets that were not DNS queries at all (no answer sent)

    def count(self, protocol: str, decision: str, cached: bool, latency_us: int) -> None:
        key = (protocol, decision, cached)
        queries = self.queries
        queries[key] = queries.get(key, 0) + 1
        self.latency[bisect_left(LATENCY_BOUNDS_US, latency_us)] += 1
        self.latency_sum_us += latency_us

    def export(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A JSON-able copy (for worker -> main reporting)."""
        return {
            "queries": [[p, d, c, n] for (p, d, c), n in self.queries.items()],
            "latency": list(self.latency),
            "latency_sum_us": self.latency_sum_us,
            "dropped": self.dropped,
            **(extra or {}),
        }


def _sum(exports: Iterable[dict[str, Any]]) -> dict[str, Any]:
    queries: dict[tuple[str, str, bool], int] = {}
    latency = [0] * (len(LATENCY_BOUNDS_US) + 1)
    total: dict[str, Any] = {"latency_sum_us": 0, "dropped": 0}
    upstreams: dict[tuple[str, str], list[int]] = {}
    for e in exports:
        for p, d, c, n in e.get("queries", []):
            queries[(p, d, bool(c))] = queries.get((p, d, bool(c)), 0) + int(n)
        for i, n in enumerate(e.get("latency", [])[: len(latency)]):
            latency[i] += int(n)
        for key in ("latency_sum_us", "dropped", "cache_hits", "cache_misses", "cache_entries",
                    "log_written", "log_dropped", "prefetches"):  # fmt: skip
            total[key] = total.get(key, 0) + int(e.get(key, 0))
        for name, address, queried, errors, up in e.get("upstreams", []):
            row = upstreams.setdefault((name, address), [0, 0, 0])
            row[0] += int(queried)
            row[1] += int(errors)
            row[2] = max(row[2], int(up))
    total["queries"] = queries
    total["latency"] = latency
    total["upstreams"] = upstreams
    return total


class ResolverCollector(Collector):
    """Prometheus view of the summed exports of this process and its workers."""

    def __init__(self, exports: Callable[[], list[dict[str, Any]]]) -> None:
        self._exports = exports

    def collect(self) -> Iterator[Any]:
        s = _sum(self._exports())
        queries = CounterMetricFamily(
            "ramparts_dns_queries",
            "DNS queries answered",
            labels=["protocol", "decision", "cached"],
        )
        for (p, d, c), n in sorted(s["queries"].items()):
            queries.add_metric([p, d, "true" if c else "false"], n)
        yield queries
        buckets = []
        running = 0
        for bound, n in zip((*LATENCY_BOUNDS_US, None), s["latency"], strict=True):
            running += n
            buckets.append(("+Inf" if bound is None else str(bound / 1e6), running))
        yield HistogramMetricFamily(
            "ramparts_dns_query_duration_seconds",
            "Time from query to answer",
            buckets=buckets,
            sum_value=s["latency_sum_us"] / 1e6,
        )
        for name, key, text in (
            ("ramparts_dns_cache_hits", "cache_hits", "Answer cache hits"),
            ("ramparts_dns_cache_misses", "cache_misses", "Answer cache misses"),
            ("ramparts_dns_prefetches", "prefetches", "Popular entries refreshed before expiry"),
            ("ramparts_dns_dropped_packets", "dropped", "Packets dropped without an answer"),
            ("ramparts_dns_querylog_written", "log_written", "Query log rows written"),
            (
                "ramparts_dns_querylog_dropped",
                "log_dropped",
                "Query log rows dropped (buffer full)",
            ),
        ):
            yield CounterMetricFamily(name, text, value=s.get(key, 0))
        yield GaugeMetricFamily(
            "ramparts_dns_cache_entries",
            "Entries in the answer caches",
            value=s.get("cache_entries", 0),
        )
        up_queries = CounterMetricFamily(
            "ramparts_dns_upstream_queries", "Queries sent upstream", labels=["upstream", "address"]
        )
        up_errors = CounterMetricFamily(
            "ramparts_dns_upstream_errors",
            "Upstream timeouts and failures",
            labels=["upstream", "address"],
        )
        up_state = GaugeMetricFamily(
            "ramparts_dns_upstream_up", "1 unless the upstream is in failure backoff",
            labels=["upstream", "address"],
        )  # fmt: skip
        for (name, address), (queried, errors, up) in sorted(s["upstreams"].items()):
            up_queries.add_metric([name, address], queried)
            up_errors.add_metric([name, address], errors)
            up_state.add_metric([name, address], up)
        yield up_queries
        yield up_errors
        yield up_state
