"""Runtime settings kept in the database: JSON values by key, shared by every process."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kirogate.store import values as check
from kirogate.store.base import StoreBase, utcnow
from kirogate.store.schema import settings as table

MAX_KEY_LENGTH = 200
# A secret setting (a proxy URL with its password) is stored as {ENCRYPTED: token}.
ENCRYPTED = "$encrypted"


class SettingsMixin(StoreBase):
    async def get_setting(self, key: str, default: Any = None) -> Any:
        """The stored value (``None`` if stored as null), or ``default`` when never set."""
        key = check.required_text(key, "key", MAX_KEY_LENGTH)
        async with self._reading() as conn:
            row = (await conn.execute(sa.select(table.c.value).where(table.c.key == key))).first()
        return default if row is None else self._opened(row.value)

    def _opened(self, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {ENCRYPTED}:
            return self._box.decrypt(value[ENCRYPTED])
        return value

    async def set_setting(self, key: str, value: Any) -> None:
        """Store ``value`` (anything JSON can hold) under ``key``, replacing what was there."""
        key = check.required_text(key, "key", MAX_KEY_LENGTH)
        values = {"key": key, "value": check.optional_json(value, key), "updated_at": utcnow()}
        async with self._writing() as conn:
            await conn.execute(self._upsert(table, values, ["key"], ["value", "updated_at"]))

    async def delete_setting(self, key: str) -> bool:
        """Forget ``key``; ``True`` if it was set."""
        key = check.required_text(key, "key", MAX_KEY_LENGTH)
        async with self._writing() as conn:
            result = await conn.execute(sa.delete(table).where(table.c.key == key))
        return result.rowcount > 0

    def _sealed(self, value: Any) -> Any:
        return {ENCRYPTED: self._box.encrypt(value)} if isinstance(value, str) else value

    async def all_settings(self) -> dict[str, Any]:
        async with self._reading() as conn:
            rows = await conn.execute(sa.select(table.c.key, table.c.value).order_by(table.c.key))
            return {row.key: self._opened(row.value) for row in rows}

    async def change_settings(
        self,
        sets: dict[str, Any],
        deletes: tuple[str, ...] = (),
        *,
        secret: frozenset[str] = frozenset(),
    ) -> None:
        """Store ``sets`` and forget ``deletes`` in one transaction: all of it, or none.

        Text values of the ``secret`` keys are stored encrypted; reading gives them back.
        """
        now = utcnow()
        rows = [
            {"key": check.required_text(key, "key", MAX_KEY_LENGTH),
             "value": self._sealed(value) if key in secret else check.optional_json(value, key),
             "updated_at": now}
            for key, value in sets.items()
        ]  # fmt: skip
        gone = [check.required_text(key, "key", MAX_KEY_LENGTH) for key in deletes]
        async with self._writing() as conn:
            for values in rows:
                await conn.execute(self._upsert(table, values, ["key"], ["value", "updated_at"]))
            if gone:
                await conn.execute(sa.delete(table).where(table.c.key.in_(gone)))
