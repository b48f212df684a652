"""The FastAPI application of the control plane."""

from __future__ import annotations

from fastapi import FastAPI

from ramparts import __version__
from ramparts.api import errors
from ramparts.api.context import ControlPlane
from ramparts.api.limits import BodySizeLimit
from ramparts.api.routers import audit, status, tokens, tunnels
from ramparts.api.routers.access import router as access_router
from ramparts.api.routers.dns import router as dns_router
from ramparts.api.routers.identity import router as identity_router
from ramparts.api.routers.lists import router as lists_router
from ramparts.api.routers.policies import router as policies_router
from ramparts.api.routers.proxy import router as proxy_router

API_PREFIX = "/api/v1"


def create_app(control_plane: ControlPlane) -> FastAPI:
    app = FastAPI(
        title="Ramparts control plane",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.control_plane = control_plane
    errors.install(app)
    for router in (status.router, tunnels.router, tokens.router, audit.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(dns_router, prefix=API_PREFIX)
    app.include_router(policies_router, prefix=API_PREFIX)
    app.include_router(lists_router, prefix=API_PREFIX)
    app.include_router(access_router, prefix=API_PREFIX)
    app.include_router(identity_router, prefix=API_PREFIX)
    app.include_router(proxy_router, prefix=API_PREFIX)
    app.add_middleware(BodySizeLimit)
    return app
