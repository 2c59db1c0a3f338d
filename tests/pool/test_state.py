from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kirogate.pool import CooldownReason, CredentialState, DisableReason, InMemoryPoolState
from kirogate.pool import state as transitions

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)


def test_ensure_keeps_a_stored_record() -> None:
    store = InMemoryPoolState()
    store.ensure(CredentialState(id=1, success_count=5))
    assert store.ensure(CredentialState(id=1)).success_count == 5


def test_update_of_an_unknown_id_raises_key_error() -> None:
    with pytest.raises(KeyError):
        InMemoryPoolState().update(1, transitions.with_enabled)


def test_heal_reenables_only_failure_disables() -> None:
    store = InMemoryPoolState()
    store.ensure(
        CredentialState(id=1, disabled_reason=DisableReason.TOO_MANY_FAILURES, failure_count=3)
    )
    store.ensure(CredentialState(id=2, disabled_reason=DisableReason.TOO_MANY_REFRESH_FAILURES))
    store.ensure(CredentialState(id=3, disabled_reason=DisableReason.MANUAL))
    assert store.heal() == [1, 2]
    assert [store.get(cid).disabled for cid in (1, 2, 3)] == [False, False, True]
    assert store.get(1).failure_count == 0


def test_a_longer_cooldown_is_not_shortened() -> None:
    long = transitions.with_cooldown(
        CredentialState(id=1), NOW + timedelta(days=10), CooldownReason.QUOTA_EXCEEDED
    )
    after = transitions.with_cooldown(long, NOW + timedelta(seconds=10), CooldownReason.THROTTLED)
    assert after.cooldown_reason is CooldownReason.QUOTA_EXCEEDED


def test_success_clears_consecutive_counters_and_keeps_totals() -> None:
    state = CredentialState(id=1, failure_count=2, throttle_count=3, error_count=7)
    after = transitions.with_success(state, NOW)
    assert (after.failure_count, after.throttle_count, after.error_count) == (0, 0, 7)
    assert (after.success_count, after.last_used) == (1, NOW)


def test_records_are_frozen() -> None:
    with pytest.raises(AttributeError):
        CredentialState(id=1).success_count = 3  # type: ignore[misc]
