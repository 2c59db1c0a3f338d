"""A change counter per topic: operators' changes bump it, every process polls it."""

from __future__ import annotations

import sqlalchemy as sa

from kirogate.store import values as check
from kirogate.store.base import StoreBase, utcnow
from kirogate.store.schema import revisions as table

MAX_TOPIC_LENGTH = 64


class RevisionsMixin(StoreBase):
    async def bump_revision(self, topic: str) -> None:
        """Count one more change of ``topic`` (the row is created on its first change)."""
        topic = check.required_text(topic, "topic", MAX_TOPIC_LENGTH)
        now = utcnow()
        async with self._writing() as conn:
            bump = (
                sa.update(table)
                .where(table.c.topic == topic)
                .values(revision=table.c.revision + 1, updated_at=now)
            )
            if (await conn.execute(bump)).rowcount == 0:
                # The topic's first change (or another process creating its row just now).
                await conn.execute(
                    self._upsert(
                        table,
                        {"topic": topic, "revision": 0, "updated_at": now},
                        ["topic"],
                        ["updated_at"],
                    )
                )
                await conn.execute(bump)

    async def revisions(self) -> dict[str, int]:
        """Every topic's revision."""
        async with self._reading() as conn:
            rows = await conn.execute(sa.select(table.c.topic, table.c.revision))
            return {row.topic: int(row.revision) for row in rows}
