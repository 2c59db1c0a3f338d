"""What the admin API shows about each credential, and why none was usable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from kirogate.errors import (
    CredentialsDisabled,
    ModelNotAllowed,
    NoCredentialAvailable,
    NoCredentialConfigured,
)
from kirogate.pool.policy import allows_model
from kirogate.pool.state import HEALABLE, CooldownReason, CredentialState
from kirogate.upstream.credentials import Credential


class Availability(StrEnum):
    READY = "ready"
    BUSY = "busy"  # at its concurrency limit
    COOLING = "cooling"  # resting until cooldown_until (429, quota, suspension)
    DISABLED = "disabled"  # out until enabled (manually or by self-healing)


@dataclass(frozen=True, slots=True)
class CredentialStatus:
    """One row of the pool for the admin API; no secrets."""

    id: int
    label: str
    priority: int
    weight: float
    state: Availability
    reason: str | None  # the DisableReason or CooldownReason value
    detail: str | None  # a human message: the manual reason or the error that caused it
    cooldown_until: datetime | None
    failure_count: int
    success_count: int
    error_count: int
    last_used: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    in_flight: int
    current: bool  # priority mode's sticky credential
    subscription_title: str | None


def describe_status(
    credential: Credential,
    state: CredentialState,
    *,
    now: datetime,
    in_flight: int,
    limit: int,
    current: bool,
) -> CredentialStatus:
    if state.disabled_reason is not None:
        availability, reason, detail = (
            Availability.DISABLED,
            state.disabled_reason.value,
            state.disabled_detail,
        )
    elif state.cooling(now) and state.cooldown_reason is not None:
        availability, reason, detail = (
            Availability.COOLING,
            state.cooldown_reason.value,
            state.last_error,
        )
    elif limit > 0 and in_flight >= limit:
        availability, reason, detail = Availability.BUSY, None, None
    else:
        availability, reason, detail = Availability.READY, None, None
    return CredentialStatus(
        id=state.id,
        label=credential.label,
        priority=state.priority,
        weight=state.weight,
        state=availability,
        reason=reason,
        detail=detail,
        cooldown_until=state.cooldown_until if state.cooling(now) else None,
        failure_count=state.failure_count,
        success_count=state.success_count,
        error_count=state.error_count,
        last_used=state.last_used,
        last_error=state.last_error,
        last_error_at=state.last_error_at,
        in_flight=in_flight,
        current=current,
        subscription_title=credential.subscription_title,
    )


_HEALABLE_VALUES = frozenset(reason.value for reason in HEALABLE)
NO_CREDENTIAL_MESSAGE = (
    "no credentials configured: kirogate has no Kiro credential to answer with; run "
    "`kirogate login`, or add one with `kirogate accounts add` or `kirogate accounts import FILE`"
)


def disabled_for_good(state: CredentialState) -> bool:
    """Disabled for a reason nothing heals by itself: only an operator brings it back."""
    reason = state.disabled_reason
    return reason is not None and reason not in HEALABLE


def state_text(state: CredentialState | None, now: datetime) -> str:
    """A credential's state in words, as the serve banner shows it.

    ``ready``, ``disabled (reason: detail)``, ``quota used up until ...`` or ``cooling down
    until ... (reason)``; a credential with no stored state yet is ready.
    """
    if state is None:
        return "ready"
    if state.disabled_reason is not None:
        detail = f": {state.disabled_detail}" if state.disabled_detail else ""
        return f"disabled ({state.disabled_reason.value}{detail})"
    if state.cooling(now) and state.cooldown_until is not None:
        until = state.cooldown_until.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        if state.cooldown_reason is CooldownReason.QUOTA_EXCEEDED:
            return f"quota used up until {until}"
        reason = state.cooldown_reason.value if state.cooldown_reason else "cooldown"
        return f"cooling down until {until} ({reason})"
    return "ready"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def unavailable(
    entries: Iterable[tuple[Credential, CredentialState, bool]],
    *,
    now: datetime,
    model: str | None,
    exclude: Collection[int],
    limit: int,
) -> NoCredentialAvailable:
    """The error naming why no credential could serve the request.

    ``entries`` are (credential, state, has a free slot). For example: "no usable
    credential (3 credentials: 1 cooling down until 2026-06-01T00:00:00Z (quota_exceeded),
    2 disabled (too_many_failures))". The permanent cases are their own classes: an empty
    pool is :class:`NoCredentialConfigured`, a pool disabled for reasons nothing heals is
    :class:`CredentialsDisabled`, a model that no credential's plan allows (counting those
    not disabled for good, whatever their state) is :class:`ModelNotAllowed`.
    """
    total = 0
    plan_allows = False
    healable = False
    disabled: Counter[str] = Counter()
    cooling: list[tuple[datetime, str]] = []
    excluded = wrong_tier = busy = 0
    for credential, state, has_room in entries:
        total += 1
        if not disabled_for_good(state):
            plan_allows = plan_allows or allows_model(credential, model)
        if state.disabled_reason is not None:
            disabled[state.disabled_reason.value] += 1
            healable = healable or state.disabled_reason in HEALABLE
        elif state.cooling(now) and state.cooldown_until is not None:
            reason = state.cooldown_reason.value if state.cooldown_reason else "cooling"
            cooling.append((state.cooldown_until, reason))
        elif state.id in exclude:
            excluded += 1
        elif not allows_model(credential, model):
            wrong_tier += 1
        elif not has_room:
            busy += 1
    if total == 0:
        return NoCredentialConfigured(NO_CREDENTIAL_MESSAGE)
    dead = sum(count for reason, count in disabled.items() if reason not in _HEALABLE_VALUES)
    if dead < total and not plan_allows:
        why = f"{total - dead} not allowed to use {model} (FREE tier)"
        if dead:
            why += f", {dead} disabled for good"
        return ModelNotAllowed(
            f"model {model} is not available on this account's plan "
            f"({_plural(total, 'credential')}: {why}); pick another model (GET /v1/models "
            "lists them) or add a credential whose plan includes it"
        )
    parts = []
    retry_after = None
    if cooling:
        first = min(until for until, _ in cooling)
        reasons = ", ".join(sorted({reason for _, reason in cooling}))
        when = first.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(f"{len(cooling)} cooling down until {when} ({reasons})")
        retry_after = max((first - now).total_seconds(), 0.0)
    if disabled:
        reasons = ", ".join(f"{reason}" for reason in sorted(disabled))
        parts.append(f"{sum(disabled.values())} disabled ({reasons})")
    if excluded:
        parts.append(f"{excluded} already failed for this request")
    if wrong_tier:
        parts.append(f"{wrong_tier} not allowed to use {model} (FREE tier)")
    if busy:
        parts.append(f"{busy} busy (limit: {limit} at once)")
    summary = ", ".join(parts) or "none ready"
    message = f"no usable credential ({_plural(total, 'credential')}: {summary})"
    if sum(disabled.values()) == total and not healable:
        return CredentialsDisabled(
            f"{message}; none comes back by itself: log in again (`kirogate login`) or import "
            "a fresh token (`kirogate accounts import FILE`), or put one back with "
            "`kirogate accounts enable ID`"
        )
    return NoCredentialAvailable(message, retry_after=retry_after)
