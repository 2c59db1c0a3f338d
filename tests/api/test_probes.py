"""``/health`` (liveness) and ``/ready`` (a usable credential and a reachable database)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx2
import pytest

from kirogate import __version__
from kirogate.api import app as app_module
from kirogate.api.app import create_app
from kirogate.cluster.outage import DatabaseWatch
from kirogate.errors import ConfigError
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential


def credential(cid: int, *, disabled: bool = False) -> Credential:
    return Credential(
        AuthMethod.SOCIAL, refresh_token=f"aorAAAAA{cid}" + "r" * 120, id=cid, disabled=disabled
    )


class FakeStore:
    def __init__(self, error: Exception | None = None, delay: float = 0.0) -> None:
        self.error = error
        self.delay = delay
        self.pings = 0

    async def ping(self) -> None:
        self.pings += 1
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error

    async def close(self) -> None:
        pass


async def client_for(gateway: Gateway) -> httpx2.AsyncClient:
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    return httpx2.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway(load_settings({}), [credential(1), credential(2)])
    yield gw
    await gw.close()


async def test_health_answers_with_the_version(gateway: Gateway) -> None:
    async with await client_for(gateway) as http:
        response = await http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


async def test_healthz_answers_like_health(gateway: Gateway) -> None:
    async with await client_for(gateway) as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


async def test_version_answers_the_version_json(gateway: Gateway) -> None:
    async with await client_for(gateway) as http:
        response = await http.get("/version")
    assert response.status_code == 200
    assert response.json() == {"name": "kirogate", "version": __version__}


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/chat/completions"), ("POST", "/responses"), ("GET", "/models"),
     ("GET", "/responses/resp_1"), ("POST", "/completions")],
)  # fmt: skip
async def test_openai_route_without_v1_is_a_404_saying_to_add_v1(
    gateway: Gateway, method: str, path: str
) -> None:
    async with await client_for(gateway) as http:
        response = await http.request(method, path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] is None
    assert "need /v1 at the end of the base URL (http://test/v1)" in error["message"]


async def test_a_doubled_v1_is_a_404_naming_both_base_urls(gateway: Gateway) -> None:
    async with await client_for(gateway) as http:
        response = await http.post("/v1/v1/messages")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "not_found_error"
    assert "Anthropic clients take http://test, OpenAI clients http://test/v1" in error["message"]


async def test_an_unknown_path_is_a_plain_404_and_its_reason_is_logged(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kirogate.access")
    async with await client_for(gateway) as http:
        response = await http.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no route for GET /nowhere"
    [line] = [r.getMessage() for r in caplog.records if r.name == "kirogate.access"]
    assert line.endswith("not_found_error: no route for GET /nowhere")


async def test_ready_with_credentials_and_no_database(gateway: Gateway) -> None:
    async with await client_for(gateway) as http:
        response = await http.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["credentials"] == 2
    assert body["usable"] == 2
    assert body["states"] == {"ready": 2, "busy": 0, "cooling": 0, "disabled": 0}
    assert body["database"] == "none"


async def test_not_ready_without_credentials() -> None:
    gw = Gateway(load_settings({}), [])
    async with await client_for(gw) as http:
        response = await http.get("/ready")
    await gw.close()
    assert response.status_code == 503
    assert response.json()["ready"] is False


async def test_not_ready_when_every_credential_is_disabled() -> None:
    gw = Gateway(load_settings({}), [credential(1)])
    gw.pool.disable(1)
    async with await client_for(gw) as http:
        response = await http.get("/ready")
    await gw.close()
    assert response.status_code == 503
    assert response.json()["states"]["disabled"] == 1


async def test_ready_when_the_database_answers(gateway: Gateway) -> None:
    store = FakeStore()
    gateway.store = store  # type: ignore[attr-defined]
    async with await client_for(gateway) as http:
        response = await http.get("/ready")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert store.pings == 1


async def test_ready_but_degraded_when_the_database_fails_and_the_cause_stays_in_the_log(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.store = FakeStore(ConfigError("postgresql://kg:***@db/kg: connection refused"))  # type: ignore[attr-defined]
    async with await client_for(gateway) as http:
        response = await http.get("/ready")
    # The credentials still serve from memory: a load balancer must keep sending traffic
    # (this answered 503 before; docs/scaling.md, "If the database stops answering").
    assert response.status_code == 200
    assert response.json()["degraded"] is True
    assert "database" in response.json()["database_reason"]
    assert response.json()["database"] == "unreachable"
    assert "connection refused" not in response.text
    assert any("connection refused" in r.getMessage() for r in caplog.records)


async def test_degraded_when_the_database_hangs(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "READY_DATABASE_TIMEOUT", 0.05)
    gateway.store = FakeStore(delay=5)  # type: ignore[attr-defined]
    async with await client_for(gateway) as http:
        response = await http.get("/ready")
    assert response.status_code == 200  # was 503: see the test above
    assert response.json()["degraded"] is True
    assert response.json()["database"] == "unreachable"


async def test_ready_reads_the_database_watch_without_pinging(gateway: Gateway) -> None:
    store = FakeStore(delay=60)
    gateway.store = store  # type: ignore[attr-defined]
    watch = DatabaseWatch(store.ping)
    gateway.database = watch
    async with await client_for(gateway) as http:
        response = await http.get("/ready")
        assert response.json()["database"] == "ok"
        watch.failed("a ping", TimeoutError())
        response = await http.get("/ready")
    assert store.pings == 0
    assert response.status_code == 200
    body = response.json()
    assert (body["ready"], body["degraded"], body["database"]) == (True, True, "unreachable")
    assert body["database_reason"].startswith("the database has not answered for")


class FakeRedis:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def ping(self) -> bool:
        if self.error is not None:
            raise self.error
        return True


class FakeCluster:
    def __init__(self, redis: FakeRedis | None) -> None:
        self.redis = redis

    async def close(self) -> None:
        pass


async def test_ready_says_redis_is_none_without_one(gateway: Gateway) -> None:
    async with await client_for(gateway) as http:
        response = await http.get("/ready")
    assert response.json()["redis"] == "none"


async def test_ready_says_redis_answers(gateway: Gateway) -> None:
    gateway.cluster = FakeCluster(FakeRedis())  # type: ignore[assignment]
    async with await client_for(gateway) as http:
        response = await http.get("/ready")
    assert response.json()["redis"] == "ok"


async def test_redis_away_is_reported_but_the_gateway_stays_ready(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.cluster = FakeCluster(FakeRedis(ConnectionError("redis://cache:6379 refused")))  # type: ignore[assignment]
    async with await client_for(gateway) as http:
        response = await http.get("/ready")
    assert response.status_code == 200
    assert response.json()["redis"] == "unreachable"
    assert "refused" not in response.text
    assert any("Redis is unreachable" in r.getMessage() for r in caplog.records)
