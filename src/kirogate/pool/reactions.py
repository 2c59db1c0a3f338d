"""What a failed attempt means for the credential and for the request.

:func:`classify_failure` sorts an exception into a :class:`FailureKind`; :func:`decide`
turns the kind into a :class:`Decision` (state changes plus the :class:`Reaction` the
failover loop carries out). Both are pure; the pool applies the decision.

    kind            error class                               credential              request
    BAD_REQUEST     UpstreamBadRequest, other 4xx, non-upstream  -                    FAIL
    QUOTA           QuotaExhausted (402)                      cool down until reset   FAILOVER
    THROTTLED       UpstreamThrottled (429)                   cool down (backoff)     FAILOVER
    AUTH_REJECTED   UpstreamAuthRejected (401/403 bearer)     refresh once, then +1   RETRY / FAILOVER
    SUSPENDED       UpstreamForbidden TEMPORARILY_SUSPENDED   cool down 24 h          FAILOVER
    FORBIDDEN       UpstreamForbidden (other 403)             +1 failure              FAILOVER
    INVALID_GRANT   InvalidGrant                              disabled                FAILOVER
    REFRESH_FAILED  RefreshFailed                             +1 failure, cool down   FAILOVER
    UNUSABLE        CredentialUnusable (request not buildable) disabled (invalid_config) FAILOVER
    TRANSIENT       5xx, 408, timeout, network, bad stream    +1 once given up on     RETRY, then FAILOVER
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from kirogate.errors import (
    CredentialUnusable,
    EventStreamError,
    InvalidGrant,
    QuotaExhausted,
    RefreshFailed,
    UpstreamAuthRejected,
    UpstreamBadRequest,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamForbidden,
    UpstreamStreamException,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kirogate.pool.state import CooldownReason, DisableReason
from kirogate.upstream.credentials import Credential

# Supplies a credential's quota reset date from usage data (None: unknown).
QuotaResetHook = Callable[[Credential], datetime | None]

_SUSPENDED_MARKERS = ("TEMPORARILY_SUSPENDED", "temporarily is suspended")


class Reaction(StrEnum):
    """What the failover loop does after a failed attempt."""

    RETRY_SAME = "retry_same"  # back off, then try the same credential again
    FORCE_REFRESH_THEN_RETRY = "force_refresh_then_retry"  # refresh its token, retry at once
    FAILOVER = "failover"  # leave this credential for the rest of the request
    FAIL = "fail"  # raise the error now


class FailureKind(StrEnum):
    BAD_REQUEST = "bad_request"
    QUOTA = "quota"
    THROTTLED = "throttled"
    AUTH_REJECTED = "auth_rejected"
    SUSPENDED = "suspended"
    FORBIDDEN = "forbidden"
    INVALID_GRANT = "invalid_grant"
    REFRESH_FAILED = "refresh_failed"
    UNUSABLE = "unusable"
    TRANSIENT = "transient"


def classify_failure(error: BaseException) -> FailureKind:
    """The kind of ``error``; anything unknown is a :attr:`FailureKind.BAD_REQUEST` (not retried)."""
    match error:
        case UpstreamBadRequest():
            return FailureKind.BAD_REQUEST
        case QuotaExhausted():
            return FailureKind.QUOTA
        case UpstreamThrottled():
            return FailureKind.THROTTLED
        case UpstreamAuthRejected():
            return FailureKind.AUTH_REJECTED
        case UpstreamForbidden():
            text = f"{error.reason or ''} {error.message} {error.body or ''}"
            if any(marker in text for marker in _SUSPENDED_MARKERS):
                return FailureKind.SUSPENDED
            return FailureKind.FORBIDDEN
        case InvalidGrant():
            return FailureKind.INVALID_GRANT
        case CredentialUnusable():
            return FailureKind.UNUSABLE
        case RefreshFailed():
            return FailureKind.REFRESH_FAILED
        case (
            UpstreamUnavailable()
            | UpstreamTimeout()
            | UpstreamConnectionError()
            | UpstreamStreamException()
            | EventStreamError()
        ):
            return FailureKind.TRANSIENT
        case UpstreamError():
            # kiro.rs: other 4xx fail at once; an unknown status or a 5xx is worth a retry.
            status = error.upstream_status
            if status is not None and 400 <= status < 500:
                return FailureKind.BAD_REQUEST
            return FailureKind.TRANSIENT
    return FailureKind.BAD_REQUEST


@dataclass(frozen=True, slots=True)
class Decision:
    """What one failure does to its credential, and the request's next step."""

    reaction: Reaction
    record: bool = True  # note the error on the credential (error_count, last_error)
    counts: bool = False  # one more toward the consecutive-failure threshold
    cooldown: CooldownReason | None = None
    disable: DisableReason | None = None  # at once
    threshold_reason: DisableReason = DisableReason.TOO_MANY_FAILURES


def decide(
    kind: FailureKind, *, failures: int, refreshed: bool, attempts_per_credential: int
) -> Decision:
    """The decision for the ``failures``-th failure of a credential within one request."""
    more = failures < attempts_per_credential
    match kind:
        case FailureKind.BAD_REQUEST:
            return Decision(Reaction.FAIL, record=False)  # the request's fault, not the account's
        case FailureKind.QUOTA:
            return Decision(Reaction.FAILOVER, cooldown=CooldownReason.QUOTA_EXCEEDED)
        case FailureKind.THROTTLED:
            return Decision(Reaction.FAILOVER, cooldown=CooldownReason.THROTTLED)
        case FailureKind.SUSPENDED:
            return Decision(Reaction.FAILOVER, cooldown=CooldownReason.SUSPENDED)
        case FailureKind.INVALID_GRANT:
            return Decision(Reaction.FAILOVER, disable=DisableReason.INVALID_REFRESH_TOKEN)
        case FailureKind.UNUSABLE:
            return Decision(Reaction.FAILOVER, disable=DisableReason.INVALID_CONFIG)
        case FailureKind.AUTH_REJECTED if more and not refreshed:
            # kiro.rs: "The bearer token ... is invalid" earns one forced refresh per request.
            return Decision(Reaction.FORCE_REFRESH_THEN_RETRY)
        case FailureKind.TRANSIENT if more:
            return Decision(Reaction.RETRY_SAME)
        case FailureKind.REFRESH_FAILED:
            return Decision(
                Reaction.FAILOVER,
                counts=True,
                cooldown=CooldownReason.REFRESH_FAILED,
                threshold_reason=DisableReason.TOO_MANY_REFRESH_FAILURES,
            )
    # Refused again after the refresh, other 403s, and transient errors once given up on.
    return Decision(Reaction.FAILOVER, counts=True)


def backoff_delay(
    retry: int, *, base: float, cap: float, jitter: float, rng: random.Random
) -> float:
    """kiro.rs backoff for the ``retry``-th retry (0-based): ``min(base·2^n, cap)`` + jitter."""
    delay = min(base * 2.0 ** max(retry, 0), cap)
    return delay + rng.uniform(0.0, delay * jitter)


def refresh_cooldown(error: BaseException) -> float:
    """Seconds a credential rests after a failed refresh: the refresh's own backoff."""
    wait = error.retry_after if isinstance(error, RefreshFailed) else None
    return max(wait or 0.0, 0.0)


def throttle_cooldown(error: BaseException, throttles: int, *, base: float, cap: float) -> float:
    """Seconds to rest after the ``throttles``-th 429 in a row: the upstream's hint, else backoff."""
    hint = error.retry_after if isinstance(error, UpstreamThrottled) else None
    if hint is not None:
        return min(max(hint, 0.0), cap)
    return min(base * 2.0 ** max(throttles - 1, 0), cap)


def next_month_start(now: datetime) -> datetime:
    """00:00 UTC on the first day of the month after ``now`` (AIClient-2-API's quota reset)."""
    now = now.astimezone(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)
