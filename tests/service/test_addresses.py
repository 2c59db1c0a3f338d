"""Blocked addresses and visitors through the operations; the expiry and network parsers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kirogate.errors import InvalidRequest
from kirogate.service.addresses import VisitorLog, canonical_network, parse_expiry
from kirogate.service.operations import Operations
from kirogate.settings import Settings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
async def ops(tmp_path: Path) -> AsyncIterator[Operations]:
    async with Operations.open(Settings(data_dir=tmp_path)) as operations:
        yield operations


def test_expiry_from_ttl_or_time_or_none() -> None:
    assert parse_expiry(None, None, now=NOW) is None
    assert parse_expiry(None, 90, now=NOW) == NOW + timedelta(seconds=90)
    assert parse_expiry("2026-12-08T00:00:00Z", None, now=NOW) == datetime(2026, 12, 8, tzinfo=UTC)
    # No zone: UTC.
    assert parse_expiry("2026-12-08T00:00:00", None, now=NOW) == datetime(2026, 12, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expires_at", "ttl", "field"),
    [
        ("2026-12-01T00:00:00Z", None, "expires_at"),
        ("next week", None, "expires_at"),
        (12, None, "expires_at"),
        (None, 0, "ttl"),
        (None, True, "ttl"),
        (None, float("inf"), "ttl"),
        (None, 10**12, "ttl"),
        ("2026-12-08T00:00:00Z", 5, "ttl"),
    ],
)
def test_bad_expiry_names_its_field(expires_at: Any, ttl: Any, field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_expiry(expires_at, ttl, now=NOW)
    assert refused.value.param == field


def test_networks_are_canonical_and_bad_ones_refused() -> None:
    assert canonical_network(" 10.1.2.3/8 ") == "10.0.0.0/8"
    assert canonical_network("2001:DB8::1/128") == "2001:db8::1"
    for bad in ("", None, "10.0.0.0/40", "host.example", 7):
        with pytest.raises(InvalidRequest, match="ip"):
            canonical_network(bad)


async def test_blocks_listed_and_expired_ones_pruned(ops: Operations) -> None:
    soon = datetime.now(UTC) + timedelta(milliseconds=50)
    await ops.block_address("192.0.2.1", "gone soon", expires_at=soon)
    record = await ops.block_address("2001:db8::/48", "v6")
    assert record.ip == "2001:db8::/48"
    while datetime.now(UTC) <= soon:
        pass
    assert [b.ip for b in await ops.blocked_addresses()] == ["2001:db8::/48"]
    store = ops._stored()
    assert len(await store.blocks(include_expired=True)) == 1  # pruned on listing


async def test_visitors_counted_in_memory_are_listed_from_the_store(ops: Operations) -> None:
    for _ in range(4):
        ops.visitors.seen("192.0.2.8")
    ops.visitors.seen("::1")
    rows = await ops.recent_visitors()
    assert {row.address: row.requests for row in rows} == {"192.0.2.8": 4, "::1": 1}
    ops.visitors.seen("192.0.2.8")
    await ops.visitors.close()
    rows = await ops.recent_visitors(since=datetime.now(UTC) - timedelta(minutes=1))
    assert {row.address: row.requests for row in rows}["192.0.2.8"] == 5


class BrokenStore:
    def __init__(self) -> None:
        self.calls = 0

    async def record_visits(self, seen: Any) -> None:
        self.calls += 1
        raise OSError("database away")


async def test_counts_that_could_not_be_written_wait_for_the_next_flush() -> None:
    store = BrokenStore()
    log = VisitorLog(lambda: store)  # type: ignore[arg-type, return-value]
    log.seen("192.0.2.1")
    with pytest.raises(OSError):
        await log.flush()
    log.seen("192.0.2.1")
    assert log._pending["192.0.2.1"][0] == 2
    await log.close()  # logged, not raised
    assert store.calls == 2


async def test_the_writer_runs_in_the_background(ops: Operations) -> None:
    log = VisitorLog(ops._store, interval=0.01)
    log.start()
    log.seen("192.0.2.77")
    for _ in range(200):
        if await ops._stored().visitors():
            break
        import asyncio

        await asyncio.sleep(0.01)
    await log.close()
    assert [row.address for row in await ops._stored().visitors()] == ["192.0.2.77"]


def test_the_pending_set_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from kirogate.service import addresses

    monkeypatch.setattr(addresses, "MAX_PENDING", 2)
    log = VisitorLog(lambda: None)
    for n in range(4):
        log.seen(f"192.0.2.{n}")
    assert len(log._pending) == 2
    assert log.dropped == 2
