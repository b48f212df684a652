"""The connector's local admin listener: ``/metrics`` and ``/ready``."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ramparts import __version__


class ConnectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.ha_connections = Gauge(
            "ramparts_connector_ha_connections",
            "Connections to the edge that are registered right now",
            registry=self.registry,
        )
        self.requests = Counter(
            "ramparts_connector_requests",
            "Streams served, by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.config_version = Gauge(
            "ramparts_connector_config_version",
            "Version of the remotely managed configuration applied (0: local rules)",
            registry=self.registry,
        )


def admin_app(
    metrics: ConnectorMetrics, registered: Callable[[], int], connector_id: str
) -> Starlette:
    async def metrics_endpoint(_request: Request) -> Response:
        metrics.ha_connections.set(registered())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def ready_endpoint(_request: Request) -> Response:
        count = registered()
        body = {
            "status": 200 if count else 503,
            "readyConnections": count,
            "connectorId": connector_id,
            "version": __version__,
        }
        return JSONResponse(body, status_code=200 if count else 503)

    return Starlette(routes=[Route("/metrics", metrics_endpoint), Route("/ready", ready_endpoint)])
