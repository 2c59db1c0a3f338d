"""Logins an operator started (``service/logins.py``), kept where every instance can read them.

A row holds a login's status until some minutes after it ends; a social login's PKCE
verifier rides along encrypted (``secret``) until it is used once: :meth:`claim_login_secret`
hands it to exactly one caller, so a browser callback and a pasted URL racing on two
instances cannot both exchange the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from kirogate.store.base import StoreBase
from kirogate.store.schema import logins as table

PENDING = "pending"


@dataclass(slots=True)
class LoginRecord:
    """One login. ``secret`` is the decrypted JSON object (``None`` once used or ended)."""

    id: str
    kind: str  # device | social
    status: str  # pending | complete | expired | denied | failed
    region: str
    created_at: datetime
    expires_at: datetime
    provider: str | None = None
    redirect_uri: str | None = None
    state_hash: str | None = None
    secret: dict[str, Any] | None = field(default=None, repr=False)
    finished_at: datetime | None = None
    credential_id: int | None = None
    error: str | None = None


class LoginsMixin(StoreBase):
    def _login(self, row: sa.Row[Any]) -> LoginRecord:
        text = self._box.decrypt(row.secret) if row.secret is not None else None
        return LoginRecord(
            id=row.id,
            kind=row.kind,
            status=row.status,
            region=row.region,
            created_at=row.created_at,
            expires_at=row.expires_at,
            provider=row.provider,
            redirect_uri=row.redirect_uri,
            state_hash=row.state_hash,
            secret=orjson.loads(text) if text else None,
            finished_at=row.finished_at,
            credential_id=row.credential_id,
            error=row.error,
        )

    async def add_login(self, record: LoginRecord) -> None:
        secret = record.secret
        values = {
            "id": record.id,
            "kind": record.kind,
            "status": record.status,
            "provider": record.provider,
            "region": record.region,
            "redirect_uri": record.redirect_uri,
            "state_hash": record.state_hash,
            "secret": self._box.encrypt(orjson.dumps(secret).decode()) if secret else None,
            "created_at": record.created_at,
            "expires_at": record.expires_at,
        }
        async with self._writing() as conn:
            await conn.execute(sa.insert(table).values(**values))

    async def get_login(self, login_id: str) -> LoginRecord | None:
        async with self._reading() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.id == login_id))).first()
        return self._login(row) if row is not None else None

    async def login_by_state(self, state_hash: str) -> LoginRecord | None:
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
