"""The edge's local admin listener: ``/metrics`` (Prometheus) and ``/ready`` (JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ramparts.edge.metrics import EdgeMetrics

ReadinessProbe = Callable[[], tuple[bool, dict[str, Any]]]


def admin_app(metrics: EdgeMetrics, readiness: ReadinessProbe) -> Starlette:
    async def metrics_endpoint(_request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def ready_endpoint(_request: Request) -> Response:
        ready, detail = readiness()
        return JSONResponse({"ready": ready, **detail}, status_code=200 if ready else 503)

    return Starlette(
        routes=[
            Route("/metrics", metrics_endpoint),
            Route("/ready", ready_endpoint),
        ]
    )
