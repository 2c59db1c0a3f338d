"""Backup and restore of the operator's tables, row by row, secrets in plaintext in memory only.

:data:`BACKUP_TABLES` names the tables a backup holds besides the credentials (which the
service restores through its operations, so they join the running pool), in restore order,
each with the columns that identify a row across stores (a merge matches on them). Another
feature's table joins the backup by adding one line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kirogate.store.asyncio_engine import AsyncConnection
from kirogate.store.base import StoreBase
from kirogate.store.schema import SECRET_COLUMNS, UTCDateTime, metadata

# table -> the columns naming a row in any store (restore order: referenced tables first).
BACKUP_TABLES: dict[str, tuple[str, ...]] = {
    "settings": ("key",),
    "blocked_ips": ("ip",),
    "proxies": ("url", "username"),
    "api_keys": ("key_hash",),
    "alert_webhooks": ("name",),
    "credential_groups": ("name",),  # members: by credential, in the service's restore
}


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What restoring one row did: ``added``, ``updated`` or ``skipped`` (with the reason)."""

    table: str
    key: str
    outcome: str
    reason: str | None = None
    old_id: int | None = None
    new_id: int | None = None

    def to_public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.table, "key": self.key, "outcome": self.outcome}
        if self.reason:
            out["reason"] = self.reason
        if self.new_id is not None:
            out["id"] = self.new_id
        return out


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class BadField(ValueError):
    """A row's field has the wrong type for its column (the row is skipped, named)."""


def _column_value(column: sa.Column[Any], value: Any) -> Any:
    """``value`` as the column takes it; :class:`BadField` when it cannot be."""
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, UTCDateTime):
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise BadField(f"{column.name}: an RFC 3339 time with a zone expected")
        return parsed
    if isinstance(kind, sa.JSON):
        return value
    expected: tuple[type, ...]
    if isinstance(kind, sa.Boolean):
        expected = (bool,)
    elif isinstance(kind, sa.Integer):
        expected = (int,)
    elif isinstance(kind, sa.Float):
        expected = (int, float)
    elif isinstance(kind, sa.String):  # Text too
        expected = (str,)
    else:
        return value
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        raise BadField(f"{column.name}: {expected[0].__name__} expected")
    length = getattr(kind, "length", None)
    if isinstance(value, str) and ("\x00" in value or (length and len(value) > length)):
        raise BadField(f"{column.name}: too long, or holds a NUL character")
    return value


def _key_text(row: dict[str, Any], keys: tuple[str, ...]) -> str:
    return "/".join(str(row.get(name)) for name in keys)


_CONFLICT = "conflicts with a stored row (or another row of the file)"


async def _guarded(conn: AsyncConnection, statement: sa.Executable) -> Any:
    """Run ``statement`` in a savepoint; ``None`` when a constraint refuses it (the rest of
    the restore goes on)."""
    try:
        async with conn.begin_nested():
            return await conn.execute(statement)
    except IntegrityError:
        return None


class BackupMixin(StoreBase):
    async def dump_table(self, name: str) -> list[dict[str, Any]]:
        """Every row of ``name`` as JSON-able values, secret columns decrypted."""
        table = metadata.tables[name]
        secret = SECRET_COLUMNS.get(name, ())
        async with self._reading() as conn:
            rows = list(await conn.execute(sa.select(table)))
        out = []
        for row in rows:
            values = {key: _plain(value) for key, value in row._mapping.items()}
            for column in secret:
                if column in values:
                    values[column] = self._box.decrypt(values[column])
            out.append(values)
        return out

    async def restore_table(
        self, name: str, rows: list[dict[str, Any]], *, replace: bool
    ) -> list[RowOutcome]:
        """Put ``rows`` into ``name``: ``replace`` empties it first (ids kept); a merge adds
        the rows not found by their key columns and updates the ones that differ."""
        table = metadata.tables[name]
        keys = BACKUP_TABLES[name]
        secret = SECRET_COLUMNS.get(name, ())
        has_id = "id" in table.c
        outcomes: list[RowOutcome] = []
        async with self._writing() as conn:
            if replace:
                await conn.execute(sa.delete(table))
            for raw in rows:
                if not isinstance(raw, dict):
                    outcomes.append(RowOutcome(name, "?", "skipped", "not an object"))
                    continue
                try:
                    values = {
                        column.name: _column_value(column, raw[column.name])
                        for column in table.c
                        if column.name in raw
                    }
                except BadField as exc:
                    label = _key_text(raw, keys)
                    outcomes.append(RowOutcome(name, label, "skipped", str(exc), raw.get("id")))
                    continue
                for column in secret:
                    if values.get(column) is not None:
                        values[column] = self._box.encrypt(values[column])
                label = _key_text(raw, keys)
                old_id = raw.get("id") if has_id else None
                missing = [c.name for c in table.c if not c.nullable and c.name not in values
                           and c.server_default is None and not c.primary_key]  # fmt: skip
                if missing or any(key not in raw for key in keys):
                    reason = f"missing field {(missing or list(keys))[0]!r}"
                    outcomes.append(RowOutcome(name, label, "skipped", reason, old_id))
                    continue
                found = None
                if not replace:
                    match = sa.and_(*(table.c[key] == values.get(key) for key in keys))
                    if any(values.get(key) is None for key in keys):
                        match = sa.and_(*(
                            table.c[key].is_(None) if values.get(key) is None
                            else table.c[key] == values[key] for key in keys
                        ))  # fmt: skip
                    found = (await conn.execute(sa.select(table).where(match))).first()
                if found is None:
                    if has_id and not replace:
                        values.pop("id", None)
                    result = await _guarded(conn, sa.insert(table).values(**values))
                    if result is None:
                        outcomes.append(RowOutcome(name, label, "skipped", _CONFLICT, old_id))
                        continue
                    new_id = None
                    if has_id:
                        pk = result.inserted_primary_key
                        new_id = int(pk[0]) if pk and pk[0] is not None else values.get("id")
                    outcomes.append(RowOutcome(name, label, "added", None, old_id, new_id))
                    continue
                current = dict(found._mapping)
                existing_id = int(current["id"]) if has_id else None
                changes = {
                    column: value
                    for column, value in values.items()
                    if column != "id" and column not in secret and current.get(column) != value
                }
                for column in secret:  # ciphertexts always differ: compare the plaintexts
                    if column in raw and self._box.decrypt(current.get(column)) != raw[column]:
                        changes[column] = values[column]
                if not changes:
                    outcome = RowOutcome(name, label, "skipped", "already stored, unchanged",
                                         old_id, existing_id)  # fmt: skip
                    outcomes.append(outcome)
                    continue
                match = sa.and_(*(table.c[key] == current[key] for key in keys if current[key]
                                  is not None))  # fmt: skip
                if has_id:
                    match = table.c.id == existing_id
                if await _guarded(conn, sa.update(table).where(match).values(**changes)) is None:
                    outcomes.append(RowOutcome(name, label, "skipped", _CONFLICT, old_id))
                    continue
                outcomes.append(RowOutcome(name, label, "updated", None, old_id, existing_id))
            if replace and has_id and self.dialect == "postgresql":
                # Rows inserted with their ids: the sequence must move past them.
                await conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
                    )
                )
        return outcomes
