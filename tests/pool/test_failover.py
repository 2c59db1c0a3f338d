from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest

from kirogate.errors import (
    InvalidGrant,
    NoCredentialAvailable,
    QuotaExhausted,
    RefreshFailed,
    UpstreamAuthRejected,
    UpstreamBadRequest,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kirogate.pool import AttemptContext, CredentialPool, DisableReason, run_with_failover
from kirogate.upstream.credentials import Credential
from tests.pool.fakes import FakeTime, make_pool


class Script:
    """An attempt that plays a scripted outcome per call: an exception to raise, or a value."""

    def __init__(self, outcomes: Sequence[object]) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[int, AttemptContext]] = []

    async def __call__(self, credential: Credential, context: AttemptContext) -> str:
        assert credential.id is not None
        self.calls.append((credential.id, context))
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        return str(outcome)

    @property
    def ids(self) -> list[int]:
        return [cid for cid, _ in self.calls]


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class Refreshes:
    def __init__(self, error: Exception | None = None) -> None:
        self.ids: list[int | None] = []
        self.error = error

    async def __call__(self, credential: Credential) -> None:
        self.ids.append(credential.id)
        if self.error is not None:
            raise self.error


def in_flight(pool: CredentialPool) -> int:
    return sum(row.in_flight for row in pool.snapshot())


async def run(
    pool: CredentialPool,
    script: Script,
    *,
    refreshes: Refreshes | None = None,
    sleeps: Sleeps | None = None,
    **kwargs: str,
) -> str:
    held = await run_with_failover(
        pool,
        script,
        force_refresh=refreshes or Refreshes(),
        sleep=sleeps or Sleeps(),
        **kwargs,
    )
    async with held:
        return held.value


SERVER = UpstreamUnavailable("upstream unavailable (500)", upstream_status=500)


async def test_success_returns_the_value_with_the_lease_still_held(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    held = await run_with_failover(pool, Script(["first event"]), force_refresh=Refreshes())
    assert (held.value, held.credential.id, held.attempts) == ("first event", 1, 1)
    assert in_flight(pool) == 1
    await held.release()
    assert in_flight(pool) == 0
    assert pool.state_of(1).success_count == 1


async def test_quota_exhausted_fails_over_to_the_next_credential(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    script = Script([QuotaExhausted("quota", upstream_status=402)])
    assert await run(pool, script) == "ok"
    assert script.ids == [1, 2]
    assert pool.state_of(1).cooling(clock.now)


async def test_throttle_fails_over_then_raises_it_when_none_is_left(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    throttled = UpstreamThrottled("slow down", retry_after=3.0)
    script = Script([throttled, throttled])
    with pytest.raises(UpstreamThrottled) as caught:
        await run(pool, script)
    assert caught.value is throttled
    assert script.ids == [1, 2]
    assert in_flight(pool) == 0


async def test_throttle_without_a_hint_says_when_a_credential_is_back(clock: FakeTime) -> None:
    pool = make_pool(1, clock, cooldown_429=10.0)
    with pytest.raises(UpstreamThrottled) as caught:
        await run(pool, Script([UpstreamThrottled("slow down")]))
    assert caught.value.retry_after == pytest.approx(10.0)


async def test_spent_quota_says_when_a_credential_is_back(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    pool.mark_exhausted(2, until=clock.now + timedelta(seconds=600))
    with pytest.raises(QuotaExhausted) as caught:
        await run(pool, Script([QuotaExhausted("quota", upstream_status=402)]))
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 1


async def test_throttle_says_when_the_first_credential_is_back(clock: FakeTime) -> None:
    pool = make_pool(3, clock, cooldown_429=10.0)
    pool.mark_exhausted(3, until=clock.now + timedelta(seconds=600))
    script = Script([UpstreamThrottled("slow down"), UpstreamThrottled("slow", retry_after=30.0)])
    with pytest.raises(UpstreamThrottled) as caught:
        await run(pool, script)
    assert script.ids == [1, 2]
    assert caught.value.retry_after == pytest.approx(10.0)  # credential 1 is back first


async def test_bearer_refused_forces_one_refresh_then_retries(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    refreshes = Refreshes()
    script = Script([UpstreamAuthRejected("bearer invalid", upstream_status=403)])
    assert await run(pool, script, refreshes=refreshes) == "ok"
    assert refreshes.ids == [1]
    assert script.ids == [1, 1]
    assert script.calls[1][1].refreshed


async def test_bearer_refused_again_after_the_refresh_fails_over(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    refreshes = Refreshes()
    rejected = UpstreamAuthRejected("bearer invalid", upstream_status=403)
    script = Script([rejected, rejected, rejected])
    assert await run(pool, script, refreshes=refreshes) == "ok"
    assert script.ids == [1, 1, 2, 2]
    assert refreshes.ids == [1, 2]  # once per credential per request


async def test_refresh_with_invalid_grant_disables_and_fails_over(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    refreshes = Refreshes(InvalidGrant("Invalid refresh token provided"))
    script = Script([UpstreamAuthRejected("bearer invalid", upstream_status=403)])
    assert await run(pool, script, refreshes=refreshes) == "ok"
    assert script.ids == [1, 2]
    assert pool.state_of(1).disabled_reason is DisableReason.INVALID_REFRESH_TOKEN


async def test_bad_request_is_raised_without_a_retry(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    bad = UpstreamBadRequest("Improperly formed request.", upstream_status=400)
    script = Script([bad])
    with pytest.raises(UpstreamBadRequest):
        await run(pool, script)
    assert script.ids == [1]
    assert in_flight(pool) == 0


async def test_server_errors_back_off_then_fail_over(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    sleeps = Sleeps()
    script = Script([SERVER, SERVER, SERVER])
    assert await run(pool, script, sleeps=sleeps) == "ok"
    assert script.ids == [1, 1, 1, 2]
    assert len(sleeps.delays) == 2
    assert 0.2 <= sleeps.delays[0] <= 0.25
    assert 0.4 <= sleeps.delays[1] <= 0.5


async def test_timeouts_count_as_transient(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    script = Script([UpstreamTimeout("no first event in 90s")])
    assert await run(pool, script) == "ok"
    assert script.ids == [1, 1]


async def test_attempts_per_credential_is_configurable(clock: FakeTime) -> None:
    pool = make_pool(2, clock, attempts_per_credential=1)
    script = Script([SERVER])
    assert await run(pool, script) == "ok"
    assert script.ids == [1, 2]


async def test_a_request_makes_at_most_nine_attempts(clock: FakeTime) -> None:
    pool = make_pool(5, clock)
    script = Script([SERVER] * 20)
    with pytest.raises(UpstreamUnavailable):
        await run(pool, script)
    assert script.ids == [1, 1, 1, 2, 2, 2, 3, 3, 3]


async def test_request_budget_is_configurable(clock: FakeTime) -> None:
    pool = make_pool(5, clock, max_attempts=4)
    script = Script([SERVER] * 20)
    with pytest.raises(UpstreamUnavailable):
        await run(pool, script)
    assert len(script.calls) == 4


async def test_running_out_of_credentials_raises_the_last_upstream_error(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    last = UpstreamUnavailable("last", upstream_status=503)
    script = Script([SERVER, SERVER, SERVER, SERVER, SERVER, last])
    with pytest.raises(UpstreamUnavailable) as caught:
        await run(pool, script)
    assert caught.value is last
    assert isinstance(caught.value.__cause__, NoCredentialAvailable)


async def test_no_credential_at_all_raises_no_credential_available(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    pool.disable(1)
    script = Script([])
    with pytest.raises(NoCredentialAvailable):
        await run(pool, script)
    assert script.calls == []


async def test_attempt_context_counts_attempts(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    script = Script([SERVER, SERVER, SERVER, SERVER])
    await run(pool, script, model="claude-sonnet-4.5", session_id="s1")
    contexts = [context for _, context in script.calls]
    assert [c.attempt for c in contexts] == [1, 2, 3, 4, 5]
    assert [c.credential_attempt for c in contexts] == [1, 2, 3, 1, 2]
    assert {(c.model, c.session_id) for c in contexts} == {("claude-sonnet-4.5", "s1")}


async def test_an_unexpected_exception_propagates_and_releases_the_lease(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    script = Script([RuntimeError("bug")])
    with pytest.raises(RuntimeError):
        await run(pool, script)
    assert script.ids == [1]
    assert in_flight(pool) == 0


async def test_cancellation_releases_the_lease(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    seen: list[int] = []

    async def hang(credential: Credential, context: AttemptContext) -> str:
        seen.append(in_flight(pool))
        await asyncio.Event().wait()
        return "never"

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await run_with_failover(pool, hang, force_refresh=Refreshes())
    assert seen == [1]
    assert in_flight(pool) == 0


async def test_failover_respects_session_affinity_on_the_next_request(clock: FakeTime) -> None:
    pool = make_pool(3, clock, mode="round_robin")
    script = Script([QuotaExhausted("quota", upstream_status=402)])
    await run(pool, script, session_id="conversation-1")
    assert script.ids == [1, 2]
    second = Script([])
    await run(pool, second, session_id="conversation-1")
    assert second.ids == [2]


async def test_a_failed_refresh_counts_and_fails_over(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    refreshes = Refreshes(RefreshFailed("refresh answered 500", status=500))
    script = Script([UpstreamAuthRejected("bearer invalid", upstream_status=403)])
    assert await run(pool, script, refreshes=refreshes) == "ok"
    assert script.ids == [1, 2]
    assert pool.state_of(1).failure_count == 1


async def test_an_unexpected_refresh_error_propagates(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    refreshes = Refreshes(RuntimeError("bug in refresh"))
    script = Script([UpstreamAuthRejected("bearer invalid", upstream_status=403)])
    with pytest.raises(RuntimeError, match="bug in refresh"):
        await run(pool, script, refreshes=refreshes)
    assert in_flight(pool) == 0
