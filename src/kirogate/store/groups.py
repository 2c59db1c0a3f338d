"""Credential groups: named subsets of the credentials, each with its members.

A client key bound to a group is served by the group's credentials only (the pool keeps the
membership in memory, see :meth:`~kirogate.pool.CredentialPool.set_groups`). A credential may
be in several groups; deleting a credential or a group removes its memberships (the foreign
keys cascade).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kirogate.errors import InvalidRequest, NotFound
from kirogate.store import values as check
from kirogate.store.asyncio_engine import AsyncConnection
from kirogate.store.base import StoreBase, utcnow
from kirogate.store.schema import credential_group_members as members
from kirogate.store.schema import credential_groups as table
from kirogate.store.schema import credentials

MAX_GROUP_NAME = 64
MAX_DESCRIPTION = 1000
MAX_MEMBERS = 10_000
# Names go in URL paths and in keys' settings: letters, digits, '.', '_' and '-'.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MAX_ID = 2**31 - 1  # the credentials' INTEGER key


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A stored group and its members' credential ids, in ascending order."""

    name: str
    description: str | None
    created_at: datetime
    credential_ids: tuple[int, ...]

    def to_public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "credential_ids": list(self.credential_ids),
        }


def valid_name(value: Any) -> bool:
    """Whether ``value`` can be a group's name (a lookup of any other is simply not found)."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def group_name(value: Any, name: str = "name") -> str:
    """``value`` checked as a group's name (:class:`InvalidRequest` naming ``name`` if not)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        shown = repr(value)[:80]
        raise InvalidRequest(
            f"{name}: must be 1 to {MAX_GROUP_NAME} letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit, got {shown}",
            param=name,
        )
    return value


def description_of(value: Any) -> str | None:
    text = check.optional_text(value, "description")
    if text is not None and "\x00" in text:  # PostgreSQL's text cannot hold it
        raise InvalidRequest("description: must not contain NUL characters", param="description")
    if text is not None and len(text) > MAX_DESCRIPTION:
        raise InvalidRequest(
            f"description: longer than {MAX_DESCRIPTION} characters", param="description"
        )
    return text


def credential_ids(value: Any, name: str = "ids") -> tuple[int, ...]:
    """A list of credential ids, deduplicated and sorted (:class:`InvalidRequest` if not)."""
    if not isinstance(value, list | tuple):
        raise InvalidRequest(f"{name}: must be an array of credential ids", param=name)
    if len(value) > MAX_MEMBERS:
        raise InvalidRequest(f"{name}: more than {MAX_MEMBERS} ids", param=name)
    ids = set()
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 < item <= _MAX_ID:
            raise InvalidRequest(
                f"{name}: {repr(item)[:40]} is not a credential id (a positive integer)",
                param=name,
            )
        ids.add(item)
    return tuple(sorted(ids))


class GroupsMixin(StoreBase):
    async def create_group(self, name: str, description: str | None = None) -> GroupRecord:
        """A new empty group; :class:`InvalidRequest` if the name is taken or not valid."""
        name = group_name(name)
        description = description_of(description)
        now = utcnow()
        try:
            async with self._writing() as conn:
                await conn.execute(
                    sa.insert(table).values(name=name, description=description, created_at=now)
                )
        except IntegrityError:
            raise InvalidRequest(f"name: group {name!r} exists already", param="name") from None
        return GroupRecord(name, description, now, ())

    async def list_groups(self) -> list[GroupRecord]:
        async with self._reading() as conn:
            rows = list(await conn.execute(sa.select(table).order_by(table.c.name)))
            pairs = list(
                await conn.execute(
                    sa.select(members.c.group_name, members.c.credential_id).order_by(
                        members.c.credential_id
                    )
                )
            )
        by_group: dict[str, list[int]] = {}
        for pair in pairs:
            by_group.setdefault(pair.group_name, []).append(int(pair.credential_id))
        return [
            GroupRecord(
                row.name, row.description, row.created_at, tuple(by_group.get(row.name, ()))
            )
            for row in rows
        ]

    async def get_group(self, name: str) -> GroupRecord:
        """The group; :class:`NotFound` when there is none."""
        async with self._reading() as conn:
            return await self._group(conn, name)

    async def group_memberships(self) -> dict[str, frozenset[int]]:
        """Every group's member ids (the pool's view; empty groups included)."""
        return {group.name: frozenset(group.credential_ids) for group in await self.list_groups()}

    async def update_group(self, name: str, *, description: str | None) -> GroupRecord:
        description = description_of(description)
        async with self._writing() as conn:
            await self._group(conn, name)
            result = await conn.execute(
                sa.update(table).where(table.c.name == name).values(description=description)
            )
            if result.rowcount == 0:
                raise _missing(name)
            return await self._group(conn, name)

    async def delete_group(self, name: str) -> None:
        """Delete the group and its memberships; :class:`NotFound` when there is none."""
        async with self._writing() as conn:
            await self._group(conn, name)
            await conn.execute(sa.delete(members).where(members.c.group_name == name))
            result = await conn.execute(sa.delete(table).where(table.c.name == name))
        if result.rowcount == 0:
            raise _missing(name)

    async def set_group_members(self, name: str, ids: Iterable[int]) -> GroupRecord:
        """Make ``ids`` the group's members (replacing the old ones), all or nothing."""
        wanted = credential_ids(list(ids))
        async with self._writing() as conn:
            await self._group(conn, name)
            await self._check_credentials(conn, wanted)
            await conn.execute(sa.delete(members).where(members.c.group_name == name))
            if wanted:
                await conn.execute(
                    sa.insert(members),
                    [{"group_name": name, "credential_id": cid} for cid in wanted],
                )
            return await self._group(conn, name)

    async def add_group_members(self, name: str, ids: Iterable[int]) -> GroupRecord:
        """Add ``ids`` to the group's members (those already in it stay)."""
        wanted = credential_ids(list(ids))
        async with self._writing() as conn:
            group = await self._group(conn, name)
            await self._check_credentials(conn, wanted)
            new = [cid for cid in wanted if cid not in group.credential_ids]
            if new:
                await conn.execute(
                    sa.insert(members), [{"group_name": name, "credential_id": cid} for cid in new]
                )
            return await self._group(conn, name)

    async def remove_group_member(self, name: str, credential_id: int) -> GroupRecord:
        """Take one credential out of the group; :class:`NotFound` if it is not a member."""
        async with self._writing() as conn:
            await self._group(conn, name)
            result = await conn.execute(
                sa.delete(members).where(
                    members.c.group_name == name, members.c.credential_id == credential_id
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"credential #{credential_id} is not in group {name!r}")
            return await self._group(conn, name)

    async def _group(self, conn: AsyncConnection, name: str) -> GroupRecord:
        if not valid_name(name):
            raise _missing(str(name))
        row = (await conn.execute(sa.select(table).where(table.c.name == name))).first()
        if row is None:
            raise _missing(name)
        ids = await conn.execute(
            sa.select(members.c.credential_id)
            .where(members.c.group_name == name)
            .order_by(members.c.credential_id)
        )
        return GroupRecord(
            row.name, row.description, row.created_at, tuple(int(cid) for (cid,) in ids)
        )

    async def _check_credentials(self, conn: AsyncConnection, ids: tuple[int, ...]) -> None:
        if not ids:
            return
        found = {
            int(cid)
            for (cid,) in await conn.execute(
                sa.select(credentials.c.id).where(credentials.c.id.in_(ids))
            )
        }
        unknown = [cid for cid in ids if cid not in found]
        if unknown:
            listed = ", ".join(f"#{cid}" for cid in unknown[:20])
            more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
            raise InvalidRequest(f"ids: no credential {listed}{more}", param="ids")


def _missing(name: str) -> NotFound:
    return NotFound(f"group {name[:80]!r} does not exist", param="name")
