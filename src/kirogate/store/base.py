"""The engine, connections with error translation, and what every part of the store shares."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from kirogate.errors import ConfigError, StoreUnavailable
from kirogate.store.asyncio_engine import AsyncConnection, AsyncEngine, create_async_engine
from kirogate.store.crypto import SecretBox
from kirogate.store.urls import DatabaseLocation

# Failures that mean "the database cannot serve us now" (not bad input, not a conflict).
UNAVAILABLE = (DBAPIError, PoolTimeout, OSError)
# Write transactions on SQLite start with BEGIN IMMEDIATE (see _sqlite_begin).
WRITE_OPTION = "kirogate_write"
SQLITE_BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT = 10.0


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row an ``INSERT`` just added."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:  # pragma: no cover - every table has an integer key
        raise RuntimeError("the database returned no id for the new row")
    return int(key[0])


def utcnow() -> datetime:
    return datetime.now(UTC)


def describe_db_error(exc: BaseException) -> str:
    """The driver's own message, without the SQL statement and parameters SQLAlchemy adds."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


def enable_wal(path: Path) -> None:
    """Put the SQLite file in WAL mode (persistent; readers then never block the writer).

    Switching needs an exclusive lock and SQLite does not wait for it, so concurrent first
    opens retry here, in a thread, before any pooled connection exists. Blocking.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=1.0)) as conn:
                (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
                if str(mode).lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise ConfigError(f"cannot open the SQLite database {path}: {exc}") from exc
            time.sleep(0.05)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{path} is not a usable SQLite database: {exc}") from exc


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event decide how transactions start (pysqlite would defer them).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A write transaction takes the write lock up front: a deferred one that reads first
    # could fail with SQLITE_BUSY when another process committed in between.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_engine(location: DatabaseLocation) -> AsyncEngine:
    """The engine for ``location``; its statements' parameters never appear in logs or errors
    (``hide_parameters``), even with SQLAlchemy's echo or the driver loggers at DEBUG."""
    if location.dialect == "sqlite":
        engine = create_async_engine(
            location.url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(
        location.url,
        pool_pre_ping=True,
        # Bound values (encrypted secrets, e-mail addresses) never reach logs or error texts.
        hide_parameters=True,
        pool_size=5,
        # Store.exclusive holds a connection per lock name for as long as the lock is held.
        max_overflow=25,
        connect_args={
            "timeout": CONNECT_TIMEOUT,
            "server_settings": {"application_name": "kirogate"},
        },
    )


class StoreBase:
    """Connections for the store's parts; database failures become :class:`StoreUnavailable`."""

    engine: AsyncEngine
    dialect: str
    display_url: str
    _box: SecretBox
    # SQLite allows one writer: queue our own writers here instead of in SQLite's busy loop.
    _write_lock: asyncio.Lock

    def exclusive(
        self, name: str, *, timeout: float = 30.0
    ) -> contextlib.AbstractAsyncContextManager[None]:
        raise NotImplementedError  # Store provides it

    # Key usage (KeyUsageMixin provides them), written by the request-log writer's turns.
    def _take_key_usage(self) -> dict[Any, Any]:
        raise NotImplementedError

    async def _write_key_usage(self, conn: AsyncConnection, pending: dict[Any, Any]) -> None:
        raise NotImplementedError

    def _return_key_usage(self, pending: dict[Any, Any]) -> None:
        raise NotImplementedError

    async def flush_key_usage(self) -> None:
        raise NotImplementedError

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"database {self.display_url}: {describe_db_error(exc)}")

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                yield conn
        except IntegrityError:
            raise
        except UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """One transaction, committed on exit; integrity errors pass through for callers."""
        lock = self._write_lock if self.dialect == "sqlite" else contextlib.nullcontext()
        try:
            async with lock, self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    await conn.execution_options(**{WRITE_OPTION: True})
                async with conn.begin():
                    yield conn
        except IntegrityError:
            raise
        except UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc

    def _upsert(
        self, table: sa.Table, values: dict[str, Any], keys: list[str], update: list[str]
    ) -> sa.Executable:
        """``INSERT ... ON CONFLICT (keys) DO UPDATE SET update...`` for this dialect."""
        if self.dialect == "sqlite":
            lite = sqlite.insert(table).values(**values)
            return lite.on_conflict_do_update(
                index_elements=keys, set_={name: lite.excluded[name] for name in update}
            )
        # Imported here: the PostgreSQL dialect costs ~2 MiB that SQLite mode never needs.
        from sqlalchemy.dialects import postgresql

        pg = postgresql.insert(table).values(**values)
        return pg.on_conflict_do_update(
            index_elements=keys, set_={name: pg.excluded[name] for name in update}
        )
