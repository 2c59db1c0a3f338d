"""Pool runtime state (:class:`CredentialState`) kept in the credential rows.

Counters are changed with ``col = col + :delta`` in SQL, so increments written by several
processes at once all count; every other field is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa

from kirogate.errors import InvalidRequest
from kirogate.pool.state import CooldownReason, CredentialState, DisableReason
from kirogate.store import values as check
from kirogate.store.base import StoreBase
from kirogate.store.schema import credentials as table

log = logging.getLogger(__name__)

E = TypeVar("E", bound=StrEnum)
COUNTERS = ("failure_count", "throttle_count", "success_count", "error_count")


def _enum(kind: type[E]) -> Callable[[Any, str], str | None]:
    def convert(value: Any, name: str) -> str | None:
        if value is None:
            return None
        try:
            return kind(value).value
        except ValueError:
            options = ", ".join(member.value for member in kind)
            raise InvalidRequest(f"{name}: {value!r} is not one of {options}", param=name) from None

    return convert


_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "priority": check.non_negative_int,
    "weight": check.non_negative_float,  # 0 = only when nothing else is left
    "disabled_reason": _enum(DisableReason),
    "disabled_detail": check.optional_text,
    "cooldown_until": check.optional_aware_datetime,
    "cooldown_reason": _enum(CooldownReason),
    **dict.fromkeys(COUNTERS, check.non_negative_int),
    "last_used": check.optional_aware_datetime,
    "last_error": check.optional_text,
    "last_error_at": check.optional_aware_datetime,
    "remaining_share": check.optional_float,
}
STATE_FIELDS = tuple(_FIELDS)


def _stored_enum(kind: type[E], value: str | None, row_id: int, fallback: E) -> E | None:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        # Written by a newer kirogate, or by hand: keep the credential out of use all the same.
        log.warning(
            "credential #%d: unknown %s %r; using %s", row_id, kind.__name__, value, fallback
        )
        return fallback


def state_from_row(row: sa.Row[Any]) -> CredentialState:
    return CredentialState(
        id=row.id,
        priority=row.priority,
        weight=row.weight,
        disabled_reason=_stored_enum(
            DisableReason, row.disabled_reason, row.id, DisableReason.MANUAL
        ),
        disabled_detail=row.disabled_detail,
        cooldown_until=row.cooldown_until,
        cooldown_reason=_stored_enum(
            CooldownReason, row.cooldown_reason, row.id, CooldownReason.THROTTLED
        ),
        failure_count=row.failure_count,
        throttle_count=row.throttle_count,
        success_count=row.success_count,
        error_count=row.error_count,
        last_used=row.last_used,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        remaining_share=row.remaining_share,
    )


class StatesMixin(StoreBase):
    async def load_states(self) -> list[CredentialState]:
        """One state per credential row, ordered by id."""
        columns = [table.c.id, *(table.c[name] for name in STATE_FIELDS)]
        async with self._reading() as conn:
            rows = await conn.execute(sa.select(*columns).order_by(table.c.id))
            return [state_from_row(row) for row in rows]

    async def apply_state(
        self, credential_id: int, sets: Mapping[str, Any], increments: Mapping[str, int]
    ) -> None:
        """Set fields and add to counters of one credential's state in one statement.

        A field both set and incremented ends up as ``set + delta``. Enums may be given as
        members or values; datetimes must be aware. A credential deleted meanwhile is ignored.
        """
        values: dict[str, Any] = {}
        for name, value in sets.items():
            convert = _FIELDS.get(name)
            if convert is None:
                raise InvalidRequest(
                    f"unknown state field {name!r} (known: {', '.join(STATE_FIELDS)})",
                    param=name,
                )
            values[name] = convert(value, name)
        for name, delta in increments.items():
            if name not in COUNTERS:
                raise InvalidRequest(
                    f"{name!r} is not a counter (counters: {', '.join(COUNTERS)})", param=name
                )
            check.integer(delta, name)
            if name in values:
                values[name] = values[name] + delta
            elif delta:
                values[name] = table.c[name] + delta
        if not values:
            return
        async with self._writing() as conn:
            await conn.execute(sa.update(table).where(table.c.id == credential_id).values(values))
