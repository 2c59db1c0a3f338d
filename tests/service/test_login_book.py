"""The in-process login book keeps the ``logins`` table's rules (tests/store/test_logins.py)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from kirogate.service.login_book import LoginRecord, MemoryLoginBook

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


async def test_the_memory_book_keeps_the_tables_rules() -> None:
    book = MemoryLoginBook()
    row = LoginRecord(
        id="login_" + "1" * 24, kind="social", status="pending", region="us-east-1",
        created_at=NOW, expires_at=NOW + timedelta(minutes=10), state_hash="h",
        secret={"verifier": "v"},
    )  # fmt: skip
    await book.add_login(asdict(row))
    assert LoginRecord.of(await book.login_by_state("h")) == row
    assert await book.claim_login_secret(row.id) == {"verifier": "v"}
    assert await book.claim_login_secret(row.id) is None
    assert await book.expired_logins(NOW + timedelta(minutes=10)) == [row.id]
    assert await book.finish_login(row.id, "expired", at=NOW)
    assert not await book.finish_login(row.id, "complete", at=NOW)
    assert await book.purge_logins(NOW) == 0
    assert await book.purge_logins(NOW + timedelta(seconds=1)) == 1
    assert await book.count_logins() == 0


async def test_an_ended_status_is_replaced_only_when_named() -> None:
    book = MemoryLoginBook()
    row = LoginRecord(
        id="login_" + "2" * 24, kind="device", status="pending", region="us-east-1",
        created_at=NOW, expires_at=NOW,
    )  # fmt: skip
    await book.add_login(asdict(row))
    assert await book.finish_login(row.id, "expired", at=NOW)
    assert not await book.finish_login(row.id, "complete", at=NOW, credential_id=3)
    assert await book.finish_login(
        row.id, "complete", at=NOW, credential_id=3, overriding=("expired",)
    )
    assert LoginRecord.of(await book.get_login(row.id)) == LoginRecord(
        id=row.id, kind="device", status="complete", region="us-east-1", created_at=NOW,
        expires_at=NOW, finished_at=NOW, credential_id=3,
    )  # fmt: skip
    assert LoginRecord.of(None) is None
