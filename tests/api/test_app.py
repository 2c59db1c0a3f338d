"""The ASGI application: its routes and state, the lifespan that starts and closes the
gateway, and the answers for paths and methods no route takes (the probes' answers are in
tests/api/test_probes.py, /metrics' access in tests/api/test_metrics.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx2
import pytest
from starlette.requests import Request

from kirogate.api import app as app_module
from kirogate.api.app import (
    create_app,
    credential_counts,
    missing_v1,
    not_found,
)
from kirogate.api.direct import dialect_refusal as refusal
from kirogate.api.errors import Dialect
from kirogate.errors import PermissionDenied
from kirogate.metrics import CREDENTIAL_STATES, GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential

KEY = "app-test-client-key"


def credential(cid: int, *, disabled: bool = False) -> Credential:
    return Credential(
        AuthMethod.SOCIAL, refresh_token=f"aorAAAAA{cid}" + "q" * 120, id=cid, disabled=disabled
    )


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway(load_settings({}, {"server.api_keys": (KEY,)}), [credential(1), credential(2, disabled=True)])  # fmt: skip
    yield gw
    await gw.close()


def client(gateway: Gateway) -> httpx2.AsyncClient:
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    return httpx2.AsyncClient(transport=transport, base_url="http://test")


def request(path: str, method: str = "GET") -> Request:
    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b"",
             "server": ("gw", 8990), "scheme": "http", "root_path": ""}  # fmt: skip
    return Request(scope)


@pytest.mark.parametrize(
    ("path", "missing"),
    [("/chat/completions", True), ("/responses/resp_1", True), ("/models/", True),
     ("/models/claude", True), ("/embeddings", True), ("/v1/chat/completions", False),
     ("/messages", False), ("/responsesx", False)],
)  # fmt: skip
def test_openai_routes_asked_without_v1_are_recognised(path: str, missing: bool) -> None:
    assert missing_v1(path) is missing


def test_not_found_names_the_base_url_to_use() -> None:
    error, dialect = not_found(request("/chat/completions", "POST"))
    assert dialect is Dialect.OPENAI and "http://gw:8990/v1" in error.message
    error, dialect = not_found(request("/v1/v1/messages", "POST"))
    assert dialect is Dialect.ANTHROPIC and "once too often" in error.message
    error, dialect = not_found(request("/v1/v1/chat/completions", "POST"))
    assert dialect is Dialect.OPENAI
    error, _ = not_found(request("/nowhere"))
    assert error.message == "no route for GET /nowhere" and error.status == 404


def test_refusals_before_routing_use_the_admin_envelope_or_the_dialect() -> None:
    exc = PermissionDenied("blocked")
    admin = json.loads(refusal("/api/admin/credentials", exc).body)
    assert admin == {"error": {"type": "permission_error", "message": "blocked"}}
    anthropic = json.loads(refusal("/v1/messages", exc).body)
    assert anthropic["type"] == "error" and anthropic["error"]["message"] == "blocked"
    openai = json.loads(refusal("/v1/chat/completions", exc).body)
    assert openai["error"]["message"] == "blocked" and "param" in openai["error"]


def test_credential_counts_name_every_state(gateway: Gateway) -> None:
    counts = credential_counts(gateway)
    assert set(CREDENTIAL_STATES) <= set(counts)
    assert sum(counts.values()) == 2
    assert counts["disabled"] == 1


@pytest.mark.parametrize(
    ("host", "loopback"),
    [(None, True), ("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("10.0.0.1", False), ("2001:db8::1", False), ("gateway.example", False)],
)  # fmt: skip
def test_loopback_covers_unix_sockets_and_every_loopback_address(
    host: str | None, loopback: bool
) -> None:
    assert app_module._loopback(host) is loopback


async def test_a_wrong_method_is_405_in_the_paths_dialect(gateway: Gateway) -> None:
    async with client(gateway) as http:
        openai = await http.get("/v1/chat/completions", headers={"x-api-key": KEY})
        anthropic = await http.put("/health")
    assert openai.status_code == 405
    assert "GET is not allowed on /v1/chat/completions" in openai.json()["error"]["message"]
    assert anthropic.status_code == 405 and anthropic.json()["type"] == "error"


async def test_unknown_admin_paths_answer_in_the_admin_envelope(gateway: Gateway) -> None:
    async with client(gateway) as http:
        reply = await http.get("/api/admin/nothing")
    assert reply.status_code == 404
    assert set(reply.json()["error"]) == {"type", "message"}


async def test_the_lifespan_starts_the_gateway_and_closes_it(gateway: Gateway) -> None:
    metrics = GatewayMetrics()
    app = create_app(gateway, metrics=metrics, environ={})
    assert app.state.gateway is gateway and app.state.metrics is metrics
    async with app.router.lifespan_context(app):
        assert "kirogate_credentials" in metrics.render().decode()
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://test"
        ) as http:
            assert (await http.get("/health")).status_code == 200


def test_a_requested_exporter_without_the_sdk_is_turned_off_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(app_module, "otel_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="kirogate.api.app"):
        options = app_module._telemetry_kwargs({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, None)  # fmt: skip
    assert "pip install 'kirogate[otel]'" in caplog.text
    assert all(not value.get("auto_configure") for value in options.values())


def test_telemetry_overrides_win_over_the_environment() -> None:
    options = app_module._telemetry_kwargs({}, {"logs": True})
    assert all(value["logs"] is True for value in options.values())
