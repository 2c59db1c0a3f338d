import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from kirogate.errors import StoreUnavailable
from kirogate.store import Store


async def test_topics_start_unknown_and_count_each_change(store):
    assert await store.revisions() == {}
    await store.bump_revision("keys")
    await store.bump_revision("keys")
    await store.bump_revision("ips")
    assert await store.revisions() == {"keys": 2, "ips": 1}


async def test_other_processes_see_the_same_counters(store, open_store):
    other = await open_store()
    await store.bump_revision("settings")
    await other.bump_revision("settings")
    assert await store.revisions() == {"settings": 2}
    assert await other.revisions() == {"settings": 2}


async def test_a_change_by_another_process_moves_the_mark(store, open_store):
    other = await open_store()
    current, mark = await store.revisions_after(None)
    assert current == {}
    await other.bump_revision("keys")
    current, mark = await store.revisions_after(mark)
    assert current == {"keys": 1}


async def test_a_change_by_this_process_is_read_too(store):
    _, mark = await store.revisions_after(None)
    await store.bump_revision("ips")
    current, _ = await store.revisions_after(mark)
    assert current == {"ips": 1}


async def test_postgresql_always_reads(pg_database_url, data_dir):
    async with await Store.open(database_url=pg_database_url, data_dir=data_dir) as store:
        await store.bump_revision("keys")
        assert await store.revisions_after(None) == ({"keys": 1}, None)
        await store.bump_revision("keys")
        assert await store.revisions_after(None) == ({"keys": 2}, None)


async def test_postgresql_replaces_a_kept_connection_the_server_closed(pg_database_url, data_dir):
    async with await Store.open(database_url=pg_database_url, data_dir=data_dir) as store:
        await store.bump_revision("keys")
        assert (await store.revisions_after(None))[0] == {"keys": 1}
        server = store._server_watch
        assert server is not None and server._driver is not None
        pid = server._driver.get_server_pid()
        async with store.engine.connect() as conn:
            await conn.execute(sa.text(f"SELECT pg_terminate_backend({pid})"))
        assert (await store.revisions_after(None))[0] == {"keys": 1}  # no outage reported
        assert server._driver.get_server_pid() != pid


async def test_postgresql_away_is_an_outage_then_reads_again(
    pg_database_url, data_dir, monkeypatch
):
    async with await Store.open(database_url=pg_database_url, data_dir=data_dir) as store:
        await store.bump_revision("keys")
        server = store._server_watch
        assert server is not None
        real = server._read

        async def away() -> dict[str, int]:
            raise OSError("connection refused")

        monkeypatch.setattr(server, "_read", away)
        with pytest.raises(StoreUnavailable):
            await store.revisions_after(None)
        monkeypatch.setattr(server, "_read", real)
        assert (await store.revisions_after(None))[0] == {"keys": 1}


@pytest.fixture
async def lite(data_dir: Path) -> AsyncIterator[Store]:
    async with await Store.open(database_url=None, data_dir=data_dir) as store:
        yield store


def _statements(store: Store) -> list[str]:
    """The statements the store's kept watch connection runs from now on."""
    watch = store._revision_watch
    assert watch is not None and watch._conn is not None
    seen: list[str] = []
    watch._conn.set_trace_callback(seen.append)
    return seen


async def test_nothing_changed_runs_no_query(lite, monkeypatch):
    await lite.bump_revision("keys")
    current, mark = await lite.revisions_after(None)
    assert current == {"keys": 1}
    statements = _statements(lite)

    async def no_pooled_read() -> dict[str, int]:
        raise AssertionError("read through the pool")

    monkeypatch.setattr(lite, "revisions", no_pooled_read)
    for _ in range(3):
        assert await lite.revisions_after(mark) == (None, mark)
    assert statements == ["PRAGMA data_version"] * 3


async def test_a_commit_by_another_connection_is_seen_by_the_next_read(lite, data_dir):
    await lite.bump_revision("keys")
    _, mark = await lite.revisions_after(None)
    # What `kirogate keys create` does from another process: its own connection's commit.
    with contextlib.closing(sqlite3.connect(data_dir / "kirogate.db", isolation_level=None)) as cli:
        cli.execute("UPDATE revisions SET revision = revision + 1 WHERE topic = 'keys'")
    current, moved = await lite.revisions_after(mark)
    assert current == {"keys": 2}
    assert moved != mark
    assert await lite.revisions_after(moved) == (None, moved)


def _copy_with(source: Path, target: Path, topic: str, revision: int) -> None:
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target, isolation_level=None)) as dst,
    ):
        src.backup(dst)
        dst.execute("UPDATE revisions SET revision = ? WHERE topic = ?", (revision, topic))


async def test_a_database_file_replaced_under_the_store_is_watched_anew(lite, data_dir):
    await lite.bump_revision("keys")
    _, mark = await lite.revisions_after(None)
    path = data_dir / "kirogate.db"
    restored = data_dir / "restored.db"
    _copy_with(path, restored, "keys", 7)
    # A file is replaced safely only with its WAL written back and the pool's connections
    # closed (they would write to the old file); the watch's own is what is tested here.
    await lite.engine.dispose()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.replace(restored, path)
    current, moved = await lite.revisions_after(mark)
    assert current == {"keys": 7}
    assert await lite.revisions_after(moved) == (None, moved)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as cli:
        cli.execute("UPDATE revisions SET revision = 8 WHERE topic = 'keys'")
    assert (await lite.revisions_after(moved))[0] == {"keys": 8}


async def test_a_broken_watch_reports_the_database_away_then_reopens(lite):
    await lite.bump_revision("keys")
    _, mark = await lite.revisions_after(None)
    watch = lite._revision_watch
    assert watch is not None and watch._conn is not None
    watch._conn.close()  # any sqlite3 error on the kept connection
    with pytest.raises(StoreUnavailable):
        await lite.revisions_after(mark)
    current, _ = await lite.revisions_after(mark)  # a new connection, so a full read
    assert current == {"keys": 1}


async def test_a_missing_database_file_is_an_outage_not_a_new_file(lite, data_dir):
    await lite.bump_revision("keys")
    _, mark = await lite.revisions_after(None)
    path = data_dir / "kirogate.db"
    aside = data_dir / "aside.db"
    path.rename(aside)
    try:
        lite._revision_watch.close()  # type: ignore[union-attr]
        with pytest.raises(StoreUnavailable):
            await lite.revisions_after(mark)
        assert not path.exists()
    finally:
        aside.rename(path)
    assert (await lite.revisions_after(mark))[0] == {"keys": 1}


async def test_a_busy_file_is_read_through_the_pool(lite, monkeypatch):
    await lite.bump_revision("keys")
    watch = lite._revision_watch
    assert watch is not None

    async def busy(mark: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(watch, "look", busy)
    assert await lite.revisions_after(None) == ({"keys": 1}, None)


async def test_closing_the_store_closes_the_watch(data_dir):
    store = await Store.open(database_url=None, data_dir=data_dir)
    await store.revisions_after(None)
    watch = store._revision_watch
    assert watch is not None and watch._conn is not None
    await store.close()
    assert watch._conn is None
