"""Why no credential was usable: the transient 503 and the two permanent 4xx conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kirogate.errors import (
    CredentialsDisabled,
    ModelNotAllowed,
    NoCredentialAvailable,
    NoCredentialConfigured,
)
from kirogate.pool.state import CooldownReason, CredentialState, DisableReason
from kirogate.pool.status import unavailable
from tests.pool.fakes import credential

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_an_empty_pool_is_a_403_naming_the_commands_that_add_one() -> None:
    error = unavailable([], now=NOW, model=None, exclude=(), limit=0)
    assert isinstance(error, NoCredentialConfigured)
    assert error.status == 403
    assert "kirogate login" in error.message
    assert "kirogate accounts add" in error.message


def test_a_model_no_plan_allows_is_a_404_whatever_the_states() -> None:
    entries = [
        (credential(1, subscription_title="KIRO FREE"), CredentialState(1), True),
        (
            credential(2, subscription_title="KIRO FREE"),
            CredentialState(2, disabled_reason=DisableReason.MANUAL),
            True,
        ),
    ]
    error = unavailable(entries, now=NOW, model="claude-opus-4.6", exclude=(), limit=0)
    assert isinstance(error, ModelNotAllowed)
    assert error.status == 404
    assert "1 not allowed to use claude-opus-4.6 (FREE tier), 1 disabled for good" in error.message


def test_a_dead_pro_credential_does_not_keep_opus_allowed() -> None:
    entries = [
        (credential(1, subscription_title="KIRO FREE"), CredentialState(1), True),
        (
            credential(2, subscription_title="KIRO PRO"),
            CredentialState(2, disabled_reason=DisableReason.INVALID_REFRESH_TOKEN),
            True,
        ),
    ]
    error = unavailable(entries, now=NOW, model="claude-opus-4.6", exclude=(), limit=0)
    assert isinstance(error, ModelNotAllowed)


def test_a_resting_credential_whose_plan_allows_the_model_keeps_the_503() -> None:
    entries = [
        (credential(1, subscription_title="KIRO FREE"), CredentialState(1), True),
        (
            credential(2, subscription_title="KIRO PRO"),
            CredentialState(
                2,
                cooldown_until=NOW + timedelta(minutes=5),
                cooldown_reason=CooldownReason.THROTTLED,
            ),
            True,
        ),
    ]
    error = unavailable(entries, now=NOW, model="claude-opus-4.6", exclude=(), limit=0)
    assert type(error) is NoCredentialAvailable
    assert error.status == 503
    assert error.retry_after == 300


def test_a_pool_disabled_for_good_is_a_403_naming_the_fixes() -> None:
    entries = [
        (
            credential(1),
            CredentialState(1, disabled_reason=DisableReason.INVALID_REFRESH_TOKEN),
            True,
        ),
        (credential(2), CredentialState(2, disabled_reason=DisableReason.MANUAL), True),
    ]
    error = unavailable(entries, now=NOW, model=None, exclude=(), limit=0)
    assert isinstance(error, CredentialsDisabled) and error.status == 403
    assert "2 disabled (invalid_refresh_token, manual)" in error.message
    assert "kirogate login" in error.message and "kirogate accounts enable" in error.message


def test_a_pool_disabled_for_failures_may_heal_and_keeps_the_503() -> None:
    entries = [
        (credential(1), CredentialState(1, disabled_reason=DisableReason.TOO_MANY_FAILURES), True)
    ]
    error = unavailable(entries, now=NOW, model=None, exclude=(), limit=0)
    assert type(error) is NoCredentialAvailable and error.status == 503
