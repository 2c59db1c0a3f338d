"""What the gateway remembers between requests, kept where every process can read it.

The service's memories (``service/memory.py``) live in process memory and write through to
this table in the background, so that an instance can continue a conversation another one
answered, and a restarted one can continue its own. Values are JSON, encrypted like every
other secret column; rows older than the retention are pruned by :meth:`forget_memories`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from kirogate.store import values as check
from kirogate.store.base import StoreBase, utcnow
from kirogate.store.schema import memories as table

KINDS = frozenset({"response", "item", "truncation"})
MAX_KEY_LENGTH = 200
BATCH = 200  # rows per statement: keeps one upsert's parameters well under every limit


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown memory kind {kind!r}")
    return kind


class MemoryMixin(StoreBase):
    async def keep_memories(self, kind: str, entries: Iterable[tuple[str, Any]]) -> None:
        """Store each ``(key, value)`` (anything JSON can hold) under ``kind``, replacing."""
        kind = _kind(kind)
        now = utcnow()
        rows = [
            {
                "kind": kind,
                "key": check.required_text(key, "key", MAX_KEY_LENGTH),
                "value": self._box.encrypt(orjson.dumps(value).decode()),
                "created_at": now,
            }
            for key, value in entries
        ]
        for start in range(0, len(rows), BATCH):
            async with self._writing() as conn:
                for row in rows[start : start + BATCH]:
                    await conn.execute(
                        self._upsert(table, row, ["kind", "key"], ["value", "created_at"])
                    )

    async def recall_memories(self, kind: str, keys: Sequence[str]) -> dict[str, Any]:
        """The stored values of those ``keys`` that are stored, by key."""
        kind = _kind(kind)
        wanted = [key for key in dict.fromkeys(keys) if len(key) <= MAX_KEY_LENGTH]
        found: dict[str, Any] = {}
        for start in range(0, len(wanted), BATCH):
            query = sa.select(table.c.key, table.c.value).where(
                table.c.kind == kind, table.c.key.in_(wanted[start : start + BATCH])
            )
            async with self._reading() as conn:
                rows = (await conn.execute(query)).all()
            for row in rows:
                text = self._box.decrypt(row.value)
                if text is not None:
                    found[row.key] = orjson.loads(text)
        return found

    async def forget_memories(self, older_than: datetime) -> int:
        """Delete memories stored before ``older_than``; how many went."""
        async with self._writing() as conn:
            result = await conn.execute(sa.delete(table).where(table.c.created_at < older_than))
        return result.rowcount
