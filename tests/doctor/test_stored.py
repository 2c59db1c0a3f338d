"""``kirogate doctor`` on the stored credentials: disabled ones and failing refreshes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kirogate.doctor.checks import Status
from kirogate.doctor.stored import check_stored_credentials, disabled_check, recorded_check
from kirogate.emulator.app import start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.pool.state import CredentialState, DisableReason
from kirogate.settings import Settings, load_settings
from kirogate.store import Store
from kirogate.upstream.credentials import AuthMethod, Credential

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def social(tag: str, **fields: Any) -> Credential:
    return Credential(AuthMethod.SOCIAL, refresh_token=f"aorAAAA-{tag}-" + "r" * 110, **fields)


@pytest.fixture
async def emulator_url() -> AsyncIterator[str]:
    emu = await start_emulator(EmulatorConfig(port=0))
    try:
        yield emu.url
    finally:
        await emu.close()


def settings_for(tmp_path: Path, upstream: str) -> Settings:
    return load_settings({}, {"data_dir": tmp_path / "data", "upstream.url": upstream})


async def store_with(settings: Settings, *creds: Credential) -> list[int]:
    store = await Store.open(database_url=None, data_dir=settings.data_path)
    try:
        return [(await store.add_credential(cred))[0].id or 0 for cred in creds]
    finally:
        await store.close()


def test_a_rejected_refresh_token_is_a_failure_with_the_fix() -> None:
    state = CredentialState(
        2, disabled_reason=DisableReason.INVALID_REFRESH_TOKEN, disabled_detail="invalid_grant"
    )
    check = disabled_check(social("a", id=2, email="a@example.com"), state, NOW)
    assert check is not None and check.status is Status.FAIL
    assert check.name == "stored credential #2 a@example.com"
    assert "disabled (invalid_refresh_token: invalid_grant)" in check.summary
    assert "kirogate login" in check.details[0] and "accounts remove 2" in check.details[0]


def test_a_manual_disable_is_a_warning_naming_enable() -> None:
    state = CredentialState(3, disabled_reason=DisableReason.MANUAL)
    check = disabled_check(social("a", id=3), state, NOW)
    assert check is not None and check.status is Status.WARN
    assert check.details == ["fix: kirogate accounts enable 3 (when it should serve again)"]


def test_an_enabled_credential_needs_no_disabled_line() -> None:
    assert disabled_check(social("a", id=1), CredentialState(1), NOW) is None


def test_failures_a_gateway_recorded_are_reported() -> None:
    state = CredentialState(1, failure_count=2, last_error="refresh failed: HTTP 500")
    check = recorded_check(social("a", id=1), state)
    assert check is not None and check.status is Status.WARN
    assert "2 failure(s) in a row" in check.summary and "HTTP 500" in check.summary


async def test_a_refresh_the_upstream_rejects_fails(tmp_path: Path, emulator_url: str) -> None:
    settings = settings_for(tmp_path, emulator_url)
    await store_with(settings, social("good"), social("revoked"))
    checks = await check_stored_credentials(settings, refresh=True, limit=10)
    by_name = {check.name: check for check in checks}
    assert by_name["stored credential #1"].status is Status.OK
    rejected = by_name["stored credential #2"]
    assert rejected.status is Status.FAIL and "rejected" in rejected.summary


async def test_a_refreshed_token_is_saved(tmp_path: Path, emulator_url: str) -> None:
    settings = settings_for(tmp_path, emulator_url)
    before = social("good")
    await store_with(settings, before)
    await check_stored_credentials(settings, refresh=True, limit=10)
    store = await Store.open(database_url=None, data_dir=settings.data_path)
    try:
        (after,) = await store.list_credentials()
    finally:
        await store.close()
    assert after.access_token is not None


async def test_without_refresh_only_recorded_state_is_read(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "http://127.0.0.1:9")
    await store_with(settings, social("a"))
    assert await check_stored_credentials(settings, refresh=False, limit=1) == []


async def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "http://127.0.0.1:9")
    assert await check_stored_credentials(settings, refresh=True, limit=1) == []
    assert not (tmp_path / "data" / "kirogate.db").exists()
