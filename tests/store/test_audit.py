"""The audit rows in the store: written, filtered, paged (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kirogate.store import Store
from kirogate.store.audit import AuditQuery, AuditRecord

T0 = datetime(2026, 12, 7, 4, tzinfo=UTC)


def record(name: str, target: str, minutes: int) -> AuditRecord:
    return AuditRecord(at=T0 + timedelta(minutes=minutes), actor="admin-key", address="10.0.0.1",
                       action=f"POST /api/admin/{name}", name=name, target=target, status=200,
                       detail={"disabled": True})  # fmt: skip


async def test_rows_are_listed_newest_first_with_filters(store: Store) -> None:
    for minute, (name, target) in enumerate([("a", "1"), ("b", "2"), ("a", "3")]):
        await store.add_audit(record(name, target, minute))
    rows = await store.list_audit(AuditQuery())
    assert [row.target for row in rows] == ["3", "2", "1"]
    assert rows[0].detail == {"disabled": True} and rows[0].at == T0 + timedelta(minutes=2)
    assert [r.target for r in await store.list_audit(AuditQuery(action="a"))] == ["3", "1"]
    assert [r.target for r in await store.list_audit(AuditQuery(action="POST /api/admin/b"))] == [
        "2"
    ]
    since = AuditQuery(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2))
    assert [r.target for r in await store.list_audit(since)] == ["2"]
    page = await store.list_audit(AuditQuery(limit=1, before=rows[0].id))
    assert [r.target for r in page] == ["2"]
    assert await store.list_audit(AuditQuery(actor="console:x")) == []
    assert [r.target for r in await store.list_audit(AuditQuery(target="1"))] == ["1"]
