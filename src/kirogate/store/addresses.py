"""Client addresses: the blocked list as operators see it (with expiry), and the visitors.

Blocking itself is :meth:`~kirogate.store.access.AccessMixin.block_ip`; an expired block no
longer counts for :meth:`~kirogate.store.access.AccessMixin.blocked_ips` and is deleted by
:meth:`AddressesMixin.prune_blocked`. Visitors are added in batches (``{address: (requests,
last seen)}`` from one process's memory): each batch adds to the row's count, so several
processes add up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kirogate.store.base import StoreBase, utcnow
from kirogate.store.schema import blocked_ips as blocked_table
from kirogate.store.schema import visitors as visitors_table

MAX_VISITORS_LISTED = 1000


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """A blocked address or network."""

    ip: str
    reason: str | None
    created_at: datetime
    expires_at: datetime | None

    def to_public(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


@dataclass(frozen=True, slots=True)
class VisitorRecord:
    """An address seen by some process: its requests counted since ``first_seen``."""

    address: str
    requests: int
    first_seen: datetime
    last_seen: datetime

    def to_public(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "requests": self.requests,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
        }


class AddressesMixin(StoreBase):
    async def blocks(self, *, include_expired: bool = False) -> list[BlockRecord]:
        """Every block in force (with ``include_expired`` also those past their expiry)."""
        query = sa.select(blocked_table).order_by(blocked_table.c.created_at, blocked_table.c.ip)
        if not include_expired:
            query = query.where(
                sa.or_(blocked_table.c.expires_at.is_(None), blocked_table.c.expires_at > utcnow())
            )
        async with self._reading() as conn:
            rows = list(await conn.execute(query))
        return [BlockRecord(row.ip, row.reason, row.created_at, row.expires_at) for row in rows]

    async def prune_blocked(self) -> int:
        """Delete the blocks past their expiry; how many were."""
        async with self._writing() as conn:
            result = await conn.execute(
                sa.delete(blocked_table).where(blocked_table.c.expires_at <= utcnow())
            )
        return int(result.rowcount or 0)

    async def record_visits(self, seen: Mapping[str, tuple[int, datetime]]) -> None:
        """Add ``{address: (requests, last seen)}`` to the visitors table, in one transaction."""
        if not seen:
            return
        rows = [
            {"address": address[:64], "requests": count, "first_seen": last, "last_seen": last}
            for address, (count, last) in sorted(seen.items())
        ]
        table = visitors_table
        if self.dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            lite = sqlite.insert(table)
            statement: Any = lite.on_conflict_do_update(
                index_elements=["address"],
                set_={
                    "requests": table.c.requests + lite.excluded.requests,
                    "last_seen": sa.func.max(table.c.last_seen, lite.excluded.last_seen),
                },
            )
        else:
            from sqlalchemy.dialects import postgresql

            pg = postgresql.insert(table)
            statement = pg.on_conflict_do_update(
                index_elements=["address"],
                set_={
                    "requests": table.c.requests + pg.excluded.requests,
                    "last_seen": sa.func.greatest(table.c.last_seen, pg.excluded.last_seen),
                },
            )
        async with self._writing() as conn:
            await conn.execute(statement, rows)

    async def visitors(
        self, *, since: datetime | None = None, limit: int = 100
    ) -> list[VisitorRecord]:
        """Addresses seen since ``since`` (every one kept otherwise), most recent first."""
        limit = max(1, min(limit, MAX_VISITORS_LISTED))
        query = sa.select(visitors_table).order_by(
            visitors_table.c.last_seen.desc(), visitors_table.c.address
        )
        if since is not None:
            query = query.where(visitors_table.c.last_seen >= since)
        async with self._reading() as conn:
            rows = list(await conn.execute(query.limit(limit)))
        return [VisitorRecord(r.address, r.requests, r.first_seen, r.last_seen) for r in rows]

    async def prune_visitors(self, before: datetime) -> int:
        """Forget the addresses not seen since ``before``; how many were."""
        async with self._writing() as conn:
            result = await conn.execute(
                sa.delete(visitors_table).where(visitors_table.c.last_seen < before)
            )
        return int(result.rowcount or 0)
