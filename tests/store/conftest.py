"""Store fixtures: every test runs on SQLite and on the machine's PostgreSQL.

PostgreSQL tests get a throwaway database per test module (``kg_<random>``, created on the
``test`` database and dropped afterwards) with a fresh schema per test. Without a reachable
PostgreSQL they are skipped, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from kirogate.store import Store

PG_HOST = os.environ.get("KIROGATE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("KIROGATE_TEST_PG_PORT", "5432"))
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
BACKENDS = ["sqlite", "postgresql"]


def run_in_thread(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on its own loop in another thread (fixtures may run inside a test's loop)."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{database}"


@pytest.fixture(scope="module")
def pg_database() -> Any:
    """The name of a database created for this test module."""
    name = f"kg_{secrets.token_hex(6)}"
    try:
        run_in_thread(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"PostgreSQL at {PG_HOST}:{PG_PORT} (database 'test') is unreachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    yield name
    run_in_thread(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def reset_pg_schema(database: str) -> None:
    conn = await asyncpg.connect(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{database}")
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def database_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """``None`` (the default SQLite file in the data dir) or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        return None
    database = request.getfixturevalue("pg_database")
    await reset_pg_schema(database)
    return pg_url(database)


OpenStore = Callable[..., Awaitable[Store]]


@pytest.fixture
async def open_store(database_url: str | None, data_dir: Path) -> AsyncIterator[OpenStore]:
    """Open more stores on the same database (other "processes"); all closed at the end."""
    opened: list[Store] = []

    async def factory(**kwargs: Any) -> Store:
        kwargs.setdefault("database_url", database_url)
        kwargs.setdefault("data_dir", data_dir)
        store = await Store.open(**kwargs)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: OpenStore) -> Store:
    return await open_store()


@pytest.fixture
async def pg_database_url(pg_database: str) -> str:
    """A fresh PostgreSQL schema, for tests that only make sense there."""
    await reset_pg_schema(pg_database)
    return pg_url(pg_database)


@pytest.fixture
async def open_pg_store(pg_database_url: str, data_dir: Path) -> AsyncIterator[OpenStore]:
    """Like ``open_store``, on PostgreSQL only (each store is one "process")."""
    opened: list[Store] = []

    async def factory(**kwargs: Any) -> Store:
        store = await Store.open(database_url=pg_database_url, data_dir=data_dir, **kwargs)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()
