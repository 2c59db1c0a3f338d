"""Fixed-path client routes skip the framework's layers and keep its error handling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx2
import orjson
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from kirogate.api.app import ObservedFastAPI
from kirogate.api.direct import DirectRoutes, dialect_refusal, direct_table
from kirogate.errors import InternalError, InvalidRequest
from kirogate.metrics import GatewayMetrics
from kirogate.service.shutdown import Shutdown


class GuardedRoute(APIRoute):
    """Like the admin API's route class: a check wrapped around the endpoint."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            if request.headers.get("x-guard") != "ok":
                return JSONResponse({"guard": "refused"}, status_code=401)
            return await handler(request)

        return guarded


class Recorder:
    """A framework-level middleware: it sees only what goes through FastAPI."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
        await self.app(scope, receive, send)


def build(seen: list[str], metrics: GatewayMetrics) -> ObservedFastAPI:
    app = ObservedFastAPI()
    app.observability = {"metrics": metrics}
    app.add_middleware(Recorder, seen=seen)

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        body = orjson.loads(await request.body())
        if body.get("bad"):
            raise InvalidRequest("messages: field required")
        return JSONResponse({"app": request.app is app, "route": request.scope["route"].path})

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        raise RuntimeError("kaboom")

    @app.get("/v1/models/{model_id}")
    async def model(request: Request, model_id: str) -> Response:
        return JSONResponse({"id": model_id})

    guarded = APIRouter(prefix="/api/admin", route_class=GuardedRoute)

    @guarded.get("/credentials")
    async def credentials(request: Request) -> Response:
        return JSONResponse({"credentials": []})

    app.include_router(guarded)
    return app


@pytest.fixture
def seen() -> list[str]:
    return []


@pytest.fixture
def metrics() -> GatewayMetrics:
    return GatewayMetrics()


@pytest.fixture
async def client(seen: list[str], metrics: GatewayMetrics) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=build(seen, metrics), raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def test_table_holds_plain_fixed_path_routes_only(seen: list[str], metrics: GatewayMetrics) -> None:
    table = direct_table(build(seen, metrics).router.routes)
    assert ("POST", "/v1/messages") in table
    assert ("POST", "/v1/chat/completions") in table
    assert not any(path.startswith("/api/admin") for _, path in table)
    assert not any("{" in path for _, path in table)


async def test_fixed_path_skips_the_framework(client: httpx2.AsyncClient, seen: list[str]) -> None:
    response = await client.post("/v1/messages", json={})
    assert response.status_code == 200
    assert response.json() == {"app": True, "route": "/v1/messages"}
    assert response.headers["x-request-id"]
    assert seen == []


async def test_errors_keep_the_dialect(client: httpx2.AsyncClient) -> None:
    response = await client.post("/v1/messages", json={"bad": True})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["type"] == "error"  # Anthropic's envelope

    response = await client.post("/v1/chat/completions", json={})
    assert response.status_code == 500
    # Issue #13 item 10: no class name (it was "internal error: RuntimeError"); the log has it.
    assert response.json()["error"]["message"] == InternalError.PLAIN
    assert "RuntimeError" not in response.text
    assert "type" not in response.json()  # OpenAI's envelope


async def test_everything_else_goes_through_the_framework(
    client: httpx2.AsyncClient, seen: list[str]
) -> None:
    assert (await client.get("/v1/models/m1")).json() == {"id": "m1"}
    assert (await client.get("/api/admin/credentials")).status_code == 401  # the guard ran
    wrong_method = await client.get("/v1/messages")
    assert wrong_method.status_code == 405
    assert seen == ["/v1/models/m1", "/api/admin/credentials", "/v1/messages"]


async def test_metrics_name_the_route(client: httpx2.AsyncClient, metrics: GatewayMetrics) -> None:
    await client.post("/v1/messages", json={})
    assert 'endpoint="/v1/messages"' in metrics.render().decode()


def test_the_gateway_dispatches_its_client_routes_directly() -> None:
    from kirogate.api.app import create_app
    from kirogate.api.direct import DirectRoutes
    from kirogate.service import Gateway
    from kirogate.settings import Settings

    app = create_app(Gateway(Settings(), []))
    stack = app.build_middleware_stack()
    recorder = stack.app  # type: ignore[attr-defined]
    direct = recorder.app  # the request log's body recorder comes first
    assert isinstance(direct, DirectRoutes)
    for key in [
        ("POST", "/v1/messages"),
        ("POST", "/cc/v1/messages"),
        ("POST", "/v1/messages/count_tokens"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/responses"),
        ("GET", "/v1/models"),
        ("GET", "/health"),
    ]:
        assert key in direct.table, key
    assert not any(path.startswith("/api/admin") for _, path in direct.table)


# ---------------------------------------------------------------- the stop (SIGTERM)

HANG_GUARD = 30.0


def stopping_app(stop: Shutdown, entered: asyncio.Event) -> DirectRoutes:
    """The client routes of :func:`build` behind a DirectRoutes that knows ``stop``, plus
    a direct and a framework route that wait until they are cancelled."""
    app = build([], GatewayMetrics())

    @app.post("/v1/responses")
    async def waits(request: Request) -> Response:
        entered.set()
        await asyncio.sleep(HANG_GUARD)
        return JSONResponse({})

    @app.get("/v1/responses/{response_id}")
    async def waits_too(request: Request, response_id: str) -> Response:
        entered.set()
        await asyncio.sleep(HANG_GUARD)
        return JSONResponse({})

    @app.get("/v1/stream")
    async def stream(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"data: first\n\n"
            entered.set()
            await asyncio.sleep(HANG_GUARD)
            yield b"data: never\n\n"

        return StreamingResponse(body(), media_type="text/event-stream")

    routes = [*app.router.routes]
    return DirectRoutes(app, routes, max_body_size=1 << 20, refusal=dialect_refusal, shutdown=stop)


async def _cut_while_waiting(path: str, method: str = "POST") -> httpx2.Response:
    stop = Shutdown(0.0, settle=0.0)
    entered = asyncio.Event()
    transport = httpx2.ASGITransport(app=stopping_app(stop, entered), raise_app_exceptions=True)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        sent = asyncio.ensure_future(client.request(method, path, json={}))
        await asyncio.wait_for(entered.wait(), HANG_GUARD)
        stop.cut()
        response = await asyncio.wait_for(sent, HANG_GUARD)
    stop.close()
    assert stop.in_flight == 0
    return response


async def test_requests_after_the_stop_began_get_503_in_their_dialect() -> None:
    stop = Shutdown(HANG_GUARD)
    stop.begin()
    transport = httpx2.ASGITransport(app=stopping_app(stop, asyncio.Event()))
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        anthropic = await client.post("/v1/messages", json={})
        openai = await client.post("/v1/chat/completions", json={})
    stop.close()
    assert anthropic.status_code == 503
    assert anthropic.json()["error"]["type"] == "overloaded_error"
    assert openai.status_code == 503
    assert openai.json()["error"]["code"] == "shutting_down"


async def test_a_request_cut_before_its_response_gets_503() -> None:
    response = await _cut_while_waiting("/v1/responses")
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "server_error"


async def test_a_framework_route_cut_before_its_response_gets_503() -> None:
    response = await _cut_while_waiting("/v1/responses/r1", "GET")
    assert response.status_code == 503


async def test_a_response_cut_after_it_started_ends_quietly() -> None:
    response = await _cut_while_waiting("/v1/stream", "GET")
    assert response.status_code == 200
    assert response.text == "data: first\n\n"


async def test_without_a_stop_cancellation_propagates() -> None:
    entered = asyncio.Event()
    app = stopping_app(Shutdown(0.0), entered)
    app.shutdown = None
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        sent = asyncio.ensure_future(client.post("/v1/responses", json={}))
        await asyncio.wait_for(entered.wait(), HANG_GUARD)
        sent.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sent
