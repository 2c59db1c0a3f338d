"""The ASGI application: routes, lifespan and error handlers, bound to one :class:`Gateway`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from kirogate import __version__
from kirogate.api.responses import json_response
from kirogate.service import Gateway


def create_app(gateway: Gateway) -> FastAPI:
    """Build the app; the gateway is started and closed with the app's lifespan."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.close()

    app = FastAPI(
        title="kirogate",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.gateway = gateway

    @app.get("/health")
    async def health(_: Request) -> Response:
        """Liveness: the process answers. Readiness (a usable credential) is /ready."""
        return json_response({"status": "ok", "version": __version__})

    return app
