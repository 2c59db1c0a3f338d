from __future__ import annotations

import random

import pytest

from kirogate.errors import (
    CorruptFrame,
    CredentialUnusable,
    InvalidGrant,
    InvalidRequest,
    QuotaExhausted,
    RefreshFailed,
    TruncatedStream,
    UpstreamAuthRejected,
    UpstreamBadRequest,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamForbidden,
    UpstreamInputTooLong,
    UpstreamStreamException,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kirogate.pool import CooldownReason, DisableReason, FailureKind, Reaction, classify_failure
from kirogate.pool.reactions import Decision, backoff_delay, decide


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (UpstreamBadRequest("bad", upstream_status=400), FailureKind.BAD_REQUEST),
        (UpstreamInputTooLong("too long", upstream_status=400), FailureKind.BAD_REQUEST),
        (UpstreamError("gone", upstream_status=404), FailureKind.BAD_REQUEST),
        (InvalidRequest("client mistake"), FailureKind.BAD_REQUEST),
        (ValueError("a bug"), FailureKind.BAD_REQUEST),
        (QuotaExhausted("quota", upstream_status=402), FailureKind.QUOTA),
        (UpstreamThrottled("slow", retry_after=1.0), FailureKind.THROTTLED),
        (UpstreamAuthRejected("bearer", upstream_status=403), FailureKind.AUTH_REJECTED),
        (UpstreamForbidden("no", upstream_status=403), FailureKind.FORBIDDEN),
        (
            UpstreamForbidden("no", upstream_status=403, reason="TEMPORARILY_SUSPENDED"),
            FailureKind.SUSPENDED,
        ),
        (InvalidGrant("Invalid refresh token provided"), FailureKind.INVALID_GRANT),
        (RefreshFailed("refresh 503", status=503), FailureKind.REFRESH_FAILED),
        (CredentialUnusable("header refused"), FailureKind.UNUSABLE),
        (UpstreamUnavailable("5xx", upstream_status=503), FailureKind.TRANSIENT),
        (UpstreamTimeout("slow", upstream_status=408), FailureKind.TRANSIENT),
        (UpstreamConnectionError("reset"), FailureKind.TRANSIENT),
        (UpstreamStreamException("InternalFailure", "oops"), FailureKind.TRANSIENT),
        (CorruptFrame("bad crc"), FailureKind.TRANSIENT),
        (TruncatedStream("cut"), FailureKind.TRANSIENT),
        (UpstreamError("no status"), FailureKind.TRANSIENT),
    ],
)
def test_each_error_class_has_its_failure_kind(error: Exception, kind: FailureKind) -> None:
    assert classify_failure(error) is kind


def test_backoff_doubles_from_200ms() -> None:
    delays = [
        backoff_delay(n, base=0.2, cap=2.0, jitter=0.0, rng=random.Random(1)) for n in range(6)
    ]
    assert delays == pytest.approx([0.2, 0.4, 0.8, 1.6, 2.0, 2.0])


def test_backoff_adds_at_most_a_quarter_of_jitter() -> None:
    rng = random.Random(3)
    delays = [backoff_delay(4, base=0.2, cap=2.0, jitter=0.25, rng=rng) for _ in range(200)]
    assert all(2.0 <= delay <= 2.5 for delay in delays)
    assert len(set(delays)) > 1


def test_decide_retries_transient_errors_until_the_credential_budget_is_spent() -> None:
    reactions = [
        decide(FailureKind.TRANSIENT, failures=n, refreshed=False, attempts_per_credential=3)
        for n in (1, 2, 3)
    ]
    assert [d.reaction for d in reactions] == [
        Reaction.RETRY_SAME,
        Reaction.RETRY_SAME,
        Reaction.FAILOVER,
    ]
    assert [d.counts for d in reactions] == [False, False, True]


def test_decide_refreshes_a_refused_token_only_once() -> None:
    first = decide(
        FailureKind.AUTH_REJECTED, failures=1, refreshed=False, attempts_per_credential=3
    )
    again = decide(FailureKind.AUTH_REJECTED, failures=2, refreshed=True, attempts_per_credential=3)
    assert first == Decision(Reaction.FORCE_REFRESH_THEN_RETRY)
    assert again == Decision(Reaction.FAILOVER, counts=True)


@pytest.mark.parametrize(
    ("kind", "decision"),
    [
        (FailureKind.BAD_REQUEST, Decision(Reaction.FAIL, record=False)),
        (FailureKind.QUOTA, Decision(Reaction.FAILOVER, cooldown=CooldownReason.QUOTA_EXCEEDED)),
        (FailureKind.THROTTLED, Decision(Reaction.FAILOVER, cooldown=CooldownReason.THROTTLED)),
        (FailureKind.SUSPENDED, Decision(Reaction.FAILOVER, cooldown=CooldownReason.SUSPENDED)),
        (
            FailureKind.INVALID_GRANT,
            Decision(Reaction.FAILOVER, disable=DisableReason.INVALID_REFRESH_TOKEN),
        ),
        (FailureKind.FORBIDDEN, Decision(Reaction.FAILOVER, counts=True)),
        (FailureKind.UNUSABLE, Decision(Reaction.FAILOVER, disable=DisableReason.INVALID_CONFIG)),
        (
            FailureKind.REFRESH_FAILED,
            Decision(
                Reaction.FAILOVER,
                counts=True,
                cooldown=CooldownReason.REFRESH_FAILED,
                threshold_reason=DisableReason.TOO_MANY_REFRESH_FAILURES,
            ),
        ),
    ],
)
def test_decide_table(kind: FailureKind, decision: Decision) -> None:
    assert decide(kind, failures=1, refreshed=False, attempts_per_credential=3) == decision
