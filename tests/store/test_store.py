import asyncio
import os
import stat
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from kirogate.errors import ConfigError, SchemaTooNew
from kirogate.store import Store
from kirogate.store.migrate import head_revision
from kirogate.store.schema import metadata


def mode_of(path):
    return stat.S_IMODE(path.stat().st_mode)


async def version_of(store):
    async with store.engine.connect() as conn:
        return await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))


async def test_open_upgrades_an_empty_database_to_head(store):
    assert store.schema_upgraded
    assert await version_of(store) == head_revision() == "0010_logs"
    async with store.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert set(metadata.tables) <= tables


async def test_reopen_is_a_noop(store, open_store):
    await store.set_setting("kept", 1)
    again = await open_store()
    assert not again.schema_upgraded
    assert await version_of(again) == head_revision()
    assert await again.get_setting("kept") == 1


async def test_migrated_schema_matches_the_models(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def diff(conn):
        return compare_metadata(MigrationContext.configure(conn), metadata)

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_newer_schema_is_refused_with_a_clear_message(store, open_store):
    async with store.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0042_future'"))
    with pytest.raises(SchemaTooNew) as caught:
        await open_store()
    message = str(caught.value)
    assert "'0042_future'" in message
    assert "'0010_logs'" in message
    assert "Upgrade kirogate" in message
    assert isinstance(caught.value, ConfigError)


async def test_second_serving_sqlite_process_is_refused(data_dir):
    first = await Store.open(database_url=None, data_dir=data_dir, serve=True)
    try:
        with pytest.raises(ConfigError) as caught:
            await Store.open(database_url=None, data_dir=data_dir, serve=True)
        message = str(caught.value)
        assert f"already served by another kirogate process (pid {os.getpid()})" in message
        assert "SQLite mode is single-process" in message
        assert "--database-url" in message
        # A CLI command (not serving) may still open the database next to the server.
        side = await Store.open(database_url=None, data_dir=data_dir)
        await side.close()
    finally:
        await first.close()
    again = await Store.open(database_url=None, data_dir=data_dir, serve=True)
    await again.close()


def test_serve_lock_names_the_pid_of_another_process(data_dir, tmp_path):
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from kirogate.store import Store

        async def main():
            store = await Store.open(database_url=None, data_dir=Path({str(data_dir)!r}),
                                     serve=True)
            print("ready", flush=True)
            sys.stdin.readline()
            await store.close()

        asyncio.run(main())
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"

        async def second():
            await Store.open(database_url=None, data_dir=data_dir, serve=True)

        with pytest.raises(ConfigError, match=rf"\(pid {holder.pid}\)"):
            asyncio.run(second())
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0


async def test_sqlite_files_are_private(data_dir):
    store = await Store.open(database_url=None, data_dir=data_dir, serve=True)
    try:
        await store.set_setting("x", 1)
        assert mode_of(data_dir) == 0o700
        assert mode_of(data_dir / "kirogate.db") == 0o600
        assert mode_of(data_dir / "secret.key") == 0o600
        assert mode_of(data_dir / "kirogate.db.lock") == 0o600
        wal = data_dir / "kirogate.db-wal"
        if wal.exists():
            assert mode_of(wal) == 0o600
    finally:
        await store.close()


async def test_existing_world_readable_database_is_tightened(data_dir):
    data_dir.mkdir()
    db = data_dir / "kirogate.db"
    db.touch()
    db.chmod(0o644)
    store = await Store.open(database_url=None, data_dir=data_dir)
    await store.close()
    assert mode_of(db) == 0o600


async def test_sqlite_url_forms_are_accepted(tmp_path, data_dir):
    for url in (f"sqlite:///{tmp_path}/a/one.db", f"sqlite+aiosqlite:///{tmp_path}/two.db"):
        store = await Store.open(database_url=url, data_dir=data_dir)
        assert store.dialect == "sqlite"
        await store.close()
    assert (tmp_path / "a" / "one.db").exists()
    assert (tmp_path / "two.db").exists()


async def test_unreachable_postgres_is_a_config_error_with_the_password_masked(data_dir):
    url = "postgresql://kiro:hunter2secret@127.0.0.1:1/kirogate"
    with pytest.raises(ConfigError) as caught:
        await Store.open(database_url=url, data_dir=data_dir)
    message = str(caught.value)
    assert (
        "cannot connect to the database postgresql+asyncpg://kiro:***@127.0.0.1:1/kirogate"
        in message
    )
    assert "hunter2secret" not in message


async def test_unopenable_sqlite_path_is_a_config_error(tmp_path, data_dir):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot"):
        await Store.open(database_url=f"sqlite:///{blocker}/x.db", data_dir=data_dir)


async def test_ping_answers_and_reports_a_dead_database(store):
    await store.ping()
    live = store.engine
    store.engine = create_async_engine("postgresql+asyncpg://x:pw@127.0.0.1:1/x")
    try:
        with pytest.raises(ConfigError, match="is not reachable"):
            await store.ping()
    finally:
        await store.engine.dispose()
        store.engine = live


async def test_close_is_idempotent_and_usable_as_context_manager(open_store):
    store = await open_store()
    async with store:
        await store.set_setting("a", 1)
    await store.close()


async def test_concurrent_opens_on_postgres_migrate_once(pg_database_url, data_dir):
    stores = await asyncio.gather(
        *(Store.open(database_url=pg_database_url, data_dir=data_dir) for _ in range(4))
    )
    try:
        assert sorted(s.schema_upgraded for s in stores) == [False, False, False, True]
        assert {s.dialect for s in stores} == {"postgresql"}
    finally:
        for s in stores:
            await s.close()


async def test_concurrent_first_opens_on_sqlite_migrate_once(data_dir):
    stores = await asyncio.gather(
        *(Store.open(database_url=None, data_dir=data_dir) for _ in range(3))
    )
    try:
        assert sorted(s.schema_upgraded for s in stores) == [False, False, True]
    finally:
        for s in stores:
            await s.close()


async def test_postgres_with_the_key_in_env_needs_no_data_dir(pg_database_url, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data directory would be")
    store = await Store.open(
        database_url=pg_database_url, data_dir=blocker / "data", secret_key="passphrase"
    )
    await store.close()


async def test_a_file_that_is_not_sqlite_is_a_config_error(data_dir):
    data_dir.mkdir()
    (data_dir / "kirogate.db").write_bytes(b"this is not a database file at all" * 100)
    with pytest.raises(ConfigError, match="not a usable SQLite database"):
        await Store.open(database_url=None, data_dir=data_dir)
