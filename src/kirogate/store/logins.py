"""Logins an operator started (``service/logins.py``), kept where every instance can read them.

Rows go in and come out as dicts of the table's columns, ``secret`` decrypted (a JSON object
or ``None``); the service makes its records of them. A row holds a login's status until some minutes after it ends; a social login's PKCE
verifier rides along encrypted (``secret``) until it is used once: :meth:`claim_login_secret`
hands it to exactly one caller, so a browser callback and a pasted URL racing on two
instances cannot both exchange the code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from kirogate.store.base import StoreBase
from kirogate.store.schema import logins as table

PENDING = "pending"


class LoginsMixin(StoreBase):
    def _login(self, row: sa.Row[Any]) -> dict[str, Any]:
        values = dict(row._mapping)
        text = self._box.decrypt(row.secret) if row.secret is not None else None
        values["secret"] = orjson.loads(text) if text else None
        return values

    async def add_login(self, row: dict[str, Any]) -> None:
        """Insert a new login; ``row`` holds the table's columns, ``secret`` a JSON object."""
        values = {column.name: row.get(column.name) for column in table.columns}
        secret = values["secret"]
        values["secret"] = self._box.encrypt(orjson.dumps(secret).decode()) if secret else None
        async with self._writing() as conn:
            await conn.execute(sa.insert(table).values(**values))

    async def get_login(self, login_id: str) -> dict[str, Any] | None:
        async with self._reading() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.id == login_id))).first()
        return self._login(row) if row is not None else None

    async def login_by_state(self, state_hash: str) -> dict[str, Any] | None:
        query = sa.select(table).where(table.c.state_hash == state_hash)
        async with self._reading() as conn:
            row = (await conn.execute(query)).first()
        return self._login(row) if row is not None else None

    async def claim_login_secret(self, login_id: str) -> dict[str, Any] | None:
        """A pending login's secret, taken out of the row: only one caller ever gets it."""
        query = sa.select(table.c.secret).where(
            table.c.id == login_id, table.c.status == PENDING, table.c.secret.is_not(None)
        )
        async with self._writing() as conn:
            stored = (await conn.execute(query)).scalar()
            if stored is None:
                return None
            taken = await conn.execute(
                sa.update(table)
                .where(table.c.id == login_id, table.c.secret == stored)
                .values(secret=None)
            )
        if taken.rowcount != 1:
            return None
        text = self._box.decrypt(stored)
        return orjson.loads(text) if text else None

    async def finish_login(
        self,
        login_id: str,
        status: str,
        *,
        at: datetime,
        credential_id: int | None = None,
        error: str | None = None,
        overriding: tuple[str, ...] = (),
    ) -> bool:
        """End a pending login (its secret wiped); ``False`` when it had ended already.
        ``overriding`` names ended statuses this end replaces too."""
        async with self._writing() as conn:
            result = await conn.execute(
                sa.update(table)
                .where(table.c.id == login_id, table.c.status.in_((PENDING, *overriding)))
                .values(
                    status=status,
                    finished_at=at,
                    credential_id=credential_id,
                    error=error,
                    secret=None,
                )
            )
        return bool(result.rowcount == 1)

    async def expired_logins(self, now: datetime) -> list[str]:
        """The ids of pending logins whose time is up."""
        query = sa.select(table.c.id).where(table.c.status == PENDING, table.c.expires_at <= now)
        async with self._reading() as conn:
            return [row.id for row in await conn.execute(query)]

    async def purge_logins(self, before: datetime) -> int:
        """Delete the logins that ended, or expired, before ``before``; how many went."""
        condition = sa.or_(
            table.c.finished_at < before,
            sa.and_(table.c.status == PENDING, table.c.expires_at < before),
        )
        async with self._writing() as conn:
            result = await conn.execute(sa.delete(table).where(condition))
        return int(result.rowcount)

    async def count_logins(self) -> int:
        async with self._reading() as conn:
            return int(
                (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar() or 0
            )
