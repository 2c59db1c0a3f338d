"""The login service on the emulator: shutdown, the sweep, the races at expiry, and two
instances on one PostgreSQL store (a login started on one is answered for, and completed, on
the other)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.errors import NotFound
from kirogate.service import Gateway
from kirogate.service.logins import Logins, LoginStatus
from kirogate.settings import load_settings
from tests.store.conftest import pg_database, pg_url, reset_pg_schema

__all__ = ["pg_database"]  # the throwaway PostgreSQL database fixture, used here too


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(EmulatorConfig(port=0))
    try:
        yield running
    finally:
        await running.close()


def _gateway(emulator: RunningEmulator, tmp_path: Path, **more: object) -> Gateway:
    overrides = {"upstream.url": emulator.url, "upstream.usage_interval": 0, "data_dir": tmp_path}
    return Gateway(load_settings({}, {**overrides, **more}), [], persistent=bool(more))


def _logins(gateway: Gateway) -> Logins:
    assert gateway.operations.logins is not None
    return gateway.operations.logins


async def test_a_gateway_stopping_ends_its_device_logins_as_failed(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    gateway = _gateway(emulator, tmp_path)
    await gateway.start()
    logins = _logins(gateway)
    started = await logins.start_device()
    await logins.close()
    status = await logins.status(started.login_id)
    assert (status.status, status.error) == ("failed", "kirogate stopped during the login")
    await gateway.close()


async def test_the_janitor_ends_once_nothing_is_left(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    gateway = _gateway(emulator, tmp_path)
    await gateway.start()
    try:
        logins = _logins(gateway)
        logins.sweep_interval = 0.01
        started = await logins.start_social(provider="google")
        later = logins.clock() + timedelta(hours=1)
        logins.clock = lambda: later
        await logins.sweep()
        assert (await logins.status(started.login_id)).status == "expired"
        much_later = later + timedelta(hours=1)
        logins.clock = lambda: much_later
        assert logins._janitor is not None
        await asyncio.wait_for(logins._janitor, 5)
        with pytest.raises(NotFound):
            await logins.status(started.login_id)
    finally:
        await gateway.close()


async def _settled(logins: Logins, login_id: str) -> LoginStatus:
    async with asyncio.timeout(15):
        while True:
            status = await logins.status(login_id)
            if status.status != "pending":
                return status
            await asyncio.sleep(0.05)


@pytest.fixture
async def shared_database(pg_database: str) -> str:
    await reset_pg_schema(pg_database)
    return pg_url(pg_database)


async def test_two_instances_on_one_store_share_the_logins(
    emulator: RunningEmulator, tmp_path: Path, shared_database: str
) -> None:
    shared = {"database_url": shared_database, "secret_key": secrets.token_hex(16)}
    one = _gateway(emulator, tmp_path / "one", **shared)
    two = _gateway(emulator, tmp_path / "two", **shared)
    await one.start()
    await two.start()
    try:
        # A device login polled by the first instance is answered for by the second.
        device = await _logins(one).start_device()
        assert (await _logins(two).status(device.login_id)).status == "pending"
        async with aiohttp.ClientSession() as browser:
            assert device.verification_uri_complete is not None
            async with browser.get(device.verification_uri_complete) as page:
                assert page.status == 200
            status = await _settled(_logins(two), device.login_id)
            assert status.status == "complete" and status.credential_id is not None
            async with asyncio.timeout(5):  # the second pool takes the new credential too
                while True:
                    if status.credential_id in {c.id for c in two.pool.credentials()}:
                        break
                    await asyncio.sleep(0.05)

            # A social login started on the first instance, its callback reaching the second.
            social = await _logins(one).start_social(provider="google")
            async with browser.get(social.authorize_url, allow_redirects=False) as page:
                final = page.headers["location"]
        query = dict(part.split("=", 1) for part in urlsplit(final).query.split("&"))
        done = await _logins(two).callback(query)
        assert done.status == "complete" and done.credential_id is not None
        assert (await _logins(one).status(social.login_id)).credential_id == done.credential_id
        assert done.credential_id in {c.id for c in two.pool.credentials()}
    finally:
        await one.close()
        await two.close()


async def test_a_device_login_this_process_polls_is_ended_by_its_poll_not_the_sweep(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    gateway = _gateway(emulator, tmp_path)
    await gateway.start()
    try:
        logins = _logins(gateway)
        started = await logins.start_device()
        later = logins.clock() + timedelta(minutes=11)
        logins.clock = lambda: later
        await logins.sweep()  # the poll may be landing the credential right now
        assert (await logins.status(started.login_id)).status == "pending"
    finally:
        await gateway.close()


async def test_a_code_exchanged_as_the_login_expires_still_completes_it(
    emulator: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kirogate.upstream.auth import oidc

    gateway = _gateway(emulator, tmp_path)
    await gateway.start()
    seen: list[str] = []
    gateway.events.listen(lambda event: seen.append(event.data["status"]))
    try:
        logins = _logins(gateway)
        exchange = oidc.exchange_social_code

        async def slow_exchange(*args: object, **kwargs: object) -> object:
            later = logins.clock() + timedelta(minutes=11)
            logins.clock = lambda: later
            await logins.sweep()
            return await exchange(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(oidc, "exchange_social_code", slow_exchange)
        started = await logins.start_social(provider="google")
        async with (
            aiohttp.ClientSession() as browser,
            browser.get(started.authorize_url, allow_redirects=False) as page,
        ):
            final = page.headers["location"]
        done = await logins.complete(started.login_id, final)
        assert done.status == "complete" and done.credential_id is not None
        assert seen == ["expired", "complete"]
    finally:
        await gateway.close()
