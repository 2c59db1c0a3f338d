"""The ASGI application: routes, lifespan and error handlers, bound to one :class:`Gateway`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from kirogate import __version__
from kirogate.api import anthropic, models, openai, responses_api
from kirogate.api.errors import dialect_for_path, error_response
from kirogate.api.responses import json_response
from kirogate.api.streaming import InternalError
from kirogate.errors import ClientError, KirogateError, NotFound
from kirogate.service import Gateway

log = logging.getLogger(__name__)


class MethodNotAllowed(ClientError):
    status = 405


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
    for module in (anthropic, openai, responses_api, models):
        app.include_router(module.router)

    @app.exception_handler(KirogateError)
    async def kirogate_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KirogateError)
        return error_response(exc, dialect_for_path(request.url.path))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error: KirogateError
        if exc.status_code == 404:
            error = NotFound(f"no route for {request.method} {request.url.path}")
        elif exc.status_code == 405:
            error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        else:
            error = InternalError(str(exc.detail))
        return error_response(error, dialect_for_path(request.url.path))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        error = InternalError(f"internal error: {type(exc).__name__}")
        return error_response(error, dialect_for_path(request.url.path))

    @app.get("/health")
    async def health(_: Request) -> Response:
        """Liveness: the process answers. Readiness (a usable credential) is /ready."""
        return json_response({"status": "ok", "version": __version__})

    @app.get("/ready")
    async def ready(_: Request) -> Response:
        usable = [s for s in gateway.pool.snapshot() if s.state.value != "disabled"]
        status = 200 if usable else 503
        return json_response(
            {"ready": bool(usable), "credentials": len(gateway.pool), "usable": len(usable)},
            status=status,
        )

    return app
