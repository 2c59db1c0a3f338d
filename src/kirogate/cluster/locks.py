"""Named locks that exclude other processes: Redis, the database, or just this process.

``async with lock.hold("refresh:7", ttl=30):`` runs its body while no other holder of the
same name does. :class:`RedisLock` is ``SET NX PX`` with a random token and a
compare-and-delete release, so a holder that died frees the lock after ``ttl`` and a holder
never deletes someone else's lock; a watchdog extends the expiry while the body runs.
:class:`StoreLock` uses the database (a PostgreSQL advisory lock, held by a connection), and
:class:`LocalLock` an :class:`asyncio.Lock` per name for a single process.
A :class:`RedisLock` given a ``fallback`` takes that lock instead while Redis is away.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Protocol

from kirogate.cluster.redis_errors import redis_errors
from kirogate.errors import LockTimeout, LockUnavailable
from kirogate.tasks import spawn, stop_task

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

DEFAULT_TTL = 30.0
DEFAULT_TIMEOUT = 60.0

# Delete / extend only while the value is still our token.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class DistributedLock(Protocol):
    """Mutual exclusion by name across every process that shares the backend."""

    def hold(
        self, name: str, ttl: float = DEFAULT_TTL, *, wait: float = DEFAULT_TIMEOUT
    ) -> AbstractAsyncContextManager[None]:
        """Wait up to ``wait`` seconds for ``name``; held for the body (``ttl`` bounds a dead holder)."""
        ...


class ExclusiveStore(Protocol):
    """The part of :class:`kirogate.store.Store` that :class:`StoreLock` uses."""

    def exclusive(
        self, name: str, *, timeout: float = 30.0
    ) -> AbstractAsyncContextManager[None]: ...


def _check(ttl: float, wait: float) -> None:
    if not ttl > 0:
        raise ValueError(f"lock ttl must be positive, got {ttl}")
    if wait < 0:
        raise ValueError(f"lock wait must not be negative, got {wait}")


class RedisLock:
    """``SET key token NX PX ttl``; polled with small sleeps; released only by its holder."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "kirogate:lock:",
        poll: float = 0.05,
        max_poll: float = 0.25,
        fallback: DistributedLock | None = None,
    ) -> None:
        self._errors = redis_errors()
        # Taken while Redis cannot be reached: without it a Redis outage fails every token
        # refresh, though PostgreSQL alone is a correct lock (docs/scaling.md). The gap: a
        # process that still reaches Redis and one that does not may both hold a name.
        self._fallback = fallback
        self._redis = redis
        self._prefix = prefix
        self._poll = poll
        self._max_poll = max_poll
        self._release = redis.register_script(_RELEASE)
        self._extend = redis.register_script(_EXTEND)

    def key(self, name: str) -> str:
        return self._prefix + name

    @asynccontextmanager
    async def hold(
        self, name: str, ttl: float = DEFAULT_TTL, *, wait: float = DEFAULT_TIMEOUT
    ) -> AsyncIterator[None]:
        _check(ttl, wait)
        key = self.key(name)
        token = secrets.token_hex(16)
        fallback: AbstractAsyncContextManager[None] | None
        try:
            await self._acquire(key, token, ttl, wait)
        except LockUnavailable as exc:
            if self._fallback is None:
                raise
            log.warning("%s; taking the fallback lock instead", exc)
            fallback = self._fallback.hold(name, ttl, wait=wait)
        else:
            fallback = None
        if fallback is not None:
            async with fallback:
                yield
            return
        held = [True]
        watchdog = spawn(self._keep(key, token, ttl, held), name=f"lock watchdog {name}")
        try:
            yield
        finally:
            held[0] = False
            await stop_task(watchdog)
            await self._give_back(key, token)

    async def _acquire(self, key: str, token: str, ttl: float, wait: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        delay = self._poll
        ttl_ms = max(int(ttl * 1000), 1)
        while True:
            try:
                if await self._redis.set(key, token, nx=True, px=ttl_ms):
                    return
            except self._errors as exc:
                raise LockUnavailable(f"Redis lock {key!r}: {type(exc).__name__}: {exc}") from exc
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise LockTimeout(f"lock {key!r} still held by another process after {wait:g}s")
            # Jitter keeps several waiters from polling in lockstep.
            await asyncio.sleep(min(delay * random.uniform(0.5, 1.0), remaining))
            delay = min(delay * 2, self._max_poll)

    async def _keep(self, key: str, token: str, ttl: float, held: list[bool]) -> None:
        """Push the expiry forward every ttl/3 while ``held[0]`` (the body runs)."""
        ttl_ms = max(int(ttl * 1000), 1)
        while True:
            await asyncio.sleep(ttl / 3)
            if not held[0]:
                return
            try:
                extended = await self._extend(keys=[key], args=[token, ttl_ms])
            except self._errors as exc:
                log.warning("could not extend lock %r: %s: %s", key, type(exc).__name__, exc)
                continue
            if not extended:
                log.warning("lock %r expired while held; another process may hold it now", key)
                return

    async def _give_back(self, key: str, token: str) -> None:
        try:
            released = await self._release(keys=[key], args=[token])
        except self._errors as exc:
            # It expires by itself after ttl.
            log.warning("could not release lock %r: %s: %s", key, type(exc).__name__, exc)
            return
        if not released:
            log.warning("lock %r had already expired when released", key)


class StoreLock:
    """The database's lock (PostgreSQL advisory lock): correct without Redis."""

    def __init__(self, store: ExclusiveStore, *, prefix: str = "kirogate:lock:") -> None:
        self._store = store
        self._prefix = prefix

    @asynccontextmanager
    async def hold(
        self, name: str, ttl: float = DEFAULT_TTL, *, wait: float = DEFAULT_TIMEOUT
    ) -> AsyncIterator[None]:
        # ttl is not needed: the lock belongs to a connection, which dies with its process.
        _check(ttl, wait)
        async with AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(
                    self._store.exclusive(self._prefix + name, timeout=max(wait, 0.001))
                )
            except (LockTimeout, LockUnavailable):
                raise
            except TimeoutError as exc:
                raise LockTimeout(
                    f"lock {name!r} still held by another process after {wait:g}s"
                ) from exc
            except Exception as exc:  # a database failure of any kind
                # The message can reach a client (in a failed refresh): no database detail.
                log.warning("database lock %r: %s: %s", name, type(exc).__name__, exc)
                raise LockUnavailable(
                    f"database lock {name!r}: the gateway's database is unavailable"
                ) from exc
            yield


class LocalLock:
    """One :class:`asyncio.Lock` per name: exclusion within this process only (SQLite mode)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(
        self, name: str, ttl: float = DEFAULT_TTL, *, wait: float = DEFAULT_TIMEOUT
    ) -> AsyncIterator[None]:
        _check(ttl, wait)
        lock = self._locks.setdefault(name, asyncio.Lock())
        self._users[name] = self._users.get(name, 0) + 1
        try:
            try:
                async with asyncio.timeout(wait):
                    await lock.acquire()
            except TimeoutError:
                raise LockTimeout(f"lock {name!r} still held after {wait:g}s") from None
            try:
                yield
            finally:
                lock.release()
        finally:
            self._users[name] -= 1
            if not self._users[name]:  # nobody holds or waits: forget it
                del self._users[name]
                del self._locks[name]

    def held(self, name: str) -> bool:
        lock = self._locks.get(name)
        return lock is not None and lock.locked()
