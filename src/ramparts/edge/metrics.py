"""Prometheus metrics of one edge node (own registry, so several nodes can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Info

from ramparts import __version__


class EdgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.info = Info("ramparts_edge", "Edge build information", registry=self.registry)
        self.info.info({"version": __version__})
        self.snapshot_version = Gauge(
            "ramparts_config_snapshot_version",
            "Version of the configuration snapshot being served",
            registry=self.registry,
        )
        self.snapshot_swaps = Counter(
            "ramparts_config_snapshot_swaps",
            "Configuration snapshots applied since start",
            registry=self.registry,
        )
        self.service_up = Gauge(
            "ramparts_service_up",
            "1 when the service passed its last health check",
            ["service"],
            registry=self.registry,
        )
        self.service_restarts = Counter(
            "ramparts_service_restarts",
            "Restarts of a service after a failed health check",
            ["service"],
            registry=self.registry,
        )
        self.tunnel_connections = Gauge(
            "ramparts_tunnel_connections",
            "Connector connections registered on this edge",
            registry=self.registry,
        )
        self.tunnel_registrations = Counter(
            "ramparts_tunnel_registrations",
            "Connector registration attempts by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.requests = Counter(
            "ramparts_edge_requests",
            "Requests handled by edge HTTP services",
            ["service", "status_class"],
            registry=self.registry,
        )
