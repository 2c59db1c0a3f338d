"""A change counter per topic: operators' changes bump it, every process polls it.

On SQLite the poll is gated by ``PRAGMA data_version`` on one kept connection of its own
(:class:`FileWatch`): the value moves only when another connection commits, this process's
pooled ones included, so a poll of an idle database runs no query at all. It costs a
syscall and a page-cache lookup, so it runs on the event loop, not through the pool's
thread (one pooled read costs ~1 M instructions: a checkout, ``BEGIN``, the ``SELECT``,
the reset's ``ROLLBACK`` and eight hops to aiosqlite's thread).

On PostgreSQL the poll reads the table on one kept connection of the pool, with the driver's
own ``fetch`` in autocommit (:class:`ServerWatch`): one round trip, instead of a checkout
with its ping, ``BEGIN``, the ``SELECT`` and ``ROLLBACK`` through SQLAlchemy (~30 us of CPU
against ~1 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kirogate.store import values as check
from kirogate.store.asyncio_engine import AsyncConnection, AsyncEngine
from kirogate.store.base import UNAVAILABLE, StoreBase, utcnow
from kirogate.store.schema import revisions as table

log = logging.getLogger(__name__)

MAX_TOPIC_LENGTH = 64
_READ = "SELECT topic, revision FROM revisions"


@dataclass(frozen=True, slots=True)
class RevisionMark:
    """Where the revisions stood at a read: compare with :meth:`RevisionsMixin.revisions_after`."""

    connection: int  # which kept connection answered (a new one after a reopen)
    version: int  # its PRAGMA data_version then


class FileWatch:
    """One kept, query-only SQLite connection that tells whether anyone committed since a mark.

    It checks the file's identity at every look, so a database file replaced under it (a
    restored copy moved into place) is reopened, not watched in its old inode forever. Any
    error closes it; the next look opens it again.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._opened = 0  # connections opened so far: each one's number starts its marks

    async def look(self, mark: RevisionMark | None) -> tuple[dict[str, int] | None, RevisionMark]:
        """``(None, mark)`` when nothing was committed since ``mark``; else every topic's
        revision and the new mark. Raises :class:`sqlite3.Error` or :class:`OSError`."""
        identity = _identity(os.stat(self._path))
        if self._conn is None or identity != self._identity:
            await self._reopen(identity)
        conn = self._conn
        assert conn is not None
        try:
            ((version,),) = conn.execute("PRAGMA data_version").fetchall()
            now = RevisionMark(self._opened, int(version))
            if now == mark:
                return None, mark
            rows = conn.execute(_READ).fetchall()
        except BaseException:
            self.close()
            raise
        return {str(topic): int(revision) for topic, revision in rows}, now

    async def _reopen(self, identity: tuple[int, int]) -> None:
        if self._conn is not None:
            log.info("the database file %s was replaced; watching the new one", self._path)
        self.close()
        self._conn = await asyncio.to_thread(_connect, self._path)
        self._identity = identity
        self._opened += 1

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


def _connect(path: Path) -> sqlite3.Connection:
    # mode=rw: never create a file where the database went away. timeout=0: a busy file
    # answers at once (the caller then reads through the pool, which waits in its thread).
    uri = f"{path.as_uri()}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA query_only=ON")
    except BaseException:
        conn.close()
        raise
    return conn


class ServerWatch:
    """One connection of the pool, kept, reading the revisions with the driver's ``fetch``.

    A kept connection that fails (the server restarted, an idle connection cut) is dropped
    and the read tried once more on a new one; only that one's failure is raised.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._driver: Any = None

    async def read(self) -> dict[str, int]:
        fresh = self._conn is None
        try:
            return await self._read()
        except asyncio.CancelledError:
            await self.close(broken=True)
            raise
        except Exception:
            await self.close(broken=True)
            if fresh:
                raise
        return await self._read()

    async def _read(self) -> dict[str, int]:
        if self._conn is None:
            conn = await self._engine.connect()
            try:
                raw = await conn.get_raw_connection()
                self._driver = raw.driver_connection
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        try:
            rows = await self._driver.fetch(_READ)
        except BaseException:
            await self.close(broken=True)
            raise
        return {str(topic): int(revision) for topic, revision in rows}

    async def close(self, *, broken: bool = False) -> None:
        conn, self._conn, self._driver = self._conn, None, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if broken:
                await conn.invalidate()
            await conn.close()


class RevisionsMixin(StoreBase):
    _revision_watch: FileWatch | None
    _server_watch: ServerWatch | None

    async def bump_revision(self, topic: str) -> None:
        """Count one more change of ``topic`` (the row is created on its first change)."""
        topic = check.required_text(topic, "topic", MAX_TOPIC_LENGTH)
        now = utcnow()
        async with self._writing() as conn:
            bump = (
                sa.update(table)
                .where(table.c.topic == topic)
                .values(revision=table.c.revision + 1, updated_at=now)
            )
            if (await conn.execute(bump)).rowcount == 0:
                # The topic's first change (or another process creating its row just now).
                await conn.execute(
                    self._upsert(
                        table,
                        {"topic": topic, "revision": 0, "updated_at": now},
                        ["topic"],
                        ["updated_at"],
                    )
                )
                await conn.execute(bump)

    async def revisions(self) -> dict[str, int]:
        """Every topic's revision."""
        async with self._reading() as conn:
            rows = await conn.execute(sa.select(table.c.topic, table.c.revision))
            return {row.topic: int(row.revision) for row in rows}

    async def revisions_after(
        self, mark: RevisionMark | None
    ) -> tuple[dict[str, int] | None, RevisionMark | None]:
        """``(None, mark)`` when the database certainly did not change since the read that
        gave ``mark``; else every topic's revision and a mark for the next call.

        Only SQLite can tell (its file's ``data_version``); PostgreSQL always reads, and
        gives no mark. :class:`StoreUnavailable` when the database cannot answer.
        """
        watch = self._revision_watch
        if watch is None:
            return await self._read_on_server(), None
        try:
            return await watch.look(mark)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise self._unavailable(exc) from exc
            # Busy just now (rare in WAL mode): read the usual way, which waits its turn.
            return await self.revisions(), None
        except (sqlite3.Error, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def _read_on_server(self) -> dict[str, int]:
        server = self._server_watch
        if server is None:
            return await self.revisions()
        import asyncpg  # type: ignore[import-untyped]

        try:
            return await server.read()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, *UNAVAILABLE) as exc:
            raise self._unavailable(exc) from exc

    def _init_revisions(self, path: Path | None) -> None:
        self._revision_watch = FileWatch(path) if path is not None else None
        self._server_watch = ServerWatch(self.engine) if self.dialect == "postgresql" else None

    async def _close_revisions(self) -> None:
        if self._revision_watch is not None:
            self._revision_watch.close()
        if self._server_watch is not None:
            await self._server_watch.close()
