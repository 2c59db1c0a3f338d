"""``accounts import``: store a credential unless its account is stored already (one row each).

The account rule is :func:`~kirogate.store.identity.copy_of` (the same account, or a dead
credential of the same IdC client). When the account is stored
with another refresh token, the row keeps one token pair, the later one: the imported tokens
replace the stored ones when they are newer or when the stored token was rejected (a copy that
died after a rotation), and its ``invalid_refresh_token`` disable is lifted. Other stored
copies of the account that died are merged into that row: what they knew (email, plan,
profile) is kept and the rows are deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from kirogate.store.asyncio_engine import AsyncConnection
from kirogate.store.base import StoreBase, inserted_id, utcnow
from kirogate.store.credentials import (
    STORE_ORIGIN,
    credential_from_row,
    insert_columns,
    origin_columns,
    token_columns,
    validate_credential,
)
from kirogate.store.identity import copy_of, is_dead, newer_tokens
from kirogate.store.schema import credentials as table
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)

# What a dead copy may know that the surviving row does not.
_LEARNED = ("email", "subscription_title", "profile_arn")


class Outcome(StrEnum):
    ADDED = "added"  # a new account: a new row
    UPDATED = "updated"  # a stored account took the imported (newer) tokens
    ALREADY = "already"  # stored already, with these or newer tokens


@dataclass(frozen=True, slots=True)
class ImportResult:
    credential: Credential  # the stored row as it is now
    outcome: Outcome
    merged: tuple[int, ...] = ()  # ids of dead copies of the account, folded in and deleted


def _is_file_origin(cred: Credential) -> bool:
    return cred.origin is not None and cred.origin.kind not in ("store", "env")


class ImportMixin(StoreBase):
    async def import_credential(self, cred: Credential) -> ImportResult:
        """Store ``cred``, or fold it into the stored row of the same account (module docstring)."""
        validate_credential(cred)
        async with self.exclusive("sync-sources"), self._writing() as conn:
            rows = await conn.execute(sa.select(table).order_by(table.c.id))
            stored = [credential_from_row(row, self._box) for row in rows]
            same = [other for other in stored if copy_of(cred, other)]
            if not same:
                if cred.origin is None:
                    cred.origin = STORE_ORIGIN
                result = await conn.execute(
                    sa.insert(table).values(**insert_columns(cred, self._box))
                )
                cred.id = inserted_id(result)
                return ImportResult(cred, Outcome.ADDED)
            return await self._fold(conn, cred, same, stored)

    async def _fold(
        self,
        conn: AsyncConnection,
        cred: Credential,
        same: Sequence[Credential],
        stored: Sequence[Credential],
    ) -> ImportResult:
        exact = next((s for s in same if s.fingerprint() == cred.fingerprint()), None)
        survivor = exact or next((s for s in same if not is_dead(s)), same[0])
        # The survivor may know more than the import (an email learned from usage data).
        dead = [
            s
            for s in stored
            if s is not survivor and is_dead(s) and (s in same or copy_of(survivor, s))
        ]
        assert survivor.id is not None
        changes: dict[str, Any] = {}
        outcome = Outcome.ALREADY
        if exact is None and (is_dead(survivor) or newer_tokens(cred, survivor)):
            changes.update(token_columns(cred, self._box))
            if is_dead(survivor):
                changes.update(disabled_reason=None, disabled_detail=None, failure_count=0)
            outcome = Outcome.UPDATED
        for name in _LEARNED:
            if getattr(survivor, name) is None:
                known = [getattr(c, name) for c in (cred, *dead) if getattr(c, name)]
                if known:
                    changes[name] = known[0]
        if _is_file_origin(cred) and not _is_file_origin(survivor):
            assert cred.origin is not None
            changes.update(origin_columns(cred.origin))
        if dead:
            ids = [d.id for d in dead if d.id is not None]
            await conn.execute(sa.delete(table).where(table.c.id.in_(ids)))
            for copy in dead:
                log.info(
                    "credential #%s merged into #%d: same account, its refresh token was rejected",
                    copy.id,
                    survivor.id,
                )
        if changes:
            changes["updated_at"] = utcnow()
            await conn.execute(sa.update(table).where(table.c.id == survivor.id).values(**changes))
        row = (await conn.execute(sa.select(table).where(table.c.id == survivor.id))).one()
        return ImportResult(
            credential_from_row(row, self._box),
            outcome,
            tuple(d.id for d in dead if d.id is not None),
        )

    async def _merge_dead_copies(self, conn: AsyncConnection, kept: Sequence[Credential]) -> int:
        """Delete stored copies of the ``kept`` rows' accounts whose refresh token was rejected.

        The rows are compared as stored, so what they learned (the email) counts.
        """
        kept_ids = {cred.id for cred in kept if cred.id is not None}
        rows = await conn.execute(sa.select(table).order_by(table.c.id))
        stored = [credential_from_row(row, self._box) for row in rows]
        survivors = [cred for cred in stored if cred.id in kept_ids]
        gone: dict[int, int] = {}
        for other in stored:
            if other.id is None or other.id in kept_ids or not is_dead(other):
                continue
            into = next((s.id for s in survivors if s.id and copy_of(s, other)), None)
            if into is not None:
                gone[other.id] = into
        if gone:
            await conn.execute(sa.delete(table).where(table.c.id.in_(list(gone))))
            for dead_id, into in gone.items():
                log.info(
                    "credential #%d merged into #%d: same account, its refresh token was rejected",
                    dead_id,
                    into,
                )
        return len(gone)
