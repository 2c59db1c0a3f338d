"""BackgroundJobs with fake callables and a fake clock: which credentials each pass touches,
bounded concurrency, failures that are logged and not raised, the balance cache, the loops."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kirogate.errors import ConfigError, InvalidGrant, UpstreamThrottled
from kirogate.pool import CredentialPool, PoolSettings
from kirogate.service.jobs import BackgroundJobs, JobsSettings
from kirogate.upstream.credentials import AuthMethod, Credential
from kirogate.upstream.usage import Balance, parse_usage_limits

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)
RESET = datetime(2026, 6, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def cred(cid: int, *, expires_in: float | None = 3600, **fields: Any) -> Credential:
    return Credential(
        AuthMethod.SOCIAL,
        refresh_token=f"refresh-secret-{cid}",
        access_token=f"access-secret-{cid}",
        expires_at=NOW + timedelta(seconds=expires_in) if expires_in is not None else None,
        id=cid,
        email=f"user{cid}@example.com",
        **fields,
    )


def balance(remaining: float, *, limit: float = 50.0, cid: int | None = None) -> Balance:
    data = {
        "nextDateReset": RESET.timestamp(),
        "usageBreakdownList": [
            {
                "resourceType": "CREDIT",
                "usageLimitWithPrecision": limit,
                "currentUsageWithPrecision": limit - remaining,
            }
        ],
    }
    return parse_usage_limits(data, now=NOW, credential_id=cid)


class Fakes:
    """Records calls; ``fail`` maps a credential id to the exception its call raises."""

    def __init__(self, creds: list[Credential]) -> None:
        self.creds = creds
        self.refreshed: list[int] = []
        self.fetched: list[int] = []
        self.seen: list[tuple[int, float]] = []
        self.fail: dict[int, BaseException] = {}
        self.balances: dict[int, Balance] = {}
        self.active = 0
        self.peak = 0
        self.delay = 0.0

    async def _work(self, credential: Credential, log: list[int]) -> None:
        assert credential.id is not None
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.delay)
            log.append(credential.id)
            if credential.id in self.fail:
                raise self.fail[credential.id]
        finally:
            self.active -= 1

    async def refresh(self, credential: Credential) -> str:
        await self._work(credential, self.refreshed)
        credential.expires_at = NOW + timedelta(hours=1)
        return "token"

    async def fetch_balance(self, credential: Credential) -> Balance:
        await self._work(credential, self.fetched)
        assert credential.id is not None
        return self.balances.get(credential.id, balance(10.0, cid=credential.id))

    def on_balance(self, credential: Credential, value: Balance) -> None:
        assert credential.id is not None
        self.seen.append((credential.id, value.remaining))


def jobs(fakes: Fakes, clock: Clock | None = None, **settings: Any) -> BackgroundJobs:
    return BackgroundJobs(
        JobsSettings(**settings),
        credentials=lambda: list(fakes.creds),
        refresh=fakes.refresh,
        fetch_balance=fakes.fetch_balance,
        on_balance=fakes.on_balance,
        clock=clock or Clock(),
    )


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "bad",
    [
        {"refresh_interval": 0},
        {"usage_interval": -1},
        {"refresh_ahead": float("nan")},
        {"usage_concurrency": 0},
        {"refresh_concurrency": 1.5},
    ],
)
def test_bad_settings_are_config_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="jobs"):
        JobsSettings(**bad)


def test_default_settings() -> None:
    settings = JobsSettings()
    assert (settings.refresh_interval, settings.refresh_ahead) == (60.0, 900.0)
    assert (settings.usage_interval, settings.usage_concurrency) == (600.0, 4)


# ---------------------------------------------------------------- refresh pass


async def test_refresh_due_picks_only_enabled_refreshable_credentials_expiring_soon() -> None:
    fakes = Fakes(
        [
            cred(1, expires_in=60),  # due
            cred(2, expires_in=3600),  # not due
            cred(3, expires_in=None),  # unknown expiry: due
            cred(4, expires_in=-10),  # expired: due
            cred(5, expires_in=60, disabled=True),
            Credential(AuthMethod.API_KEY, kiro_api_key="ksk_secret", id=6),
            Credential(AuthMethod.SOCIAL, access_token="only-access", id=7),  # no refresh token
            cred(8, expires_in=899),  # within refresh_ahead
        ]
    )
    report = await jobs(fakes).refresh_due()
    assert sorted(fakes.refreshed) == [1, 3, 4, 8]
    assert sorted(report.done) == sorted(f"user{cid}@example.com" for cid in (1, 3, 4, 8))
    assert report.skipped == ["user5@example.com", "#6", "#7"]
    assert report.failed == {}


async def test_refresh_due_follows_the_clock() -> None:
    clock = Clock()
    fakes = Fakes([cred(1, expires_in=3600)])
    runner = jobs(fakes, clock)
    await runner.refresh_due()
    assert fakes.refreshed == []
    clock.now += timedelta(seconds=3600 - 900)
    await runner.refresh_due()
    assert fakes.refreshed == [1]


async def test_refresh_failures_are_logged_with_the_label_only_and_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fakes = Fakes([cred(1, expires_in=0), cred(2, expires_in=0), cred(3, expires_in=0)])
    fakes.fail = {1: InvalidGrant("refresh token revoked"), 2: RuntimeError("refresh-secret-2")}
    caplog.set_level(logging.DEBUG)
    report = await jobs(fakes).refresh_due()
    assert report.done == ["user3@example.com"]
    assert report.failed == {
        "user1@example.com": "InvalidGrant: refresh token revoked",
        "user2@example.com": "RuntimeError",
    }
    assert "user1@example.com" in caplog.text
    assert "secret" not in caplog.text


async def test_refresh_runs_at_most_n_at_once() -> None:
    fakes = Fakes([cred(cid, expires_in=0) for cid in range(1, 11)])
    fakes.delay = 0.01
    await jobs(fakes, refresh_concurrency=3).refresh_due()
    assert len(fakes.refreshed) == 10
    assert fakes.peak == 3


async def test_a_hanging_call_is_abandoned_after_the_call_timeout() -> None:
    fakes = Fakes([cred(1, expires_in=0)])
    fakes.delay = 10
    report = await jobs(fakes, call_timeout=0.05).refresh_due()
    assert report.failed == {"user1@example.com": "timed out"}


# ---------------------------------------------------------------- usage pass


async def test_poll_usage_feeds_on_balance_and_the_cache() -> None:
    clock = Clock()
    fakes = Fakes([cred(1), cred(2, disabled=True), Credential(AuthMethod.API_KEY, id=3)])
    fakes.balances = {1: balance(0.0, cid=1), 3: balance(7.5, cid=3)}
    runner = jobs(fakes, clock)
    report = await runner.poll_usage()
    assert sorted(fakes.fetched) == [1, 3]  # API keys have balances too; disabled ones wait
    assert sorted(fakes.seen) == [(1, 0.0), (3, 7.5)]
    assert report.skipped == ["user2@example.com"]
    cached = runner.cache.get(3)
    assert cached is not None and cached[1] == NOW and cached[0].remaining == 7.5
    clock.now += timedelta(seconds=301)
    assert runner.cache.get(3) is None  # older than balance_max_age


async def test_poll_usage_failures_do_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fakes = Fakes([cred(1), cred(2)])
    fakes.fail = {1: UpstreamThrottled("slow down", upstream_status=429)}
    report = await jobs(fakes).poll_usage()
    assert report.failed == {"user1@example.com": "UpstreamThrottled: slow down"}
    assert fakes.seen == [(2, 10.0)]
    assert "access-secret" not in caplog.text


async def test_an_on_balance_error_is_reported_for_that_credential() -> None:
    fakes = Fakes([cred(1)])

    def broken(credential: Credential, value: Balance) -> None:
        raise KeyError("no such credential")

    runner = BackgroundJobs(
        JobsSettings(),
        credentials=lambda: fakes.creds,
        refresh=fakes.refresh,
        fetch_balance=fakes.fetch_balance,
        on_balance=broken,
    )
    report = await runner.poll_usage()
    assert report.failed == {"user1@example.com": "KeyError"}


async def test_balances_drive_the_pool_exhausted_skip_and_comeback() -> None:
    """The wiring the gateway does: on_balance -> pool.note_usage."""
    clock = Clock()
    creds = [cred(1), cred(2)]
    pool = CredentialPool(creds, PoolSettings(), wall=clock)
    fakes = Fakes(creds)
    fakes.balances = {1: balance(0.0, cid=1), 2: balance(30.0, cid=2)}

    def note(credential: Credential, value: Balance) -> None:
        assert credential.id is not None
        pool.note_usage(
            credential.id,
            remaining=value.remaining,
            limit=value.limit,
            reset_at=value.next_reset_at,
        )

    runner = BackgroundJobs(
        JobsSettings(),
        credentials=pool.credentials,
        refresh=fakes.refresh,
        fetch_balance=fakes.fetch_balance,
        on_balance=note,
        clock=clock,
    )
    await runner.poll_usage()
    state = pool.state_of(1)
    assert state.cooldown_until == RESET
    lease = await pool.acquire()
    assert lease.credential.id == 2
    pool.report_success(lease)
    fakes.balances[1] = balance(50.0, cid=1)  # topped up
    await runner.poll_usage()
    assert pool.state_of(1).cooldown_until is None


# ---------------------------------------------------------------- loops


async def test_start_runs_both_loops_and_close_cancels_cleanly() -> None:
    fakes = Fakes([cred(1, expires_in=0)])
    runner = jobs(fakes, refresh_interval=0.01, usage_interval=0.01)
    runner.start()
    runner.start()  # idempotent
    assert runner.running
    for _ in range(200):
        if len(fakes.fetched) >= 3:
            break
        await asyncio.sleep(0.01)
    await runner.close()
    await runner.close()
    assert not runner.running
    assert len(fakes.fetched) >= 3
    assert fakes.refreshed == [1]  # refreshed once: afterwards the token is no longer due
    count = len(fakes.fetched)
    await asyncio.sleep(0.05)
    assert len(fakes.fetched) == count


async def test_close_cancels_a_pass_in_progress() -> None:
    fakes = Fakes([cred(1)])
    fakes.delay = 30
    async with jobs(fakes, refresh_enabled=False, call_timeout=60) as runner:
        await asyncio.sleep(0.02)
        assert fakes.active == 1
    assert fakes.active == 0
    assert not runner.running


async def test_disabled_jobs_do_not_run() -> None:
    fakes = Fakes([cred(1, expires_in=0)])
    async with jobs(fakes, refresh_enabled=False, usage_enabled=False, refresh_interval=0.01):
        await asyncio.sleep(0.05)
    assert fakes.refreshed == [] and fakes.fetched == []


async def test_a_broken_credentials_callable_does_not_end_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def flaky() -> list[Credential]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("store offline")
        return []

    fakes = Fakes([])
    runner = BackgroundJobs(
        JobsSettings(refresh_interval=0.01, usage_enabled=False),
        credentials=flaky,
        refresh=fakes.refresh,
        fetch_balance=fakes.fetch_balance,
        on_balance=fakes.on_balance,
    )
    async with runner:
        for _ in range(100):
            if calls >= 3:
                break
            await asyncio.sleep(0.01)
    assert calls >= 3
    assert "token refresh pass failed" in caplog.text
