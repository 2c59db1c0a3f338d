"""Fixtures of the admin API tests: the fake gateway's app, and a real gateway on the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.admin.fakes import (
    ADMIN_KEY,
    CLIENT_KEY,
    REFRESH,
    FakeGateway,
    app_for,
    fixture_credentials,
)
from tests.pool.fakes import FakeTime, make_pool


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def gateway(time: FakeTime) -> FakeGateway:
    return FakeGateway(make_pool(fixture_credentials(), time))


@pytest.fixture
def app(gateway: FakeGateway) -> FastAPI:
    return app_for(gateway)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, Gateway, RunningEmulator]]:
    emulator = await start_emulator(EmulatorConfig(port=0))
    emulator.state.register_credential(
        refresh_token=REFRESH, auth_method="social", usage={"currentUsage": 12.5}
    )
    overrides = {
        "upstream.url": emulator.url,
        "server.admin_key": ADMIN_KEY,
        "server.api_keys": (CLIENT_KEY,),
        "data_dir": tmp_path,
    }
    credential = Credential(AuthMethod.SOCIAL, refresh_token=REFRESH, id=1, email="one@x.test")
    gateway = Gateway(load_settings({}, overrides), [credential])
    await gateway.start()
    try:
        yield app_for(gateway), gateway, emulator
    finally:
        await gateway.close()
        await emulator.close()
