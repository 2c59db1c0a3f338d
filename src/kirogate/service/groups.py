"""Credential groups through the one door: a client key bound to a group is served by the
group's credentials only.

Each change is stored first, then announced on the ``groups`` change topic, whose listener in
every process (:meth:`GroupOperations.reload_groups`, registered by the gateway) loads the
membership into the pool. The request path reads the pool's copy only, never the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from kirogate.errors import InvalidRequest, NotFound, StoreUnavailable

if TYPE_CHECKING:
    from types import ModuleType

    from kirogate.pool.credential_pool import CredentialPool
    from kirogate.service.changes import ChangeFeed
    from kirogate.store import Store
    from kirogate.store.groups import GroupRecord

log = logging.getLogger(__name__)

TOPIC = "groups"


class GroupKeeper(Protocol):
    """Where the groups are kept: the store, or :class:`MemoryGroups` without one."""

    async def list_groups(self) -> list[GroupRecord]: ...
    async def get_group(self, name: str) -> GroupRecord: ...
    async def group_memberships(self) -> dict[str, frozenset[int]]: ...
    async def create_group(self, name: str, description: str | None = None) -> GroupRecord: ...
    async def update_group(self, name: str, *, description: str | None) -> GroupRecord: ...
    async def delete_group(self, name: str) -> None: ...
    async def set_group_members(self, name: str, ids: Iterable[int]) -> GroupRecord: ...
    async def add_group_members(self, name: str, ids: Iterable[int]) -> GroupRecord: ...
    async def remove_group_member(self, name: str, credential_id: int) -> GroupRecord: ...


def _rules() -> ModuleType:
    """The groups' record and name rules, imported when first needed: they live with the
    store, whose SQLAlchemy a gateway without a store never loads."""
    from kirogate.store import groups

    return groups


class MemoryGroups:
    """The groups of a gateway without a store (tests, embedding): this process only, lost
    at exit, with the store's rules (names, unknown ids: those not in the pool)."""

    def __init__(self, known: Callable[[], set[int]]) -> None:
        self._known = known
        self._groups: dict[str, GroupRecord] = {}

    def _get(self, name: str) -> GroupRecord:
        group = self._groups.get(name) if _rules().valid_name(name) else None
        if group is None:
            raise NotFound(f"group {name[:80]!r} does not exist", param="name")
        return group

    def _members(self, name: str, ids: Iterable[int]) -> GroupRecord:
        group = self._groups[name] = replace(self._get(name), credential_ids=tuple(sorted(ids)))
        return group

    def _check(self, ids: tuple[int, ...]) -> None:
        known = self._known()
        unknown = [cid for cid in ids if cid not in known]
        if unknown:
            listed = ", ".join(f"#{cid}" for cid in unknown[:20])
            raise InvalidRequest(f"ids: no credential {listed}", param="ids")

    async def list_groups(self) -> list[GroupRecord]:
        return [self._groups[name] for name in sorted(self._groups)]

    async def get_group(self, name: str) -> GroupRecord:
        return self._get(name)

    async def group_memberships(self) -> dict[str, frozenset[int]]:
        return {name: frozenset(g.credential_ids) for name, g in self._groups.items()}

    async def create_group(self, name: str, description: str | None = None) -> GroupRecord:
        name = _rules().group_name(name)
        description = _rules().description_of(description)
        if name in self._groups:
            raise InvalidRequest(f"name: group {name!r} exists already", param="name")
        group: GroupRecord = _rules().GroupRecord(name, description, datetime.now(UTC), ())
        self._groups[name] = group
        return group

    async def update_group(self, name: str, *, description: str | None) -> GroupRecord:
        description = _rules().description_of(description)
        group = self._groups[name] = replace(self._get(name), description=description)
        return group

    async def delete_group(self, name: str) -> None:
        self._get(name)
        del self._groups[name]

    async def set_group_members(self, name: str, ids: Iterable[int]) -> GroupRecord:
        wanted = _rules().credential_ids(list(ids))
        self._get(name)
        self._check(wanted)
        return self._members(name, wanted)

    async def add_group_members(self, name: str, ids: Iterable[int]) -> GroupRecord:
        wanted = _rules().credential_ids(list(ids))
        group = self._get(name)
        self._check(wanted)
        return self._members(name, {*group.credential_ids, *wanted})

    async def remove_group_member(self, name: str, credential_id: int) -> GroupRecord:
        group = self._get(name)
        if credential_id not in group.credential_ids:
            raise NotFound(f"credential #{credential_id} is not in group {name!r}")
        return self._members(name, set(group.credential_ids) - {credential_id})


class GroupOperations:
    """The credential groups' operations (a mixin of :class:`~kirogate.service.operations.Operations`)."""

    changes: ChangeFeed
    _pool: Callable[[], CredentialPool | None]
    _store: Callable[[], Store | None]
    _memory_groups: MemoryGroups | None = None

    def _groups(self) -> GroupKeeper:
        store = self._store()
        if store is not None:
            return store
        if self._memory_groups is None:
            self._memory_groups = MemoryGroups(self._pool_ids)
        return self._memory_groups

    def _pool_ids(self) -> set[int]:
        pool = self._pool()
        if pool is None:
            return set()
        return {credential.id for credential in pool.credentials() if credential.id is not None}

    async def list_groups(self) -> list[GroupRecord]:
        return await self._groups().list_groups()

    async def get_group(self, name: str) -> GroupRecord:
        """The group with its members; :class:`~kirogate.errors.NotFound` when there is none."""
        return await self._groups().get_group(name)

    async def group_exists(self, name: str) -> bool:
        """Whether a group called ``name`` is stored (to check a key's group before binding it)."""
        return name in await self.group_names()

    async def group_names(self) -> list[str]:
        return [group.name for group in await self._groups().list_groups()]

    async def credential_group_members(self, group: str) -> frozenset[int] | None:
        """The ids of the credentials in ``group``, or ``None`` when there is no such group
        (for the credential listing's filter)."""
        pool = self._pool()
        if pool is not None and group in (held := pool.groups()):
            return held[group]
        try:
            return frozenset((await self._groups().get_group(group)).credential_ids)
        except NotFound:
            return None

    def groups_by_credential(self) -> dict[int, list[str]]:
        """Each credential's groups, by name, as the live pool holds them (for listings: no
        database query); empty without a pool."""
        pool = self._pool()
        by_credential: dict[int, list[str]] = {}
        if pool is not None:
            for name, ids in sorted(pool.groups().items()):
                for cid in ids:
                    by_credential.setdefault(cid, []).append(name)
        return by_credential

    async def create_group(self, name: str, description: str | None = None) -> GroupRecord:
        group = await self._groups().create_group(name, description)
        log.info("credential group %s created", group.name)
        await self.changes.changed(TOPIC)
        return group

    async def update_group(self, name: str, *, description: str | None) -> GroupRecord:
        group = await self._groups().update_group(name, description=description)
        await self.changes.changed(TOPIC)
        return group

    async def delete_group(self, name: str) -> None:
        """Delete the group and its memberships. Keys still bound to it are served by nobody
        (their requests get :class:`~kirogate.errors.GroupUnavailable`) until rebound."""
        await self._groups().delete_group(name)
        log.info("credential group %s deleted", name)
        await self.changes.changed(TOPIC)

    async def set_group_members(self, name: str, ids: Iterable[int]) -> GroupRecord:
        """Make ``ids`` the group's members; unknown ids are a 400 naming them, nothing changed."""
        group = await self._groups().set_group_members(name, ids)
        log.info("credential group %s: members %s", name, list(group.credential_ids))
        await self.changes.changed(TOPIC)
        return group

    async def add_group_members(self, name: str, ids: Iterable[int]) -> GroupRecord:
        group = await self._groups().add_group_members(name, ids)
        await self.changes.changed(TOPIC)
        return group

    async def remove_group_member(self, name: str, credential_id: int) -> GroupRecord:
        group = await self._groups().remove_group_member(name, credential_id)
        await self.changes.changed(TOPIC)
        return group

    async def reload_groups(self) -> None:
        """Load every group's membership into the live pool (at start and on each change).

        A store that does not answer leaves the pool with what it last loaded.
        """
        pool = self._pool()
        if pool is None:
            return
        try:
            memberships = await self._groups().group_memberships()
        except StoreUnavailable as exc:
            log.warning("credential groups not reloaded: %s", exc.message)
            return
        pool.set_groups(memberships)
