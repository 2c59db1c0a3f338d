"""The admin key check and the route class: off without a key, 401 with a wrong one, and every
failure in the kiro.rs admin envelope."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI

from kirogate import admin
from kirogate.errors import InternalError
from kirogate.service import Gateway
from kirogate.settings import ServerSettings, Settings
from tests.admin.fakes import (
    ACCESS,
    ADMIN_KEY,
    CLIENT_KEY,
    ROUTES,
    FakeGateway,
    app_for,
    call,
    fixture_credentials,
    key,
)
from tests.pool.fakes import FakeTime, make_pool

# ---------------------------------------------------------------- switch and key


@pytest.mark.parametrize("configured", [None, "", "   "])
async def test_every_route_is_404_with_how_to_turn_it_on_when_no_admin_key(
    time: FakeTime, configured: str | None
) -> None:
    app = app_for(FakeGateway(make_pool(fixture_credentials(), time), admin_key=configured))
    for method, path, body in ROUTES:
        reply = await call(app, method, path, body=body, headers=key())
        assert reply.status == 404, path
        error = reply.json()["error"]
        assert error["type"] == "not_found"
        assert "--admin-key" in error["message"]
        assert "KIROGATE_ADMIN_KEY" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [{}, key("wrong-key"), key(CLIENT_KEY), key(CLIENT_KEY, bearer=True), key(ADMIN_KEY + "x")],
)
async def test_every_route_refuses_a_missing_wrong_or_client_key(
    app: FastAPI, gateway: FakeGateway, headers: dict[str, str]
) -> None:
    for method, path, body in ROUTES:
        reply = await call(app, method, path, body=body, headers=headers)
        assert reply.status == 401, path
        assert reply.json() == {
            "error": {"type": "authentication_error", "message": admin.AUTH_MESSAGE}
        }
    assert len(gateway.pool) == 3  # nothing was changed


@pytest.mark.parametrize("bearer", [False, True])
async def test_admin_key_is_accepted_as_x_api_key_or_bearer(app: FastAPI, bearer: bool) -> None:
    reply = await call(app, "GET", "/api/admin/credentials", headers=key(bearer=bearer))
    assert reply.status == 200


# The planted token is the exception's own text, which the log's traceback shows (through the
# log handler's redaction); the answer is what this test checks.
@pytest.mark.shows_secret
async def test_an_unexpected_error_is_500_internal_error_without_details(
    app: FastAPI, gateway: FakeGateway
) -> None:
    gateway.balance_error = RuntimeError(f"boom {ACCESS}")
    reply = await call(app, "GET", "/api/admin/credentials/1/balance", headers=key())
    assert reply.status == 500
    # Issue #13 item 10: not even the exception's class name (it was "internal error: RuntimeError").
    assert reply.json() == {"error": {"type": "internal_error", "message": InternalError.PLAIN}}
    assert "RuntimeError" not in reply.text and "boom" not in reply.text


async def test_unknown_admin_path_and_method_use_the_admin_error_shape() -> None:
    from kirogate.api.app import create_app

    gateway = Gateway(Settings(server=ServerSettings(admin_key="adm-key-123456")), [])
    app = create_app(gateway)
    for method, path, status in (
        ("GET", "/api/admin/nothing-here", 404),
        ("DELETE", "/api/admin/credentials", 405),
    ):
        response = await call(app, method, path, headers={"x-api-key": "adm-key-123456"})
        assert response.status == status
        body = json.loads(response.body)
        assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}


# ---------------------------------------------------------------- sign-in throttling

LIST = "/api/admin/credentials"
THROTTLE_MESSAGE = "too many failed admin sign-ins from this address"


def throttled_app(time: FakeTime, failures: int = 3) -> FastAPI:
    gateway = FakeGateway(make_pool(fixture_credentials(), time))
    gateway.settings = Settings(
        server=ServerSettings(
            api_keys=(CLIENT_KEY,), admin_key=ADMIN_KEY, admin_auth_failures=failures
        )
    )
    return app_for(gateway)


async def test_wrong_keys_past_the_limit_get_429_with_retry_after_in_the_admin_envelope(
    time: FakeTime,
) -> None:
    app = throttled_app(time)
    for _ in range(3):
        assert (await call(app, "GET", LIST, headers=key("wrong"))).status == 401
    reply = await call(app, "GET", LIST, headers=key("wrong"))
    assert reply.status == 429
    error = reply.json()["error"]
    assert error["type"] == "rate_limit_error"
    assert THROTTLE_MESSAGE in error["message"]
    assert 1 <= int(reply.headers["retry-after"]) <= 60


async def test_a_throttled_address_is_refused_even_with_the_right_key(time: FakeTime) -> None:
    app = throttled_app(time)
    for _ in range(3):
        await call(app, "GET", LIST, headers=key("wrong"))
    reply = await call(app, "GET", LIST, headers=key())
    assert reply.status == 429  # else guessing would go on at full speed, seeing only 200s
    assert "retry-after" in reply.headers


async def test_the_throttle_is_per_client_address(time: FakeTime) -> None:
    app = throttled_app(time)
    for _ in range(4):
        await call(app, "GET", LIST, headers=key("wrong"), client="203.0.113.7")
    assert (await call(app, "GET", LIST, headers=key(), client="203.0.113.8")).status == 200
    assert (await call(app, "GET", LIST, headers=key("wrong"), client="::1")).status == 401


async def test_forwarded_headers_do_not_choose_the_counter(time: FakeTime) -> None:
    app = throttled_app(time)
    for n in range(4):
        headers = key("wrong") | {"x-forwarded-for": f"198.51.100.{n}", "x-real-ip": f"10.0.0.{n}"}
        reply = await call(app, "GET", LIST, headers=headers)
    assert reply.status == 429


async def test_successes_and_missing_keys_do_not_count(time: FakeTime) -> None:
    app = throttled_app(time)
    for _ in range(20):
        assert (await call(app, "GET", LIST, headers=key())).status == 200
        assert (await call(app, "GET", LIST)).status == 401
    assert [(await call(app, "GET", LIST, headers=key("x"))).status for _ in range(4)] == [
        401,
        401,
        401,
        429,
    ]


async def test_a_success_does_not_reset_the_count_of_wrong_keys(time: FakeTime) -> None:
    app = throttled_app(time)
    for _ in range(2):
        await call(app, "GET", LIST, headers=key("wrong"))
    assert (await call(app, "GET", LIST, headers=key())).status == 200
    assert (await call(app, "GET", LIST, headers=key("wrong"))).status == 401
    assert (await call(app, "GET", LIST, headers=key("wrong"))).status == 429


async def test_zero_turns_the_throttle_off(time: FakeTime) -> None:
    app = throttled_app(time, failures=0)
    for _ in range(50):
        assert (await call(app, "GET", LIST, headers=key("wrong"))).status == 401
    assert (await call(app, "GET", LIST, headers=key())).status == 200


async def test_metrics_shares_the_admin_throttle() -> None:
    from kirogate.api.app import create_app

    settings = ServerSettings(admin_key="adm-key-123456", admin_auth_failures=2)
    app = create_app(Gateway(Settings(server=settings), []))
    statuses = [
        (await call(app, "GET", path, headers={"x-api-key": "nope"})).status
        for path in ("/metrics", LIST, "/metrics")
    ]
    assert statuses == [401, 401, 429]
    assert (await call(app, "GET", LIST, headers={"x-api-key": "adm-key-123456"})).status == 429


async def test_instances_with_one_cluster_limiter_share_the_count(time: FakeTime) -> None:
    from types import SimpleNamespace

    from kirogate.cluster.ratelimit import MemoryRateLimiter

    shared = SimpleNamespace(rate_limiter=MemoryRateLimiter())  # Redis's stand-in
    apps = [throttled_app(time), throttled_app(time)]
    for app in apps:
        app.state.gateway.cluster = shared
    statuses = [(await call(apps[n % 2], "GET", LIST, headers=key("x"))).status for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    alone = throttled_app(time)  # no cluster: its own count
    assert (await call(alone, "GET", LIST, headers=key("x"))).status == 401
