"""``evolve``: the cheaper ``dataclasses.replace`` the pool's transitions use."""

import dataclasses
from datetime import UTC, datetime

import pytest

from kirogate.pool.state import (
    STATE_FIELD_NAMES,
    CooldownReason,
    CredentialState,
    DisableReason,
    evolve,
    with_selected,
    with_success,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FULL = CredentialState(
    id=7,
    priority=2,
    weight=0.5,
    disabled_reason=DisableReason.MANUAL,
    disabled_detail="by hand",
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


def test_every_field_is_copied_and_changes_applied() -> None:
    assert evolve(FULL) == FULL
    assert evolve(FULL, success_count=10, last_error=None) == dataclasses.replace(
        FULL, success_count=10, last_error=None
    )
    assert tuple(f.name for f in dataclasses.fields(CredentialState)) == STATE_FIELD_NAMES


def test_the_copy_is_a_new_frozen_record() -> None:
    copy = evolve(FULL, priority=5)
    assert copy is not FULL and FULL.priority == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        copy.priority = 1  # type: ignore[misc]
    assert hash(evolve(FULL)) == hash(FULL)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(TypeError, match="no field 'nope'"):
        evolve(FULL, nope=1)


def test_per_request_transitions_match_replace() -> None:
    assert with_selected(FULL, NOW) == dataclasses.replace(FULL, last_used=NOW)
    assert with_success(FULL, NOW) == dataclasses.replace(
        FULL, failure_count=0, throttle_count=0, success_count=10, last_used=NOW
    )
