"""The audit operations: detail allow-list, the memory trail, a failed write logged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kirogate.errors import StoreUnavailable
from kirogate.service.audit import AuditOperations, AuditQuery, AuditRecord, audit_detail


class Door(AuditOperations):
    def __init__(self, store: Any = None) -> None:
        self._store = lambda: store


def test_only_allow_listed_plain_fields_are_kept() -> None:
    body = {"disabled": True, "refreshToken": "secret", "name": "x" * 500, "events": ["a"],
            "priority": {"nested": 1}}  # fmt: skip
    assert audit_detail(body, {"secrets": "true"}) == {"disabled": True, "events": ["a"],
                                                       "secrets": "true"}  # fmt: skip


async def test_without_a_store_the_trail_is_kept_in_memory() -> None:
    door = Door()
    await door.audit_event("credentials.export", target=3, detail={"secrets": True})
    (row,) = await door.audit_records(AuditQuery())
    assert (row.id, row.name, row.target, row.actor) == (1, "credentials.export", "3", "system")


async def test_a_failed_write_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Away:
        async def add_audit(self, record: AuditRecord) -> int:
            raise StoreUnavailable("database away")

    record = AuditRecord(at=datetime.now(UTC), actor="admin-key", address="1.2.3.4",
                         action="DELETE /api/admin/x/{id}", name="x", target="9", status=200)  # fmt: skip
    await Door(Away()).record_call(record)
    assert "could not store the record of DELETE /api/admin/x/{id}" in caplog.text
