"""The audit trail: every admin call that changes something, and explicit records.

The admin route class (:class:`kirogate.admin.auth.AdminRoute`) records every non-GET admin
call once its key is accepted, success or refusal, with :meth:`AuditOperations.record_call`;
a route that does something sensitive on a GET (an export with secrets) records it with
:meth:`AuditOperations.audit_event`, which takes the caller from :data:`ADMIN_CALL`.

The record is written after the action, before the answer leaves. The actions themselves
are stored first (see :mod:`kirogate.service.operations`), so a database that cannot take
the audit row has almost always refused the action already; when only the audit write fails
the change stays made (refusing it then would undo nothing: it is done) and the record goes
to the log as a warning instead, so the trail is still complete, in the log.

No secret is recorded: no body, only the fields of :data:`DETAIL_FIELDS` with plain values.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kirogate.store.audit import AuditQuery, AuditRecord

if TYPE_CHECKING:
    from kirogate.store import Store

__all__ = [
    "ADMIN_CALL",
    "AdminCall",
    "AuditOperations",
    "AuditQuery",
    "AuditRecord",
    "audit_detail",
]

log = logging.getLogger(__name__)

DEFAULT_ACTOR = "admin-key"
MEMORY_LIMIT = 1000  # a gateway without a store keeps this many records in memory

# Body and query fields an audit row may show: names, switches and numbers, never a secret.
DETAIL_FIELDS = frozenset(
    {
        "disabled", "enabled", "priority", "weight", "mode", "name", "label", "reason",
        "expires_at", "events", "format", "state", "region", "provider", "secrets",
        "status", "group", "strategy", "before", "ids", "all", "model", "kind",
    }
)  # fmt: skip
_MAX_TEXT = 200


@dataclass(frozen=True, slots=True)
class AdminCall:
    """Who is asking, and what, for the records of one admin call."""

    actor: str
    address: str | None
    method: str
    path: str  # the route's path template
    name: str


ADMIN_CALL: ContextVar[AdminCall | None] = ContextVar("kirogate_admin_call", default=None)


def harmless(value: Any) -> bool:
    if isinstance(value, bool | int | float) or value is None:
        return True
    if isinstance(value, str):
        return len(value) <= _MAX_TEXT
    if isinstance(value, list):
        return len(value) <= 50 and all(
            isinstance(item, bool | int | float | str) and harmless(item) for item in value
        )
    return False


def audit_detail(*sources: dict[str, Any] | None) -> dict[str, Any]:
    """The allow-listed fields of ``sources`` whose values are plain and short."""
    detail: dict[str, Any] = {}
    for source in sources:
        for key, value in (source or {}).items():
            if key in DETAIL_FIELDS and harmless(value):
                detail[key] = value
    return detail


class AuditOperations:
    """The audit trail's side of :class:`~kirogate.service.operations.Operations`."""

    _store: Callable[[], Store | None]
    _audit_memory: deque[AuditRecord]

    def _audit_store(self) -> Store | None:
        store: Store | None = self._store()
        return store

    def _memory_trail(self) -> deque[AuditRecord]:
        try:
            return self._audit_memory
        except AttributeError:
            self._audit_memory = deque(maxlen=MEMORY_LIMIT)
            return self._audit_memory

    async def record_call(self, record: AuditRecord) -> None:
        """Store one audited call; a failed write is logged (the action is done already)."""
        store = self._audit_store()
        if store is None:
            trail = self._memory_trail()
            last = trail[-1].id or 0 if trail else 0
            trail.append(replace(record, id=last + 1))
            return
        try:
            await store.add_audit(record)
        except Exception as exc:
            log.warning(
                "audit: could not store the record of %s on %s by %s from %s -> %s (%s); "
                "the change was made",
                record.action, record.target or "-", record.actor, record.address,
                record.status, exc,
            )  # fmt: skip

    async def audit_event(
        self, action: str, target: str | int | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        """An explicit record (e.g. an export with secrets), by the admin call running now.

        ``detail`` must hold no secret; it is filtered to plain, short values all the same.
        """
        call = ADMIN_CALL.get()
        safe = {key: value for key, value in (detail or {}).items() if harmless(value)}
        record = AuditRecord(
            at=datetime.now(UTC),
            actor=call.actor if call else "system",
            address=call.address if call else None,
            action=f"{call.method} {call.path}" if call else action,
            name=action,
            target=None if target is None else str(target),
            status=200,
            detail=safe or None,
        )
        await self.record_call(record)

    async def audit_records(self, query: AuditQuery) -> list[AuditRecord]:
        """The trail, newest first, filtered."""
        store = self._audit_store()
        if store is not None:
            return await store.list_audit(query)
        rows = [record for record in reversed(self._memory_trail()) if query.matches(record)]
        return rows[: query.limit]
