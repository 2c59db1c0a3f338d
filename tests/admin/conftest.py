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
from tests.store.conftest import pg_database  # noqa: F401 - a fixture (live_store)


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


@pytest.fixture(params=["sqlite", "postgresql"])
async def live_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, Gateway]]:
    """A persistent gateway (its store on SQLite, or on a fresh PostgreSQL schema), no upstream."""
    overrides: dict[str, object] = {
        "server.admin_key": ADMIN_KEY,
        "server.api_keys": (CLIENT_KEY,),
        "data_dir": tmp_path,
        "upstream.usage_interval": 0,
    }
    if request.param == "postgresql":
        from tests.store.conftest import pg_url, reset_pg_schema

        database = request.getfixturevalue("pg_database")
        await reset_pg_schema(database)
        overrides["database_url"] = pg_url(database)
    gateway = Gateway(load_settings({}, overrides), [], persistent=True)
    await gateway.start()
    try:
        yield app_for(gateway), gateway
    finally:
        await gateway.close()
