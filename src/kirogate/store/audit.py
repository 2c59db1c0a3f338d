"""The audit trail: one row per admin call that changed something (never a secret)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kirogate.store.base import StoreBase, inserted_id
from kirogate.store.schema import audit_log as table

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audited admin call. ``action`` is ``"METHOD /path/{template}"``, ``name`` the
    route's short name; ``detail`` holds allow-listed harmless fields only."""

    at: datetime
    actor: str
    address: str | None
    action: str
    name: str
    target: str | None
    status: int
    detail: dict[str, Any] | None = None
    id: int | None = None

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "address": self.address,
            "action": self.action,
            "name": self.name,
            "target": self.target,
            "status": self.status,
            "detail": self.detail or {},
        }


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of the listing; ``before`` is the cursor (rows with a smaller id)."""

    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    actor: str | None = None
    target: str | None = None
    before: int | None = None
    limit: int = 100

    def matches(self, record: AuditRecord) -> bool:
        """The same filter in memory (a gateway without a store keeps its trail there)."""
        if self.since is not None and record.at < self.since:
            return False
        if self.until is not None and record.at >= self.until:
            return False
        if self.action is not None and self.action not in (record.action, record.name):
            return False
        if self.actor is not None and record.actor != self.actor:
            return False
        if self.target is not None and record.target != self.target:
            return False
        return not (self.before is not None and (record.id or 0) >= self.before)


def _record(row: sa.Row[Any]) -> AuditRecord:
    return AuditRecord(
        id=int(row.id),
        at=row.at,
        actor=row.actor,
        address=row.address,
        action=row.action,
        name=row.name,
        target=row.target,
        status=int(row.status),
        detail=row.detail,
    )


class AuditMixin(StoreBase):
    async def add_audit(self, record: AuditRecord) -> int:
        """Store one audited call; its id."""
        values = {
            "at": record.at,
            "actor": record.actor[:200],
            "address": record.address[:64] if record.address else None,
            "action": record.action[:300],
            "name": record.name[:100],
            "target": record.target[:200] if record.target else None,
            "status": record.status,
            "detail": record.detail or None,
        }
        async with self._writing() as conn:
            return inserted_id(await conn.execute(sa.insert(table).values(**values)))

    async def list_audit(self, query: AuditQuery) -> list[AuditRecord]:
        """Newest first, at most ``query.limit`` (capped at :data:`MAX_PAGE`)."""
        statement = sa.select(table)
        if query.since is not None:
            statement = statement.where(table.c.at >= query.since)
        if query.until is not None:
            statement = statement.where(table.c.at < query.until)
        if query.action is not None:
            statement = statement.where(
                sa.or_(table.c.action == query.action, table.c.name == query.action)
            )
        if query.actor is not None:
            statement = statement.where(table.c.actor == query.actor)
        if query.target is not None:
            statement = statement.where(table.c.target == query.target)
        if query.before is not None:
            statement = statement.where(table.c.id < query.before)
        statement = statement.order_by(table.c.id.desc()).limit(min(query.limit, MAX_PAGE))
        async with self._reading() as conn:
            return [_record(row) for row in await conn.execute(statement)]
