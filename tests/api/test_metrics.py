"""The gateway's metrics in the text exposition, and ``GET /metrics``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.metrics import CONTENT_TYPE, GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings

# One exposition line: a comment or a sample `name{labels} value`.
_LABELS = r'\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\}'
_VALUE = r"(?:[-+]?(?:\d+(?:\.\d*)?(?:e[-+]?\d+)?|Inf)|NaN)"
_SAMPLE = re.compile(rf"[a-zA-Z_:][a-zA-Z0-9_:]*(?:{_LABELS})? {_VALUE}")
_COMMENT = re.compile(
    r"# (?:HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "
    r"(?:counter|gauge|histogram|untyped))"
)


def assert_valid_exposition(body: bytes) -> list[str]:
    text = body.decode("utf-8")
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    for line in lines:
        assert _COMMENT.fullmatch(line) or _SAMPLE.fullmatch(line), f"bad line: {line!r}"
    return lines


# ---------------------------------------------------------------- gateway metrics


def test_gateway_metrics_methods_feed_their_series() -> None:
    metrics = GatewayMetrics()
    metrics.observe_ttft("/v1/messages", 0.3)
    metrics.add_tokens(input=120, output=30)
    metrics.add_tokens(input=-5, output=0)
    metrics.upstream_error("UpstreamThrottled")
    metrics.upstream_error("UpstreamThrottled")
    metrics.refresh("ok")
    metrics.refresh("invalid_grant")
    metrics.set_credential_source(lambda: {"ready": 2, "cooling": 1})
    lines = assert_valid_exposition(metrics.render())
    assert 'kirogate_ttft_seconds_count{endpoint="/v1/messages"} 1.0' in lines
    assert 'kirogate_ttft_seconds_bucket{endpoint="/v1/messages",le="0.25"} 0.0' in lines
    assert 'kirogate_ttft_seconds_bucket{endpoint="/v1/messages",le="0.5"} 1.0' in lines
    assert 'kirogate_tokens_total{direction="input"} 120.0' in lines
    assert 'kirogate_tokens_total{direction="output"} 30.0' in lines
    assert 'kirogate_upstream_errors_total{class="UpstreamThrottled"} 2.0' in lines
    assert 'kirogate_refreshes_total{outcome="invalid_grant"} 1.0' in lines
    assert 'kirogate_refreshes_total{outcome="ok"} 1.0' in lines
    for state, count in (("ready", 2), ("cooling", 1), ("busy", 0), ("disabled", 0)):
        assert f'kirogate_credentials{{state="{state}"}} {count}.0' in lines
    assert any(line.startswith('kirogate_build_info{version="') for line in lines)


def test_request_counting_pairs_inflight_and_duration() -> None:
    metrics = GatewayMetrics()
    metrics.request_started()
    assert "kirogate_inflight_requests 1.0" in metrics.render().decode()
    metrics.request_finished("/v1/messages", 200, 1.5)
    lines = metrics.render().decode().splitlines()
    assert "kirogate_inflight_requests 0.0" in lines
    assert 'kirogate_requests_total{endpoint="/v1/messages",status="200"} 1.0' in lines
    assert 'kirogate_request_duration_seconds_sum{endpoint="/v1/messages"} 1.5' in lines


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_process_metrics_come_from_proc() -> None:
    text = GatewayMetrics().render().decode()
    for name in (
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_start_time_seconds",
    ):
        value = next(float(s.split()[1]) for s in text.splitlines() if s.startswith(name + " "))
        assert value > 0, name
    assert "# TYPE process_cpu_seconds_total counter" in text


# ---------------------------------------------------------------- GET /metrics


@pytest.fixture
def metrics() -> GatewayMetrics:
    return GatewayMetrics()


async def _client(
    metrics: GatewayMetrics, *, admin_key: str | None = None, ip: str = "127.0.0.1"
) -> httpx2.AsyncClient:
    settings = load_settings({}, {"server.admin_key": admin_key})
    app = create_app(Gateway(settings, []), metrics=metrics, environ={})
    transport = httpx2.ASGITransport(app=app, client=(ip, 4000))
    return httpx2.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def local(metrics: GatewayMetrics) -> AsyncIterator[httpx2.AsyncClient]:
    async with await _client(metrics) as http:
        yield http


async def test_metrics_are_open_to_localhost_without_an_admin_key(
    local: httpx2.AsyncClient,
) -> None:
    await local.get("/health")
    response = await local.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    lines = assert_valid_exposition(response.content)
    assert 'kirogate_requests_total{endpoint="/health",status="200"} 1.0' in lines


@pytest.mark.parametrize("ip", ["::1", "127.0.0.9"])
async def test_any_loopback_address_may_scrape(metrics: GatewayMetrics, ip: str) -> None:
    async with await _client(metrics, ip=ip) as http:
        assert (await http.get("/metrics")).status_code == 200


async def test_remote_scrape_without_an_admin_key_is_refused(metrics: GatewayMetrics) -> None:
    async with await _client(metrics, ip="203.0.113.7") as http:
        response = await http.get("/metrics")
    assert response.status_code == 403
    assert "KIROGATE_ADMIN_KEY" in response.json()["error"]["message"]


async def test_admin_key_is_required_when_configured(metrics: GatewayMetrics) -> None:
    async with await _client(metrics, admin_key="admin-secret-1", ip="127.0.0.1") as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await http.get("/metrics", headers={"Authorization": "Bearer admin-secret-1"})
        assert right.status_code == 200


async def test_admin_key_lets_remote_scrapers_in(metrics: GatewayMetrics) -> None:
    async with await _client(metrics, admin_key="admin-secret-1", ip="203.0.113.7") as http:
        response = await http.get("/metrics", headers={"x-api-key": "admin-secret-1"})
    assert response.status_code == 200
