"""Per-credential runtime state and the :class:`PoolState` store every change goes through.

A :class:`CredentialState` is a small frozen record (counters, cooldown, disable reason).
Changes are pure transitions (``with_success``, ``with_failure``, ...) that the pool hands to
:meth:`PoolState.update`; the store applies them atomically. :class:`InMemoryPoolState` keeps
them in a dict. A database- or Redis-backed store implements the same five methods: it may
serve reads from a local copy and write behind, since the pool calls it on the hot path and
never awaits it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any


class DisableReason(StrEnum):
    """Why a credential is out of rotation until someone (or self-healing) enables it."""

    MANUAL = "manual"
    TOO_MANY_FAILURES = "too_many_failures"
    TOO_MANY_REFRESH_FAILURES = "too_many_refresh_failures"
    INVALID_REFRESH_TOKEN = "invalid_refresh_token"
    INVALID_CONFIG = "invalid_config"


# kiro.rs re-enables these (and only these) when every credential is down.
HEALABLE: frozenset[DisableReason] = frozenset(
    {DisableReason.TOO_MANY_FAILURES, DisableReason.TOO_MANY_REFRESH_FAILURES}
)


class CooldownReason(StrEnum):
    """Why a credential is resting until a point in time; it comes back by itself."""

    THROTTLED = "throttled"  # 429
    QUOTA_EXCEEDED = "quota_exceeded"  # 402 MONTHLY_REQUEST_COUNT or usage data says 0 left
    SUSPENDED = "suspended"  # 403 TEMPORARILY_SUSPENDED
    REFRESH_FAILED = "refresh_failed"  # its token refresh failed: backing off before the next


@dataclass(frozen=True, slots=True)
class CredentialState:
    """What the pool knows about one credential at runtime. Times are wall-clock UTC."""

    id: int
    priority: int = 0
    weight: float = 1.0
    disabled_reason: DisableReason | None = None
    disabled_detail: str | None = None
    cooldown_until: datetime | None = None
    cooldown_reason: CooldownReason | None = None
    failure_count: int = 0  # consecutive failures; reset by a success
    throttle_count: int = 0  # consecutive 429s; drives the cooldown backoff
    success_count: int = 0
    error_count: int = 0  # every failure ever reported, for statistics
    last_used: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    remaining_share: float | None = None  # remaining / limit from usage data, when known

    @property
    def disabled(self) -> bool:
        return self.disabled_reason is not None

    def cooling(self, now: datetime) -> bool:
        return self.cooldown_until is not None and self.cooldown_until > now


# ---------------------------------------------------------------- transitions (pure)

STATE_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(CredentialState))
# Every field of a record at once, in declaration order (one C call).
state_values: Callable[[CredentialState], tuple[Any, ...]] = attrgetter(*STATE_FIELD_NAMES)
# Each field's slot writer (its member descriptor's ``__set__``): the way a frozen record is
# filled without ``object.__setattr__``, which costs more per field.
_SETTERS: tuple[Callable[[CredentialState, Any], None], ...] = tuple(
    getattr(CredentialState, name).__set__ for name in STATE_FIELD_NAMES
)
_SETTER_OF: dict[str, Callable[[CredentialState, Any], None]] = dict(
    zip(STATE_FIELD_NAMES, _SETTERS, strict=True)
)
_new = object.__new__


def _copier() -> Callable[[CredentialState, CredentialState], None]:
    """``copy(state, new)``: every field of ``state`` written into ``new``, one line per
    field, made here as ``dataclasses`` makes ``__init__``. Written out, each ``state.x`` is
    an attribute load the interpreter specialises for slots; a loop over ``attrgetter``'s
    tuple costs half as much again (callgrind: 15.5 k instructions more per request)."""
    lines = "".join(f"    _S[{i}](new, state.{name})\n" for i, name in enumerate(STATE_FIELD_NAMES))
    scope: dict[str, Any] = {"_S": _SETTERS}
    exec(f"def copy(state, new):\n{lines}", scope)  # only our own field names go in
    copy: Callable[[CredentialState, CredentialState], None] = scope["copy"]
    return copy


_copy = _copier()


def evolve(state: CredentialState, **changes: Any) -> CredentialState:
    """``dataclasses.replace`` for :class:`CredentialState`, at a fraction of its cost.

    Two transitions run per request (selected, success); the record has no ``__post_init__``
    and every field is an init field, so copying the slots is the same as re-initialising.
    """
    new = _new(CredentialState)
    _copy(state, new)
    for name, value in changes.items():
        change = _SETTER_OF.get(name)
        if change is None:
            raise TypeError(f"CredentialState has no field {name!r}")
        change(new, value)
    return new


def with_selected(state: CredentialState, at: datetime) -> CredentialState:
    return evolve(state, last_used=at)


def with_success(state: CredentialState, at: datetime) -> CredentialState:
    """kiro.rs ``report_success``: consecutive counters cleared, one more success."""
    return evolve(
        state,
        failure_count=0,
        throttle_count=0,
        success_count=state.success_count + 1,
        last_used=at,
    )


def with_failure(
    state: CredentialState, at: datetime, detail: str, *, consecutive: bool
) -> CredentialState:
    """One more error; ``consecutive`` also counts it toward the disable threshold."""
    return evolve(
        state,
        error_count=state.error_count + 1,
        failure_count=state.failure_count + (1 if consecutive else 0),
        last_error=detail,
        last_error_at=at,
    )


def with_throttle(state: CredentialState) -> CredentialState:
    return evolve(state, throttle_count=state.throttle_count + 1)


def with_cooldown(
    state: CredentialState, until: datetime, reason: CooldownReason
) -> CredentialState:
    """Rest until ``until``; a later cooldown already in place is kept."""
    if state.cooldown_until is not None and state.cooldown_until > until:
        return state
    return evolve(state, cooldown_until=until, cooldown_reason=reason)


def without_cooldown(state: CredentialState) -> CredentialState:
    return evolve(state, cooldown_until=None, cooldown_reason=None)


def with_disabled(
    state: CredentialState, reason: DisableReason, detail: str | None
) -> CredentialState:
    return evolve(state, disabled_reason=reason, disabled_detail=detail)


def with_enabled(state: CredentialState) -> CredentialState:
    """kiro.rs: enabling a credential also clears its failure counters."""
    return evolve(
        state, disabled_reason=None, disabled_detail=None, failure_count=0, throttle_count=0
    )


def with_reset(state: CredentialState) -> CredentialState:
    """Enabled, not cooling, consecutive counters cleared; totals are kept."""
    return without_cooldown(with_enabled(state))


def with_priority(state: CredentialState, priority: int) -> CredentialState:
    return evolve(state, priority=priority)


def with_weight(state: CredentialState, weight: float) -> CredentialState:
    return evolve(state, weight=weight)


def with_remaining_share(state: CredentialState, share: float | None) -> CredentialState:
    return evolve(state, remaining_share=share)


Transition = Callable[[CredentialState], CredentialState]


# ---------------------------------------------------------------- stores


class PoolState(ABC):
    """The store of :class:`CredentialState` records; every mutation goes through ``update``."""

    @abstractmethod
    def ensure(self, initial: CredentialState) -> CredentialState:
        """The stored record for ``initial.id``, created from ``initial`` when there is none."""

    @abstractmethod
    def get(self, credential_id: int) -> CredentialState:
        """The record for ``credential_id``; :class:`KeyError` when there is none."""

    @abstractmethod
    def all(self) -> list[CredentialState]:
        """Every record, in no particular order."""

    @abstractmethod
    def update(self, credential_id: int, transition: Transition) -> CredentialState:
        """Apply ``transition`` atomically and return the new record; :class:`KeyError` if absent."""

    @abstractmethod
    def remove(self, credential_id: int) -> None:
        """Forget the record (a missing one is fine)."""

    def heal(self, reasons: Collection[DisableReason] = HEALABLE) -> list[int]:
        """Re-enable every credential disabled for one of ``reasons``; their ids."""
        healed = []
        for state in self.all():
            if state.disabled_reason in reasons:
                self.update(state.id, _heal_if(reasons))
                healed.append(state.id)
        return sorted(healed)


def _heal_if(reasons: Collection[DisableReason]) -> Transition:
    def transition(state: CredentialState) -> CredentialState:
        return with_enabled(state) if state.disabled_reason in reasons else state

    return transition


class InMemoryPoolState(PoolState):
    """Process-local store; lost on restart."""

    def __init__(self) -> None:
        self._states: dict[int, CredentialState] = {}

    def ensure(self, initial: CredentialState) -> CredentialState:
        return self._states.setdefault(initial.id, initial)

    def get(self, credential_id: int) -> CredentialState:
        return self._states[credential_id]

    def all(self) -> list[CredentialState]:
        return list(self._states.values())

    def update(self, credential_id: int, transition: Transition) -> CredentialState:
        state = transition(self._states[credential_id])
        self._states[credential_id] = state
        return state

    def remove(self, credential_id: int) -> None:
        self._states.pop(credential_id, None)
