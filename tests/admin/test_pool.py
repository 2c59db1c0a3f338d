"""``/api/admin/config/load-balancing``: the pool's selection mode."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from kirogate.emulator.app import RunningEmulator
from kirogate.service import Gateway
from tests.admin.fakes import (
    FakeGateway,
    call,
    key,
)


async def test_load_balancing_mode_is_read_and_switched(app: FastAPI, gateway: FakeGateway) -> None:
    reply = await call(app, "GET", "/api/admin/config/load-balancing", headers=key())
    assert reply.json() == {"mode": "priority"}
    reply = await call(
        app, "PUT", "/api/admin/config/load-balancing", body={"mode": "balanced"}, headers=key()
    )
    assert reply.json() == {"mode": "balanced"}
    assert gateway.pool.mode.value == "balanced"
    reply = await call(
        app, "PUT", "/api/admin/config/load-balancing", body={"mode": "round-robin"}, headers=key()
    )
    assert reply.json() == {"mode": "round_robin"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"mode": "fastest"}, "unknown pool mode 'fastest'"), ({}, "'mode' must be one of")],
)
async def test_load_balancing_rejects_an_unknown_mode(
    app: FastAPI, gateway: FakeGateway, body: dict[str, Any], expected: str
) -> None:
    reply = await call(app, "PUT", "/api/admin/config/load-balancing", body=body, headers=key())
    assert reply.status == 400
    assert expected in reply.json()["error"]["message"]
    assert gateway.pool.mode.value == "priority"


async def test_real_gateway_mode_switch_reaches_the_pool(
    live: tuple[FastAPI, Gateway, RunningEmulator],
) -> None:
    app, gateway, _ = live
    body = {"mode": "round_robin"}
    reply = await call(app, "PUT", "/api/admin/config/load-balancing", body=body, headers=key())
    assert reply.json() == {"mode": "round_robin"}
    assert gateway.pool.mode.value == "round_robin"
