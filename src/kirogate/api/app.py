"""The ASGI application: routes, lifespan and error handlers, bound to one :class:`Gateway`."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from kirogate import __version__, admin, console
from kirogate.admin.auth import check_admin_key
from kirogate.api import anthropic, model_list, openai, pages, responses_api
from kirogate.api.auth import presented_key
from kirogate.api.direct import DirectRoutes, dialect_refusal, error_for
from kirogate.api.errors import Dialect, dialect_for_path, error_response
from kirogate.api.json_reply import json_response
from kirogate.api.middleware import ObservabilityMiddleware, otel_available, telemetry_config
from kirogate.api.request_log import BodyRecorder
from kirogate.errors import (
    AuthenticationFailed,
    InternalError,
    KirogateError,
    MethodNotAllowed,
    PermissionDenied,
    RouteNotFound,
)
from kirogate.metrics import (
    CONTENT_TYPE,
    CREDENTIAL_STATES,
    METRICS,
    MULTIPROC_ENV,
    GatewayMetrics,
)
from kirogate.service import Gateway
from kirogate.settings.model import ServerSettings
from kirogate.tasks import spawn

log = logging.getLogger(__name__)

READY_DATABASE_TIMEOUT = 3.0
READY_REDIS_TIMEOUT = 1.0
_USABLE_STATES = ("ready", "busy")


# The OpenAI client routes, as a client whose base URL lacks ``/v1`` asks for them.
_OPENAI_WITHOUT_V1 = ("/chat/completions", "/completions", "/responses", "/models", "/embeddings")


def missing_v1(path: str) -> bool:
    """Whether ``path`` is an OpenAI route asked for without its ``/v1`` prefix."""
    path = path.rstrip("/")
    return path in _OPENAI_WITHOUT_V1 or path.startswith(("/responses/", "/models/"))


def not_found(request: Request) -> tuple[KirogateError, Dialect]:
    """The 404 for an unknown path, with a hint when the base URL is the likely mistake."""
    path = request.url.path
    if missing_v1(path):
        base = str(request.base_url).rstrip("/")
        error = RouteNotFound(
            f"no route for {request.method} {path}: OpenAI clients need /v1 at the end of "
            f"the base URL ({base}/v1)"
        )
        return error, Dialect.OPENAI
    if path.startswith("/v1/v1/"):
        base = str(request.base_url).rstrip("/")
        error = RouteNotFound(
            f"no route for {request.method} {path}: the base URL ends in /v1 once too often; "
            f"Anthropic clients take {base}, OpenAI clients {base}/v1"
        )
        return error, dialect_for_path(path.removeprefix("/v1"))
    return RouteNotFound(f"no route for {request.method} {path}"), dialect_for_path(path)


class ObservedFastAPI(FastAPI):
    """FastAPI with :class:`ObservabilityMiddleware` outside every other layer.

    Outside Starlette's error middleware too, so the 500 page of an unexpected error
    still carries ``x-request-id`` and is counted. The client API's fixed paths skip the
    framework's layers (:class:`~kirogate.api.direct.DirectRoutes`).
    """

    observability: dict[str, Any]
    # Routes of included routers to dispatch directly: FastAPI keeps included routers
    # as wrappers in ``router.routes``, so they are named here.
    direct_routes: list[Any]

    def build_middleware_stack(self) -> ASGIApp:
        options = getattr(self, "observability", {})
        routes = [*self.router.routes, *getattr(self, "direct_routes", ())]
        gateway: Gateway | None = getattr(self.state, "gateway", None)
        server = gateway.settings.server if gateway else ServerSettings()
        limit = server.max_body_size
        stack = DirectRoutes(
            super().build_middleware_stack(),
            routes,
            max_body_size=limit,
            refusal=dialect_refusal,
            shutdown=gateway.shutdown if gateway else None,
        )
        recorder = BodyRecorder(stack, gateway) if gateway is not None else stack
        return ObservabilityMiddleware(recorder, **options)


def credential_counts(gateway: Gateway) -> dict[str, int]:
    """How many credentials the pool has in each state (every state present)."""
    counts = Counter(status.state.value for status in gateway.pool.snapshot())
    return {state: counts.get(state, 0) for state in CREDENTIAL_STATES} | dict(counts)


async def database_status(gateway: Gateway) -> str:
    """``ok``, ``none`` (no database) or ``unreachable`` (details go to the log only).

    A gateway with a database watch (``kirogate serve``) answers from it without waiting; one
    without (an embedded store) pings, bounded by :data:`READY_DATABASE_TIMEOUT`.
    """
    store = getattr(gateway, "store", None)
    if store is None:
        return "none"
    watch = getattr(gateway, "database", None)
    if watch is not None:
        return "unreachable" if watch.away else "ok"
    try:
        async with asyncio.timeout(READY_DATABASE_TIMEOUT):
            await store.ping()
    except TimeoutError:
        log.warning("readiness: the database did not answer within %gs", READY_DATABASE_TIMEOUT)
        return "unreachable"
    except Exception as exc:  # any failure means "away"; the probe itself must answer
        log.warning("readiness: the database is unreachable: %s", exc)
        return "unreachable"
    return "ok"


def database_reason(gateway: Gateway) -> str:
    """Why ``/ready`` says the database is away, in words that name no host or user."""
    watch = getattr(gateway, "database", None)
    reason = watch.reason() if watch is not None else None
    return reason or "the database is not answering; serving from memory, store writes queued"


async def redis_status(gateway: Gateway) -> str:
    """``ok``, ``none`` (no Redis) or ``unreachable``. Not part of readiness: without Redis
    the gateway serves on, with locks, limits and notices falling back (docs/scaling.md)."""
    cluster = getattr(gateway, "cluster", None)
    redis = getattr(cluster, "redis", None)
    if redis is None:
        return "none"
    try:
        async with asyncio.timeout(READY_REDIS_TIMEOUT):
            await redis.ping()
    except TimeoutError:
        log.warning("readiness: Redis did not answer within %gs", READY_REDIS_TIMEOUT)
        return "unreachable"
    except Exception as exc:  # any failure is "unreachable"; the probe itself must answer
        log.warning("readiness: Redis is unreachable: %s", exc)
        return "unreachable"
    return "ok"


def _loopback(host: str | None) -> bool:
    if host is None:  # a Unix socket
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def check_metrics_access(request: Request, gateway: Gateway) -> None:
    """``/metrics`` needs the admin key when one is set (wrong ones throttled as on the admin
    API); without one, only localhost may scrape."""
    admin_key = gateway.settings.server.admin_key
    if admin_key:
        if presented_key(request) is None:
            raise AuthenticationFailed(
                "GET /metrics needs the admin key: send Authorization: Bearer <admin key>"
            )
        if not await check_admin_key(request, gateway, admin_key):
            raise AuthenticationFailed("invalid admin key for /metrics")
        return
    client = request.client.host if request.client else None
    if not _loopback(client):
        raise PermissionDenied(
            "GET /metrics is open to localhost only while no admin key is set; set one "
            "(--admin-key / KIROGATE_ADMIN_KEY) and send it as a Bearer token to scrape remotely"
        )


def _telemetry_kwargs(
    environ: Mapping[str, str] | None, overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    config = telemetry_config(os.environ if environ is None else environ)
    if config["auto_configure"] and not otel_available():
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK or OTLP exporter "
            "is not installed (pip install 'kirogate[otel]'); no traces are exported"
        )
        config["auto_configure"] = False
    config.update(overrides or {})
    if "telemetry" not in inspect.signature(FastAPI).parameters:
        if config["auto_configure"]:
            log.warning("this FastAPI version has no native OpenTelemetry; no traces exported")
        return {}
    return {"telemetry": config}


def create_app(
    gateway: Gateway,
    *,
    metrics: GatewayMetrics | None = None,
    environ: Mapping[str, str] | None = None,
    telemetry: Mapping[str, Any] | None = None,
    stop_signals: bool = False,
) -> FastAPI:
    """Build the app; the gateway is started and closed with the app's lifespan.

    ``stop_signals``: SIGTERM and SIGINT begin the gateway's stop (``kirogate serve``; see
    :mod:`kirogate.service.shutdown`). ``metrics`` defaults to the process-wide registry;
    ``environ`` (default ``os.environ``) is read for the OpenTelemetry variables;
    ``telemetry`` overrides FastAPI's telemetry settings (tests pass their own
    ``tracer_provider``).
    """
    metrics = metrics if metrics is not None else METRICS
    shared_dir = (os.environ if environ is None else environ).get(MULTIPROC_ENV)
    if shared_dir and metrics.shared is None:
        metrics.use_multiprocess(Path(shared_dir))  # a --workers process

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        # Inside the server's own signal handling, which stops accepting connections.
        unfollow = gateway.shutdown.follow_signals() if stop_signals else None
        metrics.set_credential_source(lambda: credential_counts(gateway))
        metrics.set_database_source(gateway.database_numbers)
        shared = metrics.shared
        flusher = None
        if shared is not None:
            flusher = spawn(shared.run(), name="kirogate metrics flush")
        try:
            yield
        finally:
            if flusher is not None and shared is not None:
                flusher.cancel()
                with suppress(asyncio.CancelledError):
                    await flusher
                shared.close()
            metrics.set_credential_source(None)
            metrics.set_database_source(None)
            if unfollow is not None:
                unfollow()
            await gateway.close()

    extra = _telemetry_kwargs(environ, telemetry)
    app = ObservedFastAPI(
        title="kirogate",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        **extra,
    )
    traced = bool(extra) and bool(
        extra["telemetry"].get("auto_configure") or extra["telemetry"].get("tracer_provider")
    )
    app.observability = {
        "metrics": metrics,
        "trace_request_ids": traced,
        "send_timeout": gateway.settings.server.send_timeout,
    }
    app.state.gateway = gateway
    app.state.models = gateway.models
    app.state.metrics = metrics
    app.direct_routes = []
    for module in (anthropic, openai, responses_api, model_list):
        app.include_router(module.router)
        app.direct_routes += module.router.routes  # no prefix: their paths are the real ones
    app.include_router(admin.router)
    app.include_router(console.router)
    app.include_router(pages.router)

    @app.exception_handler(KirogateError)
    async def kirogate_error(request: Request, exc: Exception) -> Response:
        return error_for(request, exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        error: KirogateError
        dialect = dialect_for_path(request.url.path)
        if exc.status_code == 404:
            error, dialect = not_found(request)
        elif exc.status_code == 405:
            error = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        else:
            error = InternalError(str(exc.detail))
        return error_response(error, dialect)  # the admin API's paths: kiro.rs' admin shape

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> Response:
        return error_for(request, exc)

    @app.get("/health")
    @app.get("/healthz")
    async def health(_: Request) -> Response:
        """Liveness: the process answers. Readiness (a usable credential) is /ready."""
        return json_response({"status": "ok", "version": __version__})

    @app.get("/version")
    async def version(_: Request) -> Response:
        """The gateway's version."""
        return json_response({"name": "kirogate", "version": __version__})

    @app.get("/ready")
    async def ready(_: Request) -> Response:
        """Readiness: a credential can serve now. A database outage does not take the
        instance out (it serves from memory, docs/scaling.md); it is reported as degraded."""
        states = credential_counts(gateway)
        usable = sum(states[state] for state in _USABLE_STATES)
        database = await database_status(gateway)
        is_ready = usable > 0
        away = database == "unreachable"
        return json_response(
            {
                "ready": is_ready,
                "degraded": away,
                "credentials": len(gateway.pool),
                "usable": usable,
                "states": states,
                "database": database,
                **({"database_reason": database_reason(gateway)} if away else {}),
                "redis": await redis_status(gateway),
                **({} if usable else {"reason": gateway.pool.unavailable_reason()}),
            },
            status=200 if is_ready else 503,
        )

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        await check_metrics_access(request, gateway)
        return Response(metrics.render(), headers={"content-type": CONTENT_TYPE})

    return app
