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
