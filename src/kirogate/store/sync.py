"""Import the credentials found in files and the environment into the store, on every start.

Files stay the source of truth for what they define. Each given credential is matched to a
row; the passes go from the most to the least certain match, so a credential that moved
inside its file keeps its row (and its state) instead of taking its neighbour's:

1. same fingerprint (refresh token / API key) and same origin (kind, file, index);
2. same fingerprint, another origin (the file moved, or the entry moved inside it);
3. same origin, another fingerprint: the user edited the file or the IDE rotated the token,
   so the source's tokens replace the stored ones;
4. the same account by :func:`~kirogate.store.identity.copy_of` (the same email, or a dead
   credential of the same IdC client), stored from elsewhere (``accounts import``, the admin API): the row
   follows the source, keeping its own tokens when they are the newer pair;
5. no match: a new row.

Afterwards, other stored copies of a given account whose refresh token was rejected (dead
after a rotation) are merged: deleted, the given credential's row standing for them.

A matched row keeps its tokens when the refresh token is the same (the row may hold a newer
access token); fields the source defines (regions, client, proxy...) follow the source when
it sets them. Rows that came from a file given in this call (or from the environment, when
environment credentials were given) and matched nothing are deleted: the user removed them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kirogate.store.asyncio_engine import AsyncConnection
from kirogate.store.base import inserted_id, utcnow
from kirogate.store.credentials import (
    credential_from_row,
    definition_values,
    encrypt_secrets,
    insert_columns,
    origin_columns,
    source_path,
    stored_definition,
    token_columns,
    validate_credential,
)
from kirogate.store.identity import DEAD_REASON, copy_of, is_dead, newer_tokens
from kirogate.store.imports import ImportMixin
from kirogate.store.schema import credentials as table
from kirogate.upstream.auth.sources import short_token_length
from kirogate.upstream.credentials import Credential, CredentialOrigin

log = logging.getLogger(__name__)

_OriginKey = tuple[str, str | None, int | None]


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    merged: int = 0  # dead copies of a given account, deleted

    def describe(self) -> str:
        merged = f", {self.merged} merged" if self.merged else ""
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed{merged}"
        )


def _origin_key(origin: CredentialOrigin | None) -> _OriginKey | None:
    """Only file origins identify a credential: environment variables carry no index of note."""
    path = source_path(origin)
    if origin is None or path is None:
        return None
    return (origin.kind, path, origin.index)


def _row_origin_key(row: sa.Row[Any]) -> _OriginKey | None:
    if row.source_path is None:
        return None
    return (row.source_kind, row.source_path, row.source_index)


def _match(creds: list[Credential], rows: list[sa.Row[Any]]) -> dict[int, sa.Row[Any]]:
    """Index into ``creds`` -> matched row, by the passes in the module docstring."""
    by_fingerprint = {row.fingerprint: row for row in rows}
    by_origin = {key: row for row in rows if (key := _row_origin_key(row)) is not None}
    matched: dict[int, sa.Row[Any]] = {}
    claimed: set[int] = set()

    def claim(index: int, row: sa.Row[Any] | None) -> None:
        if row is not None and row.id not in claimed and index not in matched:
            matched[index] = row
            claimed.add(row.id)

    for index, cred in enumerate(creds):
        row = by_fingerprint.get(cred.fingerprint())
        if row is not None and _row_origin_key(row) == _origin_key(cred.origin):
            claim(index, row)
    for index, cred in enumerate(creds):
        claim(index, by_fingerprint.get(cred.fingerprint()))
    for index, cred in enumerate(creds):
        key = _origin_key(cred.origin)
        if key is not None:
            claim(index, by_origin.get(key))
    return matched


class SyncMixin(ImportMixin):
    async def sync_sources(
        self, creds: Sequence[Credential], *, files: Iterable[Path] = ()
    ) -> SyncReport:
        """Import credentials discovered at start; sets ``cred.id`` on every given object.

        ``files`` names source files that were read even if they held no credential, so
        the rows of a file that is now empty are removed too.
        """
        for cred in creds:
            validate_credential(cred)
        async with self.exclusive("sync-sources"), self._writing() as conn:
            report = await self._sync(conn, list(creds), files)
        log.info("credential sources imported: %s", report.describe())
        return report

    async def _sync(
        self, conn: AsyncConnection, given: list[Credential], files: Iterable[Path]
    ) -> SyncReport:
        rows = list(await conn.execute(sa.select(table)))
        # The same secret twice in one call: the first one stands for both.
        first_of: dict[str, Credential] = {}
        unique = [c for c in given if first_of.setdefault(c.fingerprint(), c) is c]
        matched = _match(unique, rows)
        keep_tokens = self._match_accounts(unique, rows, matched)
        added = updated = unchanged = 0
        for index, cred in enumerate(unique):
            row = matched.get(index)
            if row is None:
                continue
            cred.id = row.id
            changes = self._changes(row, cred, keep_tokens=index in keep_tokens)
            if changes:
                changes["updated_at"] = utcnow()
                await conn.execute(sa.update(table).where(table.c.id == row.id).values(**changes))
                updated += 1
                log.info("credential %s updated from %s", cred.label, _where(cred))
            else:
                unchanged += 1
        removed = await self._remove_missing(conn, given, files, rows, matched)
        taken = {row.id for row in rows}
        for index, cred in enumerate(unique):
            if index in matched:
                continue
            values = insert_columns(cred, self._box)
            # Keep the source's id when it is free: file write-back finds entries by id.
            explicit = cred.id is not None and cred.id > 0 and cred.id not in taken
            if explicit:
                values["id"] = cred.id
            result = await conn.execute(sa.insert(table).values(**values))
            if explicit and self.dialect == "postgresql":
                await _advance_id_sequence(conn)
            cred.id = inserted_id(result)
            taken.add(cred.id)
            added += 1
            log.info("credential %s imported from %s", cred.label, _where(cred))
            short = short_token_length(cred)
            if short is not None:
                log.warning(
                    "%s: refreshToken is only %d characters; real Kiro refresh tokens are longer",
                    _where(cred),
                    short,
                )
        for cred in given:
            cred.id = first_of[cred.fingerprint()].id
        merged = await self._merge_dead_copies(conn, unique)
        duplicates = len(given) - len(unique)
        return SyncReport(added, updated, unchanged + duplicates, removed, merged)

    def _match_accounts(
        self, creds: list[Credential], rows: list[sa.Row[Any]], matched: dict[int, sa.Row[Any]]
    ) -> set[int]:
        """Pass 4: claim rows of the same account; the indexes whose row keeps its tokens."""
        claimed = {row.id for row in matched.values()}
        stored = [(row, credential_from_row(row, self._box)) for row in rows]
        keep_tokens: set[int] = set()
        for index, cred in enumerate(creds):
            if index in matched:
                continue
            for row, other in stored:
                if row.id in claimed or not copy_of(cred, other):
                    continue
                matched[index] = row
                claimed.add(row.id)
                if not is_dead(other) and not newer_tokens(cred, other):
                    keep_tokens.add(index)
                break
        return keep_tokens

    def _changes(
        self, row: sa.Row[Any], cred: Credential, *, keep_tokens: bool = False
    ) -> dict[str, Any]:
        """What the source changes in the row; ``keep_tokens``: the row holds the newer pair of
        another source of the account, so its tokens and its origin stay."""
        changes: dict[str, Any] = {}
        if row.fingerprint != cred.fingerprint() and not keep_tokens:
            # The source's refresh token differs: the user edited it or the IDE rotated it.
            changes.update(token_columns(cred, self._box))
            if row.disabled_reason == DEAD_REASON:
                # The rejected token is gone; the new one gets its chance.
                changes.update(disabled_reason=None, disabled_detail=None, failure_count=0)
        stored = stored_definition(row, self._box)
        source = {k: v for k, v in definition_values(cred).items() if v is not None}
        different = {k: v for k, v in source.items() if stored[k] != v}
        changes.update(encrypt_secrets(different, self._box))
        origin = origin_columns(cred.origin) if cred.origin and not keep_tokens else {}
        if any(getattr(row, name) != value for name, value in origin.items()):
            changes.update(origin)
        return changes

    async def _remove_missing(
        self,
        conn: AsyncConnection,
        given: list[Credential],
        files: Iterable[Path],
        rows: list[sa.Row[Any]],
        matched: dict[int, sa.Row[Any]],
    ) -> int:
        paths = _given_paths(given, files)
        env_given = any(c.origin and c.origin.kind == "env" and not c.origin.path for c in given)
        kept = {row.id for row in matched.values()}
        gone = [
            row
            for row in rows
            if row.id not in kept
            and (
                row.source_path in paths
                or (env_given and row.source_kind == "env" and row.source_path is None)
            )
        ]
        for row in gone:
            where = row.source_path or row.source_kind
            if row.source_index is not None:
                where = f"{where}[{row.source_index}]"
            log.info("credential #%d removed: no longer in %s", row.id, where)
        if gone:
            await conn.execute(sa.delete(table).where(table.c.id.in_([r.id for r in gone])))
        return len(gone)


def _given_paths(given: list[Credential], files: Iterable[Path]) -> set[str]:
    paths = {os.path.abspath(Path(f).expanduser()) for f in files}
    return paths | {p for c in given if (p := source_path(c.origin)) is not None}


def _where(cred: Credential) -> str:
    return cred.origin.describe() if cred.origin else "the caller"


async def _advance_id_sequence(conn: AsyncConnection) -> None:
    # Rows inserted with an explicit id do not move a serial's sequence; move it past them.
    await conn.execute(
        sa.text(
            "SELECT setval(CAST(pg_get_serial_sequence('credentials', 'id') AS regclass), "
            "GREATEST((SELECT MAX(id) FROM credentials), COALESCE(pg_sequence_last_value("
            "CAST(pg_get_serial_sequence('credentials', 'id') AS regclass)), 1)))"
        )
    )
