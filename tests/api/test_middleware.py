"""The observability middleware: request ids, metrics by route template, the access log."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from kirogate.api.app import ObservedFastAPI
from kirogate.api.middleware import (
    ObservabilityMiddleware,
    error_reason,
    escape_controls,
    incoming_request_id,
    new_request_id,
    telemetry_config,
    tracing_requested,
)
from kirogate.log import REQUEST_ID
from kirogate.metrics import GatewayMetrics


def build_app(metrics: GatewayMetrics, seen: dict[str, Any]) -> FastAPI:
    app = ObservedFastAPI()
    app.observability = {"metrics": metrics}

    @app.get("/items/{item_id}")
    async def item(request: Request, item_id: str) -> Response:
        seen["handler_id"] = REQUEST_ID.get()
        seen["state_id"] = request.state.request_id
        logging.getLogger("tests.handler").info("handling %s", item_id)
        return JSONResponse({"id": item_id})

    @app.get("/stream")
    async def stream() -> Response:
        async def body() -> AsyncIterator[bytes]:
            seen["stream_id"] = REQUEST_ID.get()
            yield b"event: a\ndata: 1\n\n"
            await asyncio.sleep(0.01)
            yield b"event: b\ndata: 22\n\n"

        return StreamingResponse(body(), media_type="text/event-stream")

    @app.get("/text")
    async def text() -> Response:
        return PlainTextResponse("hello", headers={"x-request-id": "set-by-route"})

    @app.get("/boom")
    async def boom() -> Response:
        raise RuntimeError("kaboom")

    @app.get("/health")
    async def health() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/refused")
    async def refused() -> Response:
        body = {"type": "error", "error": {"type": "invalid_request_error",
                "message": "messages[1].role: Input should be 'user'\nFAKE 200 line"}}  # fmt: skip
        return JSONResponse(body, status_code=400)

    @app.get("/overloaded")
    async def overloaded() -> Response:
        body = {"error": {"message": "upstream busy", "type": "overloaded_error", "code": None}}
        return JSONResponse(body, status_code=529)

    return app


@pytest.fixture
def metrics() -> GatewayMetrics:
    return GatewayMetrics()


@pytest.fixture
def seen() -> dict[str, Any]:
    return {}


@pytest.fixture
async def client(
    metrics: GatewayMetrics, seen: dict[str, Any]
) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(
        app=build_app(metrics, seen), raise_app_exceptions=False, client=("10.1.2.3", 5555)
    )
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def sample(metrics: GatewayMetrics, line_start: str) -> float | None:
    for line in metrics.render().decode().splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_new_request_ids_are_short_hex_and_unique() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        (b"abc-123", "abc-123"),
        (b"0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        (b"has space", None),
        (b'quote"d', None),
        (b"a" * 129, None),
        (b"line\nbreak", None),
        ("caf\u00e9".encode(), None),
        (b"", None),
    ],
)
def test_incoming_request_id_is_kept_only_when_sane(header: bytes, kept: str | None) -> None:
    assert incoming_request_id({"headers": [(b"x-request-id", header)]}) == kept


async def test_response_carries_a_generated_request_id(client: httpx2.AsyncClient) -> None:
    response = await client.get("/items/7")
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"])


async def test_sane_incoming_request_id_is_echoed_and_used_in_the_handler(
    client: httpx2.AsyncClient, seen: dict[str, Any]
) -> None:
    response = await client.get("/items/7", headers={"X-Request-Id": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    assert seen["handler_id"] == "trace-42"
    assert seen["state_id"] == "trace-42"


async def test_insane_incoming_request_id_is_replaced(client: httpx2.AsyncClient) -> None:
    response = await client.get("/items/7", headers={"X-Request-Id": "a b c"})
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["x-request-id"])


async def test_request_id_reaches_the_streaming_body_and_is_reset_after(
    client: httpx2.AsyncClient, seen: dict[str, Any]
) -> None:
    response = await client.get("/stream", headers={"X-Request-Id": "stream-1"})
    assert response.status_code == 200
    assert seen["stream_id"] == "stream-1"
    assert REQUEST_ID.get() is None


async def test_a_route_cannot_duplicate_the_request_id_header(client: httpx2.AsyncClient) -> None:
    response = await client.get("/text", headers={"X-Request-Id": "mine"})
    assert response.headers.get_list("x-request-id") == ["mine"]


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx2.AsyncClient, metrics: GatewayMetrics
) -> None:
    for item in ("1", "2", "3"):
        await client.get(f"/items/{item}")
    await client.get("/no/such/path")
    await client.get("/also/missing")
    text = metrics.render().decode()
    assert 'kirogate_requests_total{endpoint="/items/{item_id}",status="200"} 3' in text
    assert 'kirogate_requests_total{endpoint="unmatched",status="404"} 2' in text
    assert "/items/1" not in text
    assert 'kirogate_request_duration_seconds_count{endpoint="/items/{item_id}"} 3' in text


async def test_unexpected_error_is_a_counted_500_with_a_request_id(
    client: httpx2.AsyncClient, metrics: GatewayMetrics
) -> None:
    response = await client.get("/boom", headers={"X-Request-Id": "boom-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "boom-1"
    assert sample(metrics, 'kirogate_requests_total{endpoint="/boom",status="500"}') == 1


async def test_ttft_is_observed_for_event_streams_only(
    client: httpx2.AsyncClient, metrics: GatewayMetrics
) -> None:
    await client.get("/stream")
    await client.get("/text")
    text = metrics.render().decode()
    assert 'kirogate_ttft_seconds_count{endpoint="/stream"} 1' in text
    assert 'kirogate_ttft_seconds_count{endpoint="/text"}' not in text


async def test_inflight_gauge_returns_to_zero(
    client: httpx2.AsyncClient, metrics: GatewayMetrics
) -> None:
    await asyncio.gather(*(client.get("/stream") for _ in range(5)))
    assert sample(metrics, "kirogate_inflight_requests") == 0


async def test_access_line_has_the_structured_fields(
    client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kirogate.access")
    await client.get("/stream?key=secret-in-query", headers={"X-Request-Id": "acc-1"})
    [record] = [r for r in caplog.records if r.name == "kirogate.access"]
    assert record.levelno == logging.INFO
    fields: dict[str, Any] = record.__dict__
    assert fields["method"] == "GET"
    assert fields["path"] == "/stream"
    assert fields["endpoint"] == "/stream"
    assert fields["status"] == 200
    assert fields["bytes"] == len(b"event: a\ndata: 1\n\n") + len(b"event: b\ndata: 22\n\n")
    assert fields["client_ip"] == "10.1.2.3"
    assert fields["outcome"] == "ok"
    assert fields["duration_ms"] >= 10.0
    assert "secret-in-query" not in record.getMessage()
    assert record.getMessage().startswith("GET /stream 200 ")


async def test_probe_requests_are_logged_at_debug(
    client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kirogate.access")
    await client.get("/health")
    [record] = [r for r in caplog.records if r.name == "kirogate.access"]
    assert record.levelno == logging.DEBUG


# ---------------------------------------------------------------- raw ASGI edge cases


async def _drive(app: Any, scope_extra: dict[str, Any] | None = None) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "client": ("::1", 1)}
    await app(scope | (scope_extra or {}), receive, send)
    return sent


async def test_stream_cut_short_is_logged_as_client_closed(
    metrics: GatewayMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        # Starlette returns like this when the client disconnects mid-stream.

    caplog.set_level(logging.INFO, logger="kirogate.access")
    await _drive(ObservabilityMiddleware(app, metrics=metrics))
    [record] = [r for r in caplog.records if r.name == "kirogate.access"]
    assert record.__dict__["outcome"] == "client_closed"
    assert record.__dict__["bytes"] == 7


async def test_cancelled_before_any_response_counts_as_499(metrics: GatewayMetrics) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await _drive(ObservabilityMiddleware(app, metrics=metrics))
    assert sample(metrics, 'kirogate_requests_total{endpoint="unmatched",status="499"}') == 1
    assert sample(metrics, "kirogate_inflight_requests") == 0


async def test_crash_before_any_response_counts_as_500_and_propagates(
    metrics: GatewayMetrics,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await _drive(ObservabilityMiddleware(app, metrics=metrics))
    assert sample(metrics, 'kirogate_requests_total{endpoint="unmatched",status="500"}') == 1
    assert REQUEST_ID.get() is None


async def test_non_http_scopes_pass_through_untouched(metrics: GatewayMetrics) -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["type"])

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        pass

    await ObservabilityMiddleware(app, metrics=metrics)({"type": "lifespan"}, receive, send)
    assert calls == ["lifespan"]
    assert "kirogate_requests_total{" not in metrics.render().decode()


# ---------------------------------------------------------------- OpenTelemetry


def test_tracing_is_requested_only_with_an_otlp_endpoint() -> None:
    assert not tracing_requested({})
    assert tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing_requested({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert not tracing_requested(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
    )


def test_telemetry_config_keeps_metrics_and_logs_export_off() -> None:
    config = telemetry_config({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert config["auto_configure"] is True
    assert config["metrics"] is False
    assert config["logs"] is False
    assert config["exclude"]({"path": "/health"}) is True
    assert config["exclude"]({"path": "/v1/messages"}) is False
    assert telemetry_config({})["auto_configure"] is False


async def test_spans_carry_the_request_id_when_a_tracer_provider_is_set() -> None:
    pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from kirogate.api.app import create_app
    from kirogate.service import Gateway
    from kirogate.settings import load_settings

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(
        Gateway(load_settings({}), []),
        metrics=GatewayMetrics(),
        environ={},
        telemetry={"tracer_provider": provider},
    )
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
        await http.get("/v1/models", headers={"X-Request-Id": "span-1"})
        await http.get("/health")
    server_spans = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert [s.attributes.get("kirogate.request_id") for s in server_spans] == ["span-1"]
    assert "/v1/models" in server_spans[0].name


async def test_a_4xx_answer_logs_its_error_type_and_message_at_info(
    client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kirogate.access")
    await client.get("/refused")
    [record] = [r for r in caplog.records if r.name == "kirogate.access"]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert message.startswith("GET /refused 400 ")
    assert "invalid_request_error: messages[1].role: Input should be 'user'" in message
    assert record.error_type == "invalid_request_error"  # type: ignore[attr-defined]


async def test_control_characters_in_an_error_message_cannot_forge_a_log_line(
    client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kirogate.access")
    await client.get("/refused")
    [record] = [r for r in caplog.records if r.name == "kirogate.access"]
    assert "\n" not in record.getMessage()
    assert "'user'\\nFAKE 200 line" in record.getMessage()


async def test_a_5xx_answer_logs_its_reason_at_warning(
    client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kirogate.access")
    await client.get("/overloaded")
    [record] = [r for r in caplog.records if r.name == "kirogate.access"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().endswith("overloaded_error: upstream busy")


async def test_a_success_carries_no_error_reason(
    client: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kirogate.access")
    await client.get("/items/7")
    [record] = [r for r in caplog.records if r.name == "kirogate.access"]
    assert record.error_type is None  # type: ignore[attr-defined]
    assert record.getMessage().endswith("client=10.1.2.3")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"type":"error","error":{"type":"not_found_error","message":"no"}}', ("not_found_error", "no")),
        (b'{"error":{"message":"bad key","type":"invalid_request_error"}}', ("invalid_request_error", "bad key")),
        (b'{"error":{"type":"internal_error"}}', ("internal_error", "")),
        (b"Internal Server Error", None),
        (b'{"ready":false}', None),
        (b'{"error":"a string"}', None),
        (b"[1, 2]", None),
    ],
)  # fmt: skip
def test_error_reason_reads_only_the_envelope(body: bytes, reason: tuple[str, str] | None) -> None:
    assert error_reason(body) == reason


def test_escape_controls_keeps_one_line_and_cuts_long_text() -> None:
    assert escape_controls("a\r\nb\x1b[31m\u2028c") == "a\\r\\nb\\x1b[31m\\u2028c"
    assert escape_controls("x" * 900, 20) == "x" * 17 + "..."


async def test_every_response_carries_the_security_headers(client: httpx2.AsyncClient) -> None:
    for path in ("/text", "/stream", "/no-such-path"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "no-referrer", path
        assert response.headers["x-frame-options"] == "DENY", path
