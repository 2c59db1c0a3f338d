""":class:`Store`: opening the database (schema upgrade, key check, SQLite serve lock) and closing it.

The methods for each kind of data live in the mixins: credentials, sync of sources, pool
state, access (API keys, blocked IPs), settings, proxies and request logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from kirogate.errors import ConfigError, InvalidRequest, SchemaTooNew, StoreUnavailable
from kirogate.store.access import AccessMixin
from kirogate.store.addresses import AddressesMixin
from kirogate.store.alerts import AlertsMixin
from kirogate.store.asyncio_engine import AsyncEngine
from kirogate.store.audit import AuditMixin
from kirogate.store.backup import BackupMixin
from kirogate.store.base import CONNECT_TIMEOUT, create_engine, describe_db_error, enable_wal
from kirogate.store.credential_batch import CredentialBatchMixin
from kirogate.store.credentials import CredentialsMixin
from kirogate.store.crypto import SecretBox, load_key
from kirogate.store.groups import GroupsMixin
from kirogate.store.key_usage import KeyUsageMixin
from kirogate.store.keys import KeysMixin
from kirogate.store.locks import LocalLocks, ServeLock, advisory_lock
from kirogate.store.logins import LoginsMixin
from kirogate.store.logquery import LogQueryMixin
from kirogate.store.memory import MemoryMixin
from kirogate.store.migrate import upgrade
from kirogate.store.proxies import ProxiesMixin
from kirogate.store.requestlog import (
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_QUEUE_LIMIT,
    RequestLogMixin,
)
from kirogate.store.revisions import RevisionsMixin
from kirogate.store.schema import store_meta
from kirogate.store.settings import SettingsMixin
from kirogate.store.states import StatesMixin
from kirogate.store.sync import SyncMixin
from kirogate.store.urls import DatabaseLocation, parse_database_url

log = logging.getLogger(__name__)

DIR_MODE = 0o700
DB_FILE_MODE = 0o600
PING_TIMEOUT = 5.0
# Encrypted with the key on first open; decrypting it later proves the key is the same.
_KEY_CHECK_NAME = "key_check"
_KEY_CHECK_TEXT = "kirogate secret key check v1"
_DB_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


def _prepare_files(
    data_dir: Path, database_url: str | None, secret_key: str | None
) -> tuple[Path, DatabaseLocation]:
    """The data directory (0700 when we create it) and the SQLite file (0600).

    PostgreSQL with the key in the environment needs no local files at all.
    """
    data_dir = Path(data_dir).expanduser()
    location = parse_database_url(database_url, data_dir)
    directories = []
    if location.sqlite_path is not None or not (secret_key and secret_key.strip()):
        directories.append(data_dir)
    if location.sqlite_path is not None:
        directories.append(location.sqlite_path.parent)
    for directory in directories:
        try:
            directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the data directory {directory}: {exc}") from exc
    path = location.sqlite_path
    if path is None:
        return data_dir, location
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, DB_FILE_MODE)
        os.close(fd)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o); setting it to 0600", path, mode)
            path.chmod(DB_FILE_MODE)
    except OSError as exc:
        raise ConfigError(f"cannot open the database file {path}: {exc}") from exc
    return data_dir, location


class Store(
    CredentialsMixin,
    SyncMixin,
    StatesMixin,
    AccessMixin,
    SettingsMixin,
    ProxiesMixin,
    RequestLogMixin,
    MemoryMixin,
    RevisionsMixin,
    # operator API mixins (one line each)
    GroupsMixin,
    CredentialBatchMixin,
    LoginsMixin,
    AuditMixin,
    AlertsMixin,
    BackupMixin,  # audit trail, alert webhooks, backup
    AddressesMixin,
    KeysMixin,
    KeyUsageMixin,
    LogQueryMixin,
):
    """Everything kirogate persists, on SQLite (one process) or PostgreSQL (several).

    Build it with :meth:`open`; :meth:`close` it at shutdown.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        location: DatabaseLocation,
        box: SecretBox,
        serve_lock: ServeLock | None,
        *,
        request_log_queue: int,
        request_log_interval: float,
    ) -> None:
        self.engine = engine
        self.dialect = location.dialect
        self.display_url = location.display_url
        self.location = location
        self.schema_upgraded = False
        self._box = box
        self._serve_lock = serve_lock
        self._write_lock = asyncio.Lock()
        self._local_locks = LocalLocks()
        self._closed = False
        self._init_request_log(request_log_queue, request_log_interval)
        self._init_revisions(location.sqlite_path)

    @classmethod
    async def open(
        cls,
        *,
        database_url: str | None,
        data_dir: Path,
        secret_key: str | None = None,
        serve: bool = False,
        isolated_migration: bool = False,
        request_log_queue: int = DEFAULT_QUEUE_LIMIT,
        request_log_interval: float = DEFAULT_FLUSH_INTERVAL,
    ) -> Self:
        """Connect, upgrade the schema to head and check the secret key.

        ``serve=True`` on SQLite also claims the database for this process (a second serving
        process gets a :class:`ConfigError`). ``isolated_migration=True`` runs a needed
        upgrade in a child process, so Alembic never loads into this one (``kirogate serve``).
        Every failure is a :class:`ConfigError` (:class:`SchemaTooNew` for a database
        migrated by a newer kirogate).
        """
        data_dir, location = _prepare_files(data_dir, database_url, secret_key)
        serve_lock: ServeLock | None = None
        if serve and location.sqlite_path is not None:
            serve_lock = ServeLock(
                location.sqlite_path.with_name(location.sqlite_path.name + ".lock")
            )
            serve_lock.acquire(location.sqlite_path)
        engine: AsyncEngine | None = None
        try:
            if location.sqlite_path is not None:
                await asyncio.to_thread(enable_wal, location.sqlite_path)
            key = await asyncio.to_thread(load_key, secret_key, data_dir)
            engine = create_engine(location)
            store = cls(
                engine,
                location,
                SecretBox(key),
                serve_lock,
                request_log_queue=request_log_queue,
                request_log_interval=request_log_interval,
            )
            await store._connect()
            store.schema_upgraded = await store._migrate(isolated_migration)
            try:
                await store._check_key()
                await store.encrypt_plaintext_urls()
            except StoreUnavailable as exc:
                raise ConfigError(str(exc)) from exc
        except BaseException:
            if engine is not None:
                await engine.dispose()
            if serve_lock is not None:
                serve_lock.release()
            raise
        store._start_flusher()
        log.info("store opened: %s (%s)", store.display_url, store.dialect)
        return store

    async def _connect(self) -> None:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT + 5.0), self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except _DB_ERRORS as exc:
            raise ConfigError(
                f"cannot connect to the database {self.display_url}: {describe_db_error(exc)}"
            ) from exc

    async def _migrate(self, isolated: bool) -> bool:
        try:
            return await upgrade(self.engine, self.display_url, isolated=isolated)
        except SchemaTooNew:
            raise
        except _DB_ERRORS as exc:
            raise ConfigError(
                f"upgrading the schema of {self.display_url} failed: {describe_db_error(exc)}"
            ) from exc

    async def _check_key(self) -> None:
        query = sa.select(store_meta.c.value).where(store_meta.c.key == _KEY_CHECK_NAME)
        for _attempt in range(2):
            try:
                async with self._writing() as conn:
                    token = await conn.scalar(query)
                    if token is None:
                        value = self._box.encrypt(_KEY_CHECK_TEXT)
                        await conn.execute(
                            sa.insert(store_meta).values(key=_KEY_CHECK_NAME, value=value)
                        )
                        return
            except IntegrityError:
                continue  # another process stored its check value first: read that one
            if self._box.decrypt(token) != _KEY_CHECK_TEXT:
                raise self._box.wrong_key()
            return
        raise ConfigError(f"cannot store the secret key check value in {self.display_url}")

    async def close(self) -> None:
        """Write queued request logs, close every connection, release the SQLite serve lock."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._stop_key_usage()
            await self._stop_flusher()
        finally:
            await self._close_revisions()
            await self.engine.dispose()
            if self._serve_lock is not None:
                self._serve_lock.release()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def ping(self) -> None:
        """``SELECT 1``; a :class:`ConfigError` naming the database when it does not answer."""
        try:
            async with asyncio.timeout(PING_TIMEOUT), self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except _DB_ERRORS as exc:
            cause = "no answer in time" if isinstance(exc, TimeoutError) else describe_db_error(exc)
            raise ConfigError(f"database {self.display_url} is not reachable: {cause}") from exc

    def exclusive(
        self, name: str, *, timeout: float = 30.0
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Mutual exclusion by name: across processes on PostgreSQL, in this process on SQLite.

        Raises :class:`StoreLockTimeout` (a ``TimeoutError``) after ``timeout`` seconds.
        """
        if not isinstance(name, str) or not name:
            raise InvalidRequest("a lock needs a name", param="name")
        if timeout <= 0:
            raise InvalidRequest("the lock timeout must be positive", param="timeout")
        if self.dialect == "postgresql":
            return self._shared_lock(name, timeout)
        return self._local_locks.hold(name, timeout)

    @contextlib.asynccontextmanager
    async def _shared_lock(self, name: str, seconds: float) -> AsyncIterator[None]:
        # Waiters in this process queue locally first, so a crowd waiting for one name
        # occupies one database connection, not one each.
        deadline = asyncio.get_running_loop().time() + seconds
        async with self._local_locks.hold(name, seconds):
            remaining = max(0.001, deadline - asyncio.get_running_loop().time())
            async with advisory_lock(self.engine, name, remaining, reported=seconds):
                yield

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"
