"""Pending writes of pool state: what changed locally and has not reached the database yet.

A :class:`PendingChange` is the coalesced difference between what the database last
acknowledged and the local record. Counters that only grew become increments (applied as
``col = col + delta``, so concurrent processes never lose each other's counts); every other
field, including a counter reset to 0, becomes an absolute set. The later of two changes to
one field wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from typing import Any

from kirogate.pool.state import CredentialState

# Counters other processes also bump; growth is sent as a delta.
COUNTERS: frozenset[str] = frozenset(
    {"success_count", "error_count", "failure_count", "throttle_count"}
)
# Fields that decide whether a credential may be picked: other processes are told at once.
SIGNIFICANT: frozenset[str] = frozenset(
    {
        "disabled_reason",
        "disabled_detail",
        "cooldown_until",
        "cooldown_reason",
        "priority",
        "weight",
    }
)
STATE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CredentialState) if f.name != "id")
_state_values = attrgetter(*STATE_FIELDS)  # one C call per record instead of a getattr each


@dataclass(slots=True)
class PendingChange:
    """Field sets and counter increments for one credential, not yet written."""

    sets: dict[str, Any] = field(default_factory=dict)
    increments: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.sets or self.increments)

    @property
    def significant(self) -> bool:
        """True when the change affects whether or how the credential is picked."""
        return not SIGNIFICANT.isdisjoint(self.sets)

    def record(self, old: CredentialState, new: CredentialState) -> None:
        """Fold the transition ``old -> new`` into this change."""
        for name, before, after in zip(
            STATE_FIELDS, _state_values(old), _state_values(new), strict=True
        ):
            if before == after:
                continue
            if name in COUNTERS and after > before and name not in self.sets:
                self.increments[name] = self.increments.get(name, 0) + (after - before)
            else:
                # An absolute value (a set counter stays absolute: it already includes growth).
                self.sets[name] = after
                self.increments.pop(name, None)

    def merge_older(self, older: PendingChange) -> None:
        """Put back ``older`` (a batch that failed to write) underneath this newer change."""
        for name, value in older.sets.items():
            if name in self.sets:
                continue
            if name in self.increments:
                self.sets[name] = value + self.increments.pop(name)
            else:
                self.sets[name] = value
        for name, delta in older.increments.items():
            if name not in self.sets:
                self.increments[name] = self.increments.get(name, 0) + delta

    def apply(self, state: CredentialState) -> CredentialState:
        """``state`` (as loaded from the database) with this change on top."""
        if not self:
            return state
        values = dict(self.sets)
        for name, delta in self.increments.items():
            values[name] = getattr(state, name) + delta
        return replace(state, **values)


def initial_change(state: CredentialState) -> PendingChange:
    """The sets that turn a default record into ``state`` (for a record the database lacks)."""
    change = PendingChange()
    default = CredentialState(id=state.id)
    for name in STATE_FIELDS:
        value = getattr(state, name)
        if value != getattr(default, name):
            change.sets[name] = value
    return change
