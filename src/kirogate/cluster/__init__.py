"""What several kirogate processes share: pool state, locks, rate limits and change notices.

The database is the source of truth for pool state; Redis, when configured, carries locks,
rate limits and change notices. Without Redis, PostgreSQL's advisory locks serialise token
refreshes and every process resyncs periodically; SQLite is single-process. Build a
:class:`Cluster` once per process::

    cluster = Cluster(store, settings.redis_url)
    pool = CredentialPool(credentials, pool_settings, state=cluster.state)
    tokens = TokenManager(..., coordinator=cluster.coordinator)
    await cluster.start(pool)   # loads the stored state, starts syncing
    ...
    await cluster.close()       # writes what is pending
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit, urlunsplit

from kirogate.cluster.coordinator import RefreshCoordinator, TokenStore
from kirogate.cluster.locks import (
    DistributedLock,
    ExclusiveStore,
    LocalLock,
    RedisLock,
    StoreLock,
)
from kirogate.cluster.membership import CredentialStore, sync_membership
from kirogate.cluster.notify import Notice, NoticeKind, Notifier, NullNotifier, RedisNotifier
from kirogate.cluster.ratelimit import (
    Counters,
    MemoryCounters,
    MemoryRateLimiter,
    RateLimiter,
    RedisCounters,
    RedisRateLimiter,
)
from kirogate.cluster.redis_errors import redis_errors
from kirogate.cluster.state import SharedPoolState, StateStore
from kirogate.errors import ConfigError
from kirogate.pool.credential_pool import CredentialPool

if TYPE_CHECKING:
    from redis.asyncio import Redis

# redis is imported only when a Redis URL or client is given: it costs ~5 MiB of memory.

__all__ = [
    "Cluster",
    "ClusterStore",
    "DistributedLock",
    "LocalLock",
    "MemoryRateLimiter",
    "Notice",
    "NoticeKind",
    "Notifier",
    "NullNotifier",
    "RateLimiter",
    "RedisLock",
    "RedisNotifier",
    "RedisRateLimiter",
    "RefreshCoordinator",
    "SharedPoolState",
    "StoreLock",
    "display_redis_url",
    "sync_membership",
]

log = logging.getLogger(__name__)

SQLITE_SYNC_INTERVAL = 30.0
SQLITE_FLUSH_INTERVAL = 1.0
# Success counts and last-used times: batched longer than availability changes.
COUNTER_INTERVAL = 1.0
# kill -9 loses at most this much of them (docs/storage.md, "Crashes").
SQLITE_COUNTER_INTERVAL = 1.0


class ClusterStore(StateStore, TokenStore, CredentialStore, ExclusiveStore, Protocol):
    """The methods of :class:`kirogate.store.Store` the cluster layer needs."""

    dialect: str


def display_redis_url(url: str) -> str:
    """``url`` with its password masked, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparsable Redis URL)"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _connect(url: str) -> Redis:
    from redis.asyncio import Redis

    try:
        return Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=3.0,
            socket_timeout=10.0,
            health_check_interval=30,
        )
    except ValueError as exc:
        raise ConfigError(
            f"--redis-url {display_redis_url(url)}: {exc}"
            " (expected redis://[:password@]host[:port][/db], rediss:// or unix://)"
        ) from exc


class Cluster:
    """The shared pieces for one process, chosen by what is configured.

    With Redis: :class:`RedisLock`, :class:`RedisRateLimiter`, :class:`RedisNotifier`.
    Without: :class:`StoreLock` on PostgreSQL (or :class:`LocalLock` on SQLite, which is
    single-process), :class:`MemoryRateLimiter` and :class:`NullNotifier`.
    """

    def __init__(
        self,
        store: ClusterStore,
        redis_url: str | None = None,
        *,
        redis: Redis | None = None,
        key_prefix: str = "kirogate:",
        sync_interval: float = 0.5,
        flush_interval: float = 0.15,
        membership_interval: float = 2.0,
    ) -> None:
        self.store = store
        self._own_redis = redis is None and redis_url is not None
        self.redis = redis if redis is not None else _connect(redis_url) if redis_url else None
        self._redis_url = display_redis_url(redis_url) if redis_url else None
        self.membership_interval = membership_interval
        if store.dialect == "sqlite":
            # One process owns a SQLite store: nobody else changes it, so reload rarely,
            # and write in bigger batches (each write is a transaction on the one file).
            sync_interval = max(sync_interval, SQLITE_SYNC_INTERVAL)
            flush_interval = max(flush_interval, SQLITE_FLUSH_INTERVAL)
        counters = SQLITE_COUNTER_INTERVAL if store.dialect == "sqlite" else COUNTER_INTERVAL
        self.state = SharedPoolState(
            store,
            sync_interval=sync_interval,
            flush_interval=flush_interval,
            counter_interval=max(counters, flush_interval),
            on_change=self._state_written,
        )
        self.lock: DistributedLock
        self.rate_limiter: RateLimiter
        self.notifier: Notifier
        self.counters: Counters
        fallback_lock = StoreLock(store) if store.dialect == "postgresql" else LocalLock()
        if self.redis is not None:
            self.lock = RedisLock(self.redis, prefix=key_prefix + "lock:", fallback=fallback_lock)
            self.rate_limiter = RedisRateLimiter(self.redis, prefix=key_prefix + "ratelimit:")
            self.notifier = RedisNotifier(self.redis, channel=key_prefix + "notices")
            self.counters = RedisCounters(self.redis, prefix=key_prefix + "counter:")
        else:
            self.lock = fallback_lock
            self.rate_limiter = MemoryRateLimiter()
            self.notifier = NullNotifier()
            self.counters = MemoryCounters()
        self.coordinator = RefreshCoordinator(self.lock, store)
        self._pool: CredentialPool | None = None
        self._membership_due = False
        self._next_membership = 0.0

    def describe(self) -> str:
        """One line for the startup log: what is shared and through what."""
        database = "PostgreSQL" if self.store.dialect == "postgresql" else "SQLite"
        if self._redis_url:
            return f"{database} + Redis ({self._redis_url}): shared state, locks, rate limits"
        if self.store.dialect == "postgresql":
            return (
                f"{database} without Redis: advisory locks, periodic sync, per-process rate limits"
            )
        return f"{database}: single process"

    async def start(self, pool: CredentialPool) -> None:
        """Check Redis, load the stored pool state and start syncing ``pool`` with the others.

        ``pool`` must have been built with ``state=self.state``. Raises
        :class:`ConfigError` when Redis is configured but cannot be reached.
        """
        if self.redis is not None:
            try:
                await self.redis.ping()
            except redis_errors() as exc:
                raise ConfigError(
                    f"cannot reach Redis at {self._redis_url}: {type(exc).__name__}: {exc}"
                ) from exc
        self._pool = pool
        self.state.add_sync_hook(self._sync_membership_if_due)
        await self.state.start()
        await self.notifier.start(self._on_notice)
        log.info("cluster: %s", self.describe())

    async def close(self) -> None:
        """Stop listening, write the pending pool state, and close Redis if we opened it."""
        await self.notifier.close()
        await self.state.close()
        if self.redis is not None and self._own_redis:
            try:
                await self.redis.aclose()
            except redis_errors() as exc:
                log.debug("closing Redis: %s", exc)

    async def credentials_changed(self) -> None:
        """Tell the other processes that a credential was added or deleted here."""
        await self.notifier.credentials_changed()

    async def sync_membership(self) -> tuple[list[int], list[int]]:
        """Bring the pool's credentials in line with the store now."""
        if self._pool is None:
            return [], []
        self._membership_due = False
        self._next_membership = asyncio.get_running_loop().time() + self.membership_interval
        return await sync_membership(self._pool, self.store)

    async def _sync_membership_if_due(self) -> None:
        if self._membership_due or asyncio.get_running_loop().time() >= self._next_membership:
            await self.sync_membership()

    async def _on_notice(self, notice: Notice) -> None:
        if notice.kind is NoticeKind.CREDENTIALS:
            self._membership_due = True
        self.state.request_sync()

    async def _state_written(self, credential_ids: list[int]) -> None:
        await self.notifier.state_changed(credential_ids)
