"""The client API's fixed-path routes, dispatched without the framework's layers.

FastAPI runs every request through its router, dependency solver and a stack of middleware
(server errors, exception handlers, body limit, exit stack), each a coroutine that wraps
``send``. A streamed answer resumes that whole stack for every upstream chunk and passes
each write through every wrapper. Our client endpoints take only the request and return a
response, so :class:`DirectRoutes` sends ``POST /v1/messages`` and the other fixed paths
straight to their endpoint with the same error handling (an error becomes the dialect's
error JSON) and leaves everything else (other methods, path parameters, the admin API,
404s) to FastAPI. The route object still lands in ``scope["route"]``, so metrics and logs
name the same route template.

Every HTTP request passes here first, so the body bound (:mod:`kirogate.api.limits`) is
checked here too: one header lookup and a length compare per request. So is the stop
(:mod:`kirogate.service.shutdown`): once it has begun new requests get 503, and a request
cancelled at the end of the grace period ends here without a traceback, with a 503 when
nothing was sent yet.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kirogate.api.errors import Dialect, client_facing, dialect_for_path, error_response
from kirogate.api.limits import bounded_receive, declared_length, too_large
from kirogate.api.request_log import log_refusal
from kirogate.errors import InternalError, KirogateError, ShuttingDown
from kirogate.service.shutdown import CUT_MESSAGE, REFUSE_MESSAGE, Shutdown

log = logging.getLogger(__name__)


# How a refusal made before any route ran is drawn: ``(path, error) -> response``.
Refusal = Callable[[str, KirogateError], Response]


def dialect_refusal(path: str, exc: KirogateError) -> Response:
    return error_response(exc, dialect_for_path(path))


def error_for(request: Request, exc: Exception) -> Response:
    """The client's error JSON for an exception an endpoint raised (and, for a client
    route, its request-log row: every client route's errors pass here)."""
    if not isinstance(exc, KirogateError):
        log.exception("unexpected error on %s %s", request.method, request.scope["path"])
        exc = InternalError()
    dialect = dialect_for_path(request.scope["path"])
    response = error_response(exc, dialect)
    if dialect is not Dialect.ADMIN:
        log_refusal(request, client_facing(exc), response.status_code)
    return response


def _takes_only_request(endpoint: Callable[..., Any]) -> bool:
    params = list(inspect.signature(endpoint).parameters.values())
    return len(params) == 1 and params[0].kind is not inspect.Parameter.VAR_POSITIONAL


def direct_table(routes: Iterable[Any]) -> dict[tuple[str, str], APIRoute]:
    """``(method, path)`` -> route for every fixed-path route whose endpoint takes only the
    request; anything else stays with the framework. Only plain :class:`APIRoute`: a
    subclass (the admin API's) wraps its endpoint in checks that must not be skipped."""
    table: dict[tuple[str, str], APIRoute] = {}
    for route in routes:
        if type(route) is not APIRoute or "{" in route.path:
            continue
        if not _takes_only_request(route.endpoint):
            continue
        for method in route.methods or ():
            table.setdefault((method, route.path), route)
    return table


# Seconds a cut response may take to send its end; a client that reads nothing gets none.
END_BODY_TIMEOUT = 0.5


async def _end_body(send: Send) -> None:
    """End a started response that was cut (the body so far stays as it is)."""
    try:
        async with asyncio.timeout(END_BODY_TIMEOUT):
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    except TimeoutError:
        log.info("a cut response could not be ended: its client reads nothing")
    except RuntimeError:  # the server says it was never started or already ended
        pass


class DirectRoutes:
    """ASGI middleware: the routes of :func:`direct_table` without the framework (see the
    module docstring); ``app`` gets every other request, the lifespan included. A body over
    ``max_body_size`` bytes is refused with 413, drawn by ``refusal``; so are requests
    once ``shutdown`` has begun (503)."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Iterable[Any],
        *,
        max_body_size: int,
        refusal: Refusal = dialect_refusal,
        shutdown: Shutdown | None = None,
    ) -> None:
        self.app = app
        self.table = direct_table(routes)
        self.max_body_size = max_body_size
        self.refusal = refusal
        self.shutdown = shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        shutdown = self.shutdown
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif shutdown is None:
            await self._http(scope, receive, send)
        elif shutdown.begun:
            refused = self.refusal(scope["path"], ShuttingDown(REFUSE_MESSAGE))
            await refused(scope, receive, send)
        else:
            with shutdown.request():
                await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = declared_length(scope)
        if length is None:
            receive = bounded_receive(receive, self.max_body_size)
        elif length > self.max_body_size:
            refused = self.refusal(scope["path"], too_large(self.max_body_size))
            await refused(scope, receive, send)
            return
        route = self.table.get((scope["method"], scope["path"]))
        if route is None:
            await self._framework(scope, receive, send)
            return
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {}
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            response = error_for(request, exc)
        except asyncio.CancelledError:
            if not self._cut_off():
                raise
            response = self.refusal(scope["path"], ShuttingDown(CUT_MESSAGE))
        try:
            await response(scope, receive, send)
        except asyncio.CancelledError:
            if not self._cut_off():
                raise
            await _end_body(send)

    async def _framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The framework's routes; without a stop nothing is added to their ``send``."""
        if self.shutdown is None:
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, send_noting)
        except asyncio.CancelledError:
            if not self._cut_off():
                raise
            if not started:
                refused = self.refusal(scope["path"], ShuttingDown(CUT_MESSAGE))
                await refused(scope, receive, send)
            else:
                await _end_body(send)

    def _cut_off(self) -> bool:
        """For a ``CancelledError``: whether the stop cancelled the request (and only it)."""
        shutdown = self.shutdown
        if shutdown is None or not shutdown.withdraw():
            return False
        log.info("request ended: the shutdown grace period is over")
        return True
