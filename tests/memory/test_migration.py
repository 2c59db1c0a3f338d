"""Migrations without Alembic in the serving process: the head shortcut and the child process."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from kirogate.errors import ConfigError, SchemaTooNew
from kirogate.store import Store, migrate
from kirogate.store.base import create_engine
from kirogate.store.migrate import HEAD_REVISION, head_revision, upgrade
from kirogate.store.urls import parse_database_url


def test_head_constant_is_alembics_head_and_the_newest_script() -> None:
    assert head_revision() == HEAD_REVISION
    assert migrate._known_head() == HEAD_REVISION


def test_a_newer_script_than_the_constant_disables_the_shortcut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(migrate, "HEAD_REVISION", "0001_initial")
    assert migrate._known_head() is None


def in_process_upgrade_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    async def forbidden(*args: object) -> None:
        raise AssertionError("migrated in the serving process")

    monkeypatch.setattr(migrate, "_upgrade_here", forbidden)


async def version_of(store: Store) -> str | None:
    async with store.engine.connect() as conn:
        return await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))


async def test_isolated_open_migrates_a_new_database_in_a_child(
    open_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_process_upgrade_forbidden(monkeypatch)
    store = await open_store(isolated_migration=True)
    assert store.schema_upgraded
    assert await version_of(store) == HEAD_REVISION
    await store.set_setting("kept", 1)
    again = await open_store(isolated_migration=True)
    assert not again.schema_upgraded
    assert await again.get_setting("kept") == 1


async def test_a_database_at_head_is_recognised_without_alembic(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_alembic(*args: object) -> None:
        raise AssertionError("Alembic used for a database at head")

    monkeypatch.setattr(migrate, "_upgrade_sync", no_alembic)
    assert await upgrade(store.engine, store.display_url) is False


async def test_isolated_open_reports_a_newer_schema_from_the_child(
    store: Store, open_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '0042_future'"))
    in_process_upgrade_forbidden(monkeypatch)
    with pytest.raises(SchemaTooNew) as caught:
        await open_store(isolated_migration=True)
    assert caught.value.revision == "0042_future"
    assert caught.value.head == HEAD_REVISION
    assert "Upgrade kirogate" in str(caught.value)


async def test_concurrent_isolated_opens_on_postgres_migrate_once(
    pg_database_url: str, data_dir: Path
) -> None:
    stores = await asyncio.gather(
        *(
            Store.open(database_url=pg_database_url, data_dir=data_dir, isolated_migration=True)
            for _ in range(3)
        )
    )
    try:
        assert sorted(s.schema_upgraded for s in stores) == [False, False, True]
    finally:
        for s in stores:
            await s.close()


async def test_a_failure_in_the_child_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "not.db"
    path.write_bytes(b"this is not a database file at all" * 100)
    engine = create_engine(parse_database_url(f"sqlite:///{path}", tmp_path))
    try:
        with pytest.raises(ConfigError, match=r"upgrading the schema of shown failed: .*database"):
            await upgrade(engine, "shown", isolated=True)
    finally:
        await engine.dispose()


async def test_a_child_without_an_answer_is_a_config_error_and_its_stderr_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def crashed(request: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess(["python"], 1, b"", b"Traceback: boom\n")

    monkeypatch.setattr(migrate, "_run_child", crashed)
    engine = create_engine(parse_database_url(None, tmp_path))
    try:
        with (
            caplog.at_level(logging.WARNING, logger="kirogate.store.migrate"),
            pytest.raises(ConfigError, match="exited with status 1 without an answer"),
        ):
            await upgrade(engine, "shown", isolated=True)
    finally:
        await engine.dispose()
    assert "schema migration: Traceback: boom" in caplog.text


async def test_without_a_child_process_the_upgrade_runs_here(
    open_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_start(request: bytes) -> subprocess.CompletedProcess[bytes]:
        raise OSError("no python here")

    monkeypatch.setattr(migrate, "_run_child", cannot_start)
    store = await open_store(isolated_migration=True)
    assert store.schema_upgraded
    assert await version_of(store) == HEAD_REVISION
