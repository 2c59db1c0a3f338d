from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kirogate.errors import (
    InvalidGrant,
    InvalidRequest,
    NoCredentialAvailable,
    NotFound,
    QuotaExhausted,
    RefreshFailed,
    UpstreamAuthRejected,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamForbidden,
    UpstreamThrottled,
    UpstreamUnavailable,
)
from kirogate.pool import (
    Availability,
    CooldownReason,
    CredentialPool,
    CredentialState,
    DisableReason,
    InMemoryPoolState,
    PoolSettings,
    Reaction,
    next_month_start,
)
from kirogate.pool.state import Transition
from tests.pool.fakes import FakeTime, credential, credentials, make_pool, pick

QUOTA = QuotaExhausted("quota", upstream_status=402, reason="MONTHLY_REQUEST_COUNT")
BEARER = UpstreamAuthRejected(
    "The bearer token included in the request is invalid", upstream_status=403
)
SERVER = UpstreamUnavailable("boom", upstream_status=500)


async def fail(pool: CredentialPool, error: Exception, **kwargs: object) -> tuple[int, Reaction]:
    lease = await pool.acquire(**kwargs)  # type: ignore[arg-type]
    reaction = pool.report_failure(lease, error)
    await lease.release()
    return lease.id, reaction


# ------------------------------------------------------------ reactions, one error class each


async def test_quota_exhausted_cools_down_until_next_month_and_fails_over(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    cid, reaction = await fail(pool, QUOTA)
    assert (cid, reaction) == (1, Reaction.FAILOVER)
    state = pool.state_of(1)
    assert state.cooldown_until == datetime(2026, 6, 1, tzinfo=UTC)
    assert state.cooldown_reason is CooldownReason.QUOTA_EXCEEDED
    assert await pick(pool) == 2


async def test_quota_reset_hook_supplies_the_reset_date(clock: FakeTime) -> None:
    reset = datetime(2026, 5, 20, tzinfo=UTC)
    pool = CredentialPool(
        credentials(2), wall=clock.wall, clock=clock.clock, quota_reset=lambda _: reset
    )
    await fail(pool, QUOTA)
    assert pool.state_of(1).cooldown_until == reset


async def test_quota_cooldown_ends_at_the_reset_date(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    await fail(pool, QUOTA)
    clock.now = datetime(2026, 6, 1, 0, 0, 1, tzinfo=UTC)
    assert await pick(pool, exclude={2}) == 1


def test_next_month_start_rolls_over_the_year() -> None:
    assert next_month_start(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )


async def test_throttle_cools_down_for_retry_after_and_fails_over(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    cid, reaction = await fail(pool, UpstreamThrottled("slow down", retry_after=42.0))
    assert reaction is Reaction.FAILOVER
    assert pool.state_of(cid).cooldown_until == clock.now + timedelta(seconds=42)
    assert pool.state_of(cid).cooldown_reason is CooldownReason.THROTTLED
    assert await pick(pool) == 2


async def test_throttle_without_hint_backs_off_exponentially(clock: FakeTime) -> None:
    pool = make_pool(1, clock, cooldown_429=10.0, cooldown_429_max=35.0)
    waits = []
    for _ in range(4):
        await fail(pool, UpstreamThrottled("slow down"))
        until = pool.state_of(1).cooldown_until
        assert until is not None
        waits.append((until - clock.now).total_seconds())
        clock.advance(100)
    assert waits == [10.0, 20.0, 35.0, 35.0]


async def test_throttle_backoff_restarts_after_a_success(clock: FakeTime) -> None:
    pool = make_pool(1, clock, cooldown_429=10.0)
    await fail(pool, UpstreamThrottled("slow down"))
    clock.advance(100)
    await pick(pool)
    await fail(pool, UpstreamThrottled("slow down"))
    assert pool.state_of(1).cooldown_until == clock.now + timedelta(seconds=10)


async def test_throttle_retry_after_is_capped(clock: FakeTime) -> None:
    pool = make_pool(1, clock, cooldown_429_max=300.0)
    await fail(pool, UpstreamThrottled("slow down", retry_after=86_400.0))
    assert pool.state_of(1).cooldown_until == clock.now + timedelta(seconds=300)


async def test_cooled_down_credential_comes_back_by_itself(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    await fail(pool, UpstreamThrottled("slow down", retry_after=5.0))
    with pytest.raises(NoCredentialAvailable):
        await pool.acquire()
    clock.advance(5.1)
    assert await pick(pool) == 1


async def test_auth_rejected_asks_for_one_forced_refresh(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    lease = await pool.acquire()
    assert pool.report_failure(lease, BEARER) is Reaction.FORCE_REFRESH_THEN_RETRY
    assert lease.refreshed
    assert pool.state_of(1).failure_count == 0


async def test_auth_rejected_after_the_refresh_counts_and_fails_over(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    lease = await pool.acquire()
    pool.report_failure(lease, BEARER)
    assert pool.report_failure(lease, BEARER) is Reaction.FAILOVER
    assert pool.state_of(1).failure_count == 1


async def test_invalid_grant_disables_the_credential(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    cid, reaction = await fail(pool, InvalidGrant("Invalid refresh token provided"))
    assert reaction is Reaction.FAILOVER
    state = pool.state_of(cid)
    assert state.disabled_reason is DisableReason.INVALID_REFRESH_TOKEN
    assert state.disabled_detail == "Invalid refresh token provided"


async def test_bad_request_fails_at_once_without_penalty(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    cid, reaction = await fail(
        pool, UpstreamBadRequest("Improperly formed request.", upstream_status=400)
    )
    assert reaction is Reaction.FAIL
    assert pool.state_of(cid) == CredentialState(id=cid, last_used=clock.now)


async def test_other_4xx_fails_at_once(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    _, reaction = await fail(pool, UpstreamError("not found", upstream_status=404))
    assert reaction is Reaction.FAIL


async def test_server_error_retries_the_same_credential_then_fails_over(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    lease = await pool.acquire()
    reactions = [pool.report_failure(lease, SERVER) for _ in range(3)]
    assert reactions == [Reaction.RETRY_SAME, Reaction.RETRY_SAME, Reaction.FAILOVER]
    state = pool.state_of(1)
    assert (state.failure_count, state.error_count) == (1, 3)
    assert not state.disabled and not state.cooling(clock.now)


async def test_forbidden_counts_a_failure_and_fails_over(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    cid, reaction = await fail(pool, UpstreamForbidden("no", upstream_status=403))
    assert reaction is Reaction.FAILOVER
    assert pool.state_of(cid).failure_count == 1


async def test_suspended_account_rests_for_a_day(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    error = UpstreamForbidden("suspended", upstream_status=403, reason="TEMPORARILY_SUSPENDED")
    cid, reaction = await fail(pool, error)
    assert reaction is Reaction.FAILOVER
    assert pool.state_of(cid).cooldown_until == clock.now + timedelta(days=1)
    assert pool.state_of(cid).cooldown_reason is CooldownReason.SUSPENDED


async def test_three_failures_in_a_row_disable_the_credential(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    for _ in range(3):
        await fail(pool, UpstreamForbidden("no", upstream_status=403), exclude={2})
    state = pool.state_of(1)
    assert state.disabled_reason is DisableReason.TOO_MANY_FAILURES
    assert state.disabled_detail is not None and "3 failures in a row" in state.disabled_detail


async def test_failure_threshold_is_configurable(clock: FakeTime) -> None:
    pool = make_pool(2, clock, failure_threshold=1)
    await fail(pool, UpstreamForbidden("no", upstream_status=403))
    assert pool.state_of(1).disabled


async def test_a_success_resets_consecutive_failures(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    for _ in range(2):
        await fail(pool, UpstreamForbidden("no", upstream_status=403), exclude={2})
    await pick(pool, exclude={2})
    await fail(pool, UpstreamForbidden("no", upstream_status=403), exclude={2})
    assert pool.state_of(1).failure_count == 1
    assert not pool.state_of(1).disabled


async def test_repeated_refresh_failures_disable_with_their_own_reason(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    for _ in range(3):
        await fail(pool, RefreshFailed("refresh 500", status=500), exclude={2})
    assert pool.state_of(1).disabled_reason is DisableReason.TOO_MANY_REFRESH_FAILURES


async def test_self_healing_reenables_failure_disabled_when_all_are_down(clock: FakeTime) -> None:
    pool = make_pool(2, clock, failure_threshold=1)
    await fail(pool, UpstreamForbidden("no", upstream_status=403))
    await fail(pool, UpstreamForbidden("no", upstream_status=403))
    assert all(pool.state_of(cid).disabled for cid in (1, 2))
    assert await pick(pool) == 1
    assert [pool.state_of(cid).disabled for cid in (1, 2)] == [False, False]
    assert pool.state_of(1).failure_count == 0


async def test_self_healing_does_not_touch_manual_invalid_or_quota(clock: FakeTime) -> None:
    pool = make_pool(4, clock, failure_threshold=1)
    pool.disable(1, "operator said so")
    await fail(pool, InvalidGrant("Invalid refresh token provided"))
    await fail(pool, QUOTA)
    await fail(pool, UpstreamForbidden("no", upstream_status=403))
    assert await pick(pool) == 4
    assert pool.state_of(1).disabled_reason is DisableReason.MANUAL
    assert pool.state_of(2).disabled_reason is DisableReason.INVALID_REFRESH_TOKEN
    assert pool.state_of(3).cooling(clock.now)


async def test_self_healing_waits_while_something_is_usable(clock: FakeTime) -> None:
    pool = make_pool(2, clock, failure_threshold=1)
    await fail(pool, UpstreamForbidden("no", upstream_status=403))
    assert await pick(pool) == 2
    assert pool.state_of(1).disabled


# ------------------------------------------------------------ manual operations


async def test_disable_takes_the_credential_out_of_rotation(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    pool.disable(1, "rotating keys")
    assert await pick(pool) == 2
    assert pool.state_of(1).disabled_detail == "rotating keys"


async def test_enable_clears_failure_counters(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    for _ in range(3):
        await fail(pool, UpstreamForbidden("no", upstream_status=403), exclude={2})
    pool.enable(1)
    state = pool.state_of(1)
    assert (state.disabled, state.failure_count) == (False, 0)


async def test_enable_keeps_a_quota_cooldown(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    await fail(pool, QUOTA)
    pool.enable(1)
    assert pool.state_of(1).cooling(clock.now)


async def test_reset_lifts_cooldown_and_enables(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    await fail(pool, QUOTA)
    pool.disable(1)
    pool.reset(1)
    state = pool.state_of(1)
    assert not state.disabled and not state.cooling(clock.now)
    assert state.error_count == 1  # totals are kept


def test_reset_refuses_an_invalid_config(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    pool.disable(1, "no refresh token", reason=DisableReason.INVALID_CONFIG)
    with pytest.raises(InvalidRequest, match="invalid configuration"):
        pool.reset(1)


async def test_set_priority_reselects_the_current_credential(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    assert await pick(pool) == 1
    pool.set_priority(2, -1)
    assert await pick(pool) == 2
    assert pool.get(2).priority == -1


def test_add_assigns_the_next_free_id(clock: FakeTime) -> None:
    pool = make_pool([credential(1), credential(5)], clock)
    fresh = credential(0)
    fresh.id = None
    assert pool.add(fresh).id == 6
    assert [cred.id for cred in pool.credentials()] == [1, 5, 6]


def test_add_rejects_a_duplicate_id(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    with pytest.raises(InvalidRequest, match="already"):
        pool.add(credential(1))


async def test_remove_forgets_the_credential_and_its_lease_releases_harmlessly(
    clock: FakeTime,
) -> None:
    pool = make_pool(2, clock)
    lease = await pool.acquire()
    pool.remove(1)
    assert pool.report_failure(lease, SERVER) is Reaction.FAILOVER
    await lease.release()
    assert [row.id for row in pool.snapshot()] == [2]
    assert await pick(pool) == 2


def test_unknown_id_raises_not_found(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    with pytest.raises(NotFound):
        pool.disable(9)


async def test_credential_disabled_in_its_file_starts_disabled(clock: FakeTime) -> None:
    pool = make_pool([credential(1, disabled=True, disabled_reason="Manual"), credential(2)], clock)
    assert pool.state_of(1).disabled_reason is DisableReason.MANUAL
    assert await pick(pool) == 2


# ------------------------------------------------------------ usage data


async def test_mark_exhausted_skips_until_the_reset_date(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    pool.mark_exhausted(1, until=clock.now + timedelta(hours=2))
    assert await pick(pool) == 2
    clock.advance(2 * 3600 + 1)
    assert await pick(pool, exclude={2}) == 1


async def test_usage_with_nothing_left_marks_exhausted(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    pool.note_usage(1, remaining=0, limit=50, reset_at=datetime(2026, 6, 1, tzinfo=UTC))
    assert pool.state_of(1).cooldown_reason is CooldownReason.QUOTA_EXCEEDED
    assert await pick(pool) == 2


async def test_usage_with_quota_left_lifts_a_quota_cooldown(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    await fail(pool, QUOTA)
    pool.note_usage(1, remaining=25, limit=50)
    state = pool.state_of(1)
    assert not state.cooling(clock.now)
    assert state.remaining_share == 0.5


# ------------------------------------------------------------ snapshot and summaries


async def test_snapshot_shows_state_counters_and_in_flight(clock: FakeTime) -> None:
    pool = make_pool([credential(1), credential(2), credential(3, priority=-1)], clock)
    await fail(pool, QUOTA)  # 3 (priority -1) gets the quota error
    pool.disable(2, "manual")
    lease = await pool.acquire()
    pool.report_success(lease)
    rows = {row.id: row for row in pool.snapshot()}
    assert [row.id for row in pool.snapshot()] == [3, 1, 2]
    assert rows[3].state is Availability.COOLING
    assert rows[3].reason == "quota_exceeded"
    assert rows[3].cooldown_until == datetime(2026, 6, 1, tzinfo=UTC)
    assert rows[3].error_count == 1
    assert rows[2].state is Availability.DISABLED
    assert (rows[2].reason, rows[2].detail) == ("manual", "manual")
    assert rows[1].state is Availability.READY
    assert (rows[1].in_flight, rows[1].success_count, rows[1].current) == (1, 1, True)
    assert rows[1].last_used == clock.now
    assert rows[1].label == "user1@example.com"
    await lease.release()
    assert pool.snapshot()[1].in_flight == 0


async def test_no_credential_available_summarises_why(clock: FakeTime) -> None:
    pool = make_pool(3, clock, failure_threshold=1)
    await fail(pool, QUOTA)
    pool.disable(2)
    pool.disable(3, reason=DisableReason.INVALID_REFRESH_TOKEN)
    with pytest.raises(NoCredentialAvailable) as caught:
        await pool.acquire()
    assert caught.value.message == (
        "no usable credential (3 credentials: 1 cooling down until 2026-06-01T00:00:00Z "
        "(quota_exceeded), 2 disabled (invalid_refresh_token, manual))"
    )
    assert (
        caught.value.retry_after == (datetime(2026, 6, 1, tzinfo=UTC) - clock.now).total_seconds()
    )


async def test_no_credential_available_names_credentials_already_tried(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    with pytest.raises(NoCredentialAvailable, match="1 already failed for this request"):
        await pool.acquire(exclude={1})


async def test_empty_pool_says_no_credentials_configured(clock: FakeTime) -> None:
    pool = make_pool([], clock)
    with pytest.raises(NoCredentialAvailable, match="no credentials configured"):
        await pool.acquire()


# ------------------------------------------------------------ the state store


class RecordingState(InMemoryPoolState):
    def __init__(self) -> None:
        super().__init__()
        self.updates: list[int] = []

    def update(self, credential_id: int, transition: Transition) -> CredentialState:
        self.updates.append(credential_id)
        return super().update(credential_id, transition)


async def test_every_state_change_goes_through_the_store(clock: FakeTime) -> None:
    store = RecordingState()
    pool = CredentialPool(
        credentials(2), PoolSettings(), state=store, wall=clock.wall, clock=clock.clock
    )
    await pick(pool)  # selected + success
    await fail(pool, QUOTA)  # selected + failure + cooldown
    pool.disable(2)
    assert store.updates == [1, 1, 1, 1, 1, 2]


def test_a_stored_state_survives_a_new_pool(clock: FakeTime) -> None:
    store = InMemoryPoolState()
    first = CredentialPool(credentials(1), state=store, wall=clock.wall)
    first.disable(1, "kept")
    second = CredentialPool(credentials(1), state=store, wall=clock.wall)
    assert second.state_of(1).disabled_detail == "kept"


def test_serves_model_follows_the_enabled_credentials_plans(clock: FakeTime) -> None:
    pool = make_pool(
        [
            credential(1, subscription_title="KIRO FREE"),
            credential(2, subscription_title="KIRO PRO"),
        ],
        clock,
    )
    assert pool.serves_model("claude-opus-4.6")
    pool.disable(2)
    assert not pool.serves_model("claude-opus-4.6")
    assert pool.serves_model("claude-sonnet-4.6")


def test_serves_model_counts_disabled_plans_when_nothing_is_enabled(clock: FakeTime) -> None:
    pool = make_pool([credential(1, subscription_title="KIRO PRO")], clock)
    pool.disable(1)
    assert pool.serves_model("claude-opus-4.6")


def test_an_empty_pool_lists_every_model(clock: FakeTime) -> None:
    assert make_pool([], clock).serves_model("claude-opus-4.6")


async def test_a_failed_refresh_rests_the_credential_for_its_backoff(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    cid, reaction = await fail(pool, RefreshFailed("refresh 503", status=503, retry_after=8.0))
    assert (cid, reaction) == (1, Reaction.FAILOVER)
    assert pool.state_of(1).cooldown_until == clock.now + timedelta(seconds=8)
    assert pool.state_of(1).cooldown_reason is CooldownReason.REFRESH_FAILED
    assert await pick(pool) == 2


async def test_a_refresh_failure_without_a_backoff_does_not_rest_the_credential(
    clock: FakeTime,
) -> None:
    pool = make_pool(1, clock)
    await fail(pool, RefreshFailed("refresh 503", status=503))
    assert pool.state_of(1).cooldown_until is None


async def test_unavailable_reason_says_why_nothing_can_serve(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    assert pool.unavailable_reason() is None
    await fail(pool, RefreshFailed("refresh 503", status=503, retry_after=30.0))
    reason = pool.unavailable_reason()
    assert reason is not None and "refresh_failed" in reason
    assert pool.state_of(1).disabled_reason is None  # asking heals nothing


async def test_self_healing_keeps_the_rest_of_a_credential_whose_refresh_fails(
    clock: FakeTime,
) -> None:
    pool = make_pool(1, clock, failure_threshold=1, queue_timeout=0)
    await fail(pool, RefreshFailed("refresh 503", status=503, retry_after=30.0))
    assert pool.state_of(1).disabled_reason is DisableReason.TOO_MANY_REFRESH_FAILURES
    with pytest.raises(NoCredentialAvailable) as caught:
        await pool.acquire()  # heals the disable, but the credential still rests
    assert caught.value.retry_after == pytest.approx(30.0)
    assert pool.state_of(1).disabled_reason is None
    clock.now += timedelta(seconds=31)
    assert await pick(pool) == 1


def test_seconds_until_usable_is_zero_then_the_soonest_cooldown_then_none(
    clock: FakeTime,
) -> None:
    pool = make_pool(2, clock)
    assert pool.seconds_until_usable() == 0.0
    pool.mark_exhausted(1, until=clock.now + timedelta(seconds=40))
    pool.mark_exhausted(2, until=clock.now + timedelta(seconds=25))
    assert pool.seconds_until_usable() == pytest.approx(25.0)
    pool.disable(2)
    assert pool.seconds_until_usable() == pytest.approx(40.0)
    pool.disable(1)
    assert pool.seconds_until_usable() is None


# ---------------------------------------------------------------- state events


async def test_transitions_are_published_and_none_left_says_so(clock: FakeTime) -> None:
    from kirogate.errors import InvalidGrant, QuotaExhausted
    from kirogate.events import EventBus

    pool = make_pool(2, clock)
    pool.events = bus = EventBus()
    seen = bus.subscribe()
    lease = await pool.acquire()
    pool.report_failure(lease, InvalidGrant("Invalid refresh token provided"))
    await lease.release()
    event = await seen.get()
    assert event.kind == "credential.state"
    assert event.data["state"] == "disabled" and event.data["reason"] == "invalid_refresh_token"
    lease = await pool.acquire()
    pool.report_failure(lease, QuotaExhausted("402 MONTHLY_REQUEST_COUNT"))
    await lease.release()
    cooling = await seen.get()
    assert cooling.data["state"] == "cooling" and cooling.data["reason"] == "quota_exceeded"
    assert cooling.data["until"] is not None
    assert (await seen.get()).kind == "pool.unusable"
    pool.enable(lease.id if lease.id != cooling.data["id"] else event.data["id"])
    assert (await seen.get()).data["state"] == "enabled"


def test_nobody_watching_publishes_nothing(clock: FakeTime) -> None:
    from kirogate.events import EventBus

    pool = make_pool(1, clock)
    pool.events = EventBus()
    pool.disable(1, "x")  # no subscriber: no event is even built
    assert not pool.events.watched
