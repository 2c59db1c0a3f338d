from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kirogate.cluster.changes import PendingChange, initial_change
from kirogate.pool import state as transitions
from kirogate.pool.state import CooldownReason, CredentialState, DisableReason

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)


def recorded(*steps: transitions.Transition, start: CredentialState | None = None) -> PendingChange:
    state = start or CredentialState(id=1)
    change = PendingChange()
    for step in steps:
        new = step(state)
        change.record(state, new)
        state = new
    return change


def test_a_grown_counter_becomes_an_increment() -> None:
    change = recorded(lambda s: transitions.with_success(s, NOW))
    assert change.increments == {"success_count": 1}
    assert change.sets == {"last_used": NOW}


def test_repeated_growth_is_coalesced_into_one_increment() -> None:
    change = recorded(*[lambda s: transitions.with_success(s, NOW)] * 5)
    assert change.increments == {"success_count": 5}


def test_a_counter_reset_is_a_set_that_replaces_its_increment() -> None:
    fail = lambda s: transitions.with_failure(s, NOW, "boom", consecutive=True)  # noqa: E731
    change = recorded(fail, fail, lambda s: transitions.with_success(s, NOW))
    assert change.sets["failure_count"] == 0
    assert "failure_count" not in change.increments
    assert change.increments == {"error_count": 2, "success_count": 1}


def test_growth_after_a_reset_stays_absolute() -> None:
    start = CredentialState(id=1, failure_count=4)
    change = recorded(
        lambda s: transitions.with_success(s, NOW),
        lambda s: transitions.with_failure(s, NOW, "x", consecutive=True),
        start=start,
    )
    assert change.sets["failure_count"] == 1
    assert "failure_count" not in change.increments


def test_unchanged_fields_are_not_written() -> None:
    change = recorded(lambda s: transitions.with_priority(s, 0))
    assert not change


def test_the_later_value_of_a_field_wins() -> None:
    change = recorded(
        lambda s: transitions.with_disabled(s, DisableReason.MANUAL, "ops"),
        transitions.with_enabled,
    )
    assert change.sets["disabled_reason"] is None
    assert change.sets["disabled_detail"] is None


def test_availability_changes_are_significant_and_counters_are_not() -> None:
    assert not recorded(lambda s: transitions.with_success(s, NOW)).significant
    cooled = recorded(
        lambda s: transitions.with_cooldown(
            s, NOW + timedelta(seconds=60), CooldownReason.THROTTLED
        )
    )
    assert cooled.significant
    assert recorded(lambda s: transitions.with_weight(s, 2.0)).significant


def test_apply_adds_increments_to_the_loaded_record_and_overrides_sets() -> None:
    change = recorded(
        lambda s: transitions.with_success(s, NOW),
        lambda s: transitions.with_disabled(s, DisableReason.MANUAL, None),
    )
    loaded = CredentialState(id=1, success_count=10, error_count=3)
    after = change.apply(loaded)
    assert (after.success_count, after.error_count) == (11, 3)
    assert after.disabled_reason is DisableReason.MANUAL


def test_merging_an_older_batch_keeps_its_increments_and_newer_sets() -> None:
    older = PendingChange(sets={"last_error": "old", "priority": 3}, increments={"error_count": 2})
    newer = PendingChange(sets={"last_error": "new"}, increments={"error_count": 1})
    newer.merge_older(older)
    assert newer.sets == {"last_error": "new", "priority": 3}
    assert newer.increments == {"error_count": 3}


def test_merging_an_older_counter_set_under_newer_growth_stays_absolute() -> None:
    older = PendingChange(sets={"failure_count": 0})
    newer = PendingChange(increments={"failure_count": 2})
    newer.merge_older(older)
    assert newer.sets == {"failure_count": 2}
    assert newer.increments == {}


def test_an_older_increment_under_a_newer_set_is_dropped() -> None:
    older = PendingChange(increments={"failure_count": 2})
    newer = PendingChange(sets={"failure_count": 0})
    newer.merge_older(older)
    assert newer.sets == {"failure_count": 0}
    assert newer.increments == {}


def test_initial_change_holds_only_non_default_fields() -> None:
    state = CredentialState(id=4, priority=2, disabled_reason=DisableReason.MANUAL)
    assert initial_change(state).sets == {"priority": 2, "disabled_reason": DisableReason.MANUAL}
    assert not initial_change(CredentialState(id=5))


def test_every_field_that_differs_is_recorded_and_only_those() -> None:
    full = CredentialState(
        id=1,
        priority=2,
        weight=0.5,
        disabled_reason=DisableReason.MANUAL,
        disabled_detail="ops",
        cooldown_until=NOW,
        cooldown_reason=CooldownReason.THROTTLED,
        failure_count=3,
        throttle_count=1,
        success_count=9,
        error_count=4,
        last_used=NOW,
        last_error="boom",
        last_error_at=NOW,
        remaining_share=0.25,
    )
    change = PendingChange()
    change.record(CredentialState(id=1), full)
    assert change.increments == {
        "failure_count": 3,
        "throttle_count": 1,
        "success_count": 9,
        "error_count": 4,
    }
    assert set(change.sets) == {
        "priority",
        "weight",
        "disabled_reason",
        "disabled_detail",
        "cooldown_until",
        "cooldown_reason",
        "last_used",
        "last_error",
        "last_error_at",
        "remaining_share",
    }
    back = PendingChange()
    back.record(full, transitions.evolve(full, priority=5))
    assert back.sets == {"priority": 5} and not back.increments
