import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kirogate.errors import StoreUnavailable
from kirogate.service.changes import ChangeFeed
from kirogate.store import Store


class FakeStore:
    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.fail = False

    async def bump_revision(self, topic: str) -> None:
        if self.fail:
            raise OSError("database away")
        self.counters[topic] = self.counters.get(topic, 0) + 1

    async def revisions(self) -> dict[str, int]:
        if self.fail:
            raise OSError("database away")
        return dict(self.counters)

    async def revisions_after(self, mark: object) -> tuple[dict[str, int], None]:
        return await self.revisions(), None


async def test_a_local_change_calls_the_listeners_at_once():
    store = FakeStore()
    feed = ChangeFeed(lambda: store)  # type: ignore[arg-type, return-value]
    called: list[str] = []
    feed.on("keys", lambda: called.append("sync"))

    async def reload() -> None:
        called.append("async")

    feed.on("keys", reload)
    await feed.changed("keys")
    assert called == ["sync", "async"]
    assert store.counters == {"keys": 1}


async def test_another_process_change_is_seen_at_the_next_poll():
    store = FakeStore()
    here = ChangeFeed(lambda: store)  # type: ignore[arg-type, return-value]
    there = ChangeFeed(lambda: store)  # type: ignore[arg-type, return-value]
    seen: list[str] = []
    here.on("ips", lambda: seen.append("ips"))
    assert await here.poll() == []  # the first poll learns where things stand
    await there.changed("ips")
    assert await here.poll() == ["ips"]
    assert seen == ["ips"]
    assert await here.poll() == []


async def test_own_changes_are_not_reported_twice():
    store = FakeStore()
    feed = ChangeFeed(lambda: store)  # type: ignore[arg-type, return-value]
    seen: list[str] = []
    feed.on("keys", lambda: seen.append("keys"))
    await feed.poll()
    await feed.changed("keys")
    assert await feed.poll() == []
    assert seen == ["keys"]


async def test_a_failing_store_neither_raises_nor_stops_the_watch(caplog):
    store = FakeStore()
    feed = ChangeFeed(lambda: store, interval=0.01)  # type: ignore[arg-type, return-value]
    seen: list[str] = []
    feed.on("keys", lambda: seen.append("keys"))
    store.fail = True
    await feed.changed("keys")  # the local listeners still hear of it
    assert seen == ["keys"]
    feed.start()
    await asyncio.sleep(0.05)
    store.fail = False
    await asyncio.sleep(0.05)
    await feed.close()
    assert "change feed" in caplog.text


async def test_a_broken_listener_does_not_stop_the_others(caplog):
    feed = ChangeFeed(lambda: None)
    seen: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    feed.on("keys", broken)
    feed.on("keys", lambda: seen.append("ok"))
    await feed.changed("keys")
    assert seen == ["ok"]
    assert "listener for keys changes failed" in caplog.text


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """A serving process's SQLite store and another process's (the command line's)."""
    here = await Store.open(database_url=None, data_dir=tmp_path)
    there = await Store.open(database_url=None, data_dir=tmp_path)
    try:
        yield here, there
    finally:
        await there.close()
        await here.close()


async def test_a_stored_change_from_another_process_is_seen_by_the_next_poll(stores):
    here, there = stores
    feed, other = ChangeFeed(lambda: here), ChangeFeed(lambda: there)
    seen: list[str] = []
    feed.on("keys", lambda: seen.append("keys"))
    assert await feed.poll() == []
    await other.changed("keys")
    assert await feed.poll() == ["keys"]
    assert seen == ["keys"]
    assert await feed.poll() == []


async def test_an_idle_database_costs_no_query(stores, monkeypatch):
    here, _ = stores
    feed = ChangeFeed(lambda: here)
    await feed.poll()
    watch = here._revision_watch
    assert watch is not None and watch._conn is not None
    statements: list[str] = []
    watch._conn.set_trace_callback(statements.append)

    async def no_pooled_read() -> dict[str, int]:
        raise AssertionError("read through the pool")

    monkeypatch.setattr(here, "revisions", no_pooled_read)
    for _ in range(5):
        assert await feed.poll() == []
    assert statements == ["PRAGMA data_version"] * 5


async def test_this_process_writes_are_not_reported_as_changes(stores):
    here, _ = stores
    feed = ChangeFeed(lambda: here)
    seen: list[str] = []
    feed.on("ips", lambda: seen.append("ips"))
    await feed.poll()
    await feed.changed("ips")
    await here.record_visits({"192.0.2.9": (1, datetime.now(UTC))})  # another write of ours
    assert await feed.poll() == []
    assert seen == ["ips"]


async def test_a_restore_by_another_process_is_seen(stores):
    here, there = stores
    feed, other = ChangeFeed(lambda: here), ChangeFeed(lambda: there)
    assert await feed.poll() == []
    rows = [{"ip": "192.0.2.1", "reason": "restored", "created_at": datetime.now(UTC).isoformat()}]
    await there.restore_table("blocked_ips", rows, replace=True)
    await other.changed("ips")
    assert await feed.poll() == ["ips"]
    await there.restore_table("blocked_ips", [], replace=True)
    await other.changed("ips")
    assert await feed.poll() == ["ips"]


async def test_the_feed_recovers_from_a_database_error(stores, caplog):
    here, there = stores
    feed, other = ChangeFeed(lambda: here, interval=0.01), ChangeFeed(lambda: there)
    seen: list[str] = []
    feed.on("keys", lambda: seen.append("keys"))
    await feed.poll()
    watch = here._revision_watch
    assert watch is not None and watch._conn is not None
    watch._conn.close()  # the kept connection breaks: the next poll fails
    with pytest.raises(StoreUnavailable):
        await feed.poll()
    watch._conn = sqlite3.connect(":memory:")  # the reopened one would fail again
    watch._conn.close()
    feed.start()  # its first poll fails (logged), the next one reopens the watch
    await asyncio.sleep(0.05)
    await other.changed("keys")
    for _ in range(200):
        if seen:
            break
        await asyncio.sleep(0.01)
    await feed.close()
    assert seen == ["keys"]
    assert "change feed" in caplog.text
