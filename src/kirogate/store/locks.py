"""Mutual exclusion: the SQLite single-server file lock and ``Store.exclusive`` on both dialects."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from kirogate.errors import ConfigError, StoreLockTimeout, StoreUnavailable
from kirogate.store.asyncio_engine import AsyncConnection, AsyncEngine
from kirogate.store.base import UNAVAILABLE, describe_db_error

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory file locks
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout expired


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock``, the same in every process."""
    digest = hashlib.sha256(f"kirogate:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ServeLock:
    """An exclusive ``flock`` on ``<db>.lock`` holding our pid: one serving process per SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, database: Path) -> None:
        if fcntl is None:  # pragma: no cover
            log.warning("file locks are not available here; not guarding %s", database)
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(
                f"the SQLite database {database} is already served by another kirogate process "
                f"(pid {holder}); SQLite mode is single-process - use PostgreSQL "
                "(--database-url) to run several"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise ConfigError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # The file stays: removing it would race with a process opening it right now.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor drops the flock


class LocalLocks:
    """Per-name asyncio locks: ``exclusive`` for SQLite, where one process serves."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, name: str, seconds: float) -> AsyncIterator[None]:
        lock = self._locks.setdefault(name, asyncio.Lock())
        try:
            async with asyncio.timeout(seconds):
                await lock.acquire()
        except TimeoutError:
            raise StoreLockTimeout(name, seconds) from None
        try:
            yield
        finally:
            lock.release()


@contextlib.asynccontextmanager
async def advisory_lock(
    engine: AsyncEngine, name: str, seconds: float, *, reported: float | None = None
) -> AsyncIterator[None]:
    """``pg_advisory_lock`` on a dedicated connection, across processes and hosts.

    The lock belongs to the connection's session: it is released on exit, and by the server
    if this process dies. A connection left in doubt (cancelled, failed) is discarded rather
    than returned to the pool, so it can never carry a lock to another user. ``reported`` is
    the timeout a :class:`StoreLockTimeout` names (the caller's whole budget).
    """
    key = advisory_key(name)
    try:
        conn = await engine.connect()
    except UNAVAILABLE as exc:
        raise StoreUnavailable(
            f"cannot take lock {name!r}: database unreachable ({describe_db_error(exc)})"
        ) from exc
    clean = False
    try:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await _acquire(conn, name, key, seconds, seconds if reported is None else reported)
        try:
            yield
        finally:
            try:
                await conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                clean = True
            except (DBAPIError, OSError) as exc:
                log.warning(
                    "releasing lock %r failed (%s); dropping its connection",
                    name,
                    describe_db_error(exc),
                )
    finally:
        if not clean:
            with contextlib.suppress(Exception):
                await conn.invalidate()
        with contextlib.suppress(Exception):
            await conn.close()


async def _acquire(
    conn: AsyncConnection, name: str, key: int, seconds: float, reported: float
) -> None:
    millis = max(1, int(seconds * 1000))
    await conn.execute(sa.text(f"SET lock_timeout = {millis}"))
    try:
        # The client-side bound catches a server that stops answering altogether.
        async with asyncio.timeout(seconds + 5.0):
            await conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise StoreLockTimeout(name, reported) from None
        raise StoreUnavailable(f"cannot take lock {name!r}: {describe_db_error(exc)}") from exc
    except TimeoutError:
        raise StoreLockTimeout(name, reported) from None
    await conn.execute(sa.text("RESET lock_timeout"))
