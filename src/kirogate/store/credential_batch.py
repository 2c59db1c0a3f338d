"""Adding many credentials in one transaction: all of them are stored, or none is."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kirogate.errors import InvalidRequest
from kirogate.store.base import StoreBase, inserted_id
from kirogate.store.credentials import (
    STORE_ORIGIN,
    credential_from_row,
    insert_columns,
    validate_credential,
)
from kirogate.store.schema import credentials as table
from kirogate.upstream.credentials import Credential


class CredentialBatchMixin(StoreBase):
    async def add_credentials(
        self, credentials: Sequence[Credential]
    ) -> list[tuple[Credential, bool]]:
        """Store each credential unless one with the same refresh token / API key is stored
        already (the stored one and ``False``); new ones get their row id and ``True``.

        One transaction: when any write fails nothing is stored, and the error
        (:class:`~kirogate.errors.StoreUnavailable` for an outage) is raised.
        """
        for cred in credentials:
            validate_credential(cred)
        if not credentials:
            return []
        for _attempt in range(2):
            try:
                return await self._add_all(credentials)
            except IntegrityError:
                # Another process stored one of them (or took an id) just now: look again.
                continue
        raise InvalidRequest("the credentials could not be stored: they conflict with others")

    async def _add_all(self, credentials: Sequence[Credential]) -> list[tuple[Credential, bool]]:
        results: list[tuple[Credential, bool]] = []
        async with self._writing() as conn:
            fingerprints = sorted({cred.fingerprint() for cred in credentials})
            rows = await conn.execute(sa.select(table).where(table.c.fingerprint.in_(fingerprints)))
            known = {row.fingerprint: credential_from_row(row, self._box) for row in rows}
            for cred in credentials:
                fingerprint = cred.fingerprint()
                found = known.get(fingerprint)
                if found is not None:
                    results.append((found, False))
                    continue
                if cred.origin is None:
                    cred.origin = STORE_ORIGIN
                cred.id = None  # the store numbers its rows
                result = await conn.execute(
                    sa.insert(table).values(**insert_columns(cred, self._box))
                )
                cred.id = inserted_id(result)
                known[fingerprint] = cred
                results.append((cred, True))
        return results
