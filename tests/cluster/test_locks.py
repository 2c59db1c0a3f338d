from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from kirogate.cluster.locks import (
    DistributedLock,
    LocalLock,
    RedisLock,
    StoreLock,
)
from kirogate.errors import LockTimeout, LockUnavailable
from tests.cluster.fakes import FakeStore


async def overlap(first: DistributedLock, second: DistributedLock, name: str) -> int:
    """Run 10 bodies through two lock instances; the most bodies that ran at once."""
    inside = 0
    most = 0

    async def body(lock: DistributedLock) -> None:
        nonlocal inside, most
        async with lock.hold(name, 5, wait=10):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(body(first if i % 2 else second) for i in range(10)))
    return most


# ---------------------------------------------------------------- LocalLock


async def test_local_lock_excludes_within_the_process() -> None:
    lock = LocalLock()
    assert await overlap(lock, lock, "refresh:1") == 1
    assert not lock.held("refresh:1")


async def test_local_lock_times_out_with_a_clear_error() -> None:
    lock = LocalLock()
    async with lock.hold("x"):
        with pytest.raises(LockTimeout, match=r"still held after 0\.05s"):
            async with lock.hold("x", wait=0.05):
                pass
    async with lock.hold("x", wait=0):
        assert lock.held("x")


async def test_local_lock_names_are_independent() -> None:
    lock = LocalLock()
    async with lock.hold("a"), lock.hold("b", wait=0.1):
        assert lock.held("a") and lock.held("b")


async def test_bad_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl"):
        async with LocalLock().hold("x", 0):
            pass


# ---------------------------------------------------------------- StoreLock


async def test_store_lock_uses_the_database_lock(store: FakeStore) -> None:
    assert await overlap(StoreLock(store), StoreLock(store), "refresh:1") == 1
    assert store.calls_of("exclusive")[0] == "kirogate:lock:refresh:1"


async def test_store_lock_timeout_becomes_lock_timeout(store: FakeStore) -> None:
    lock = StoreLock(store)
    async with lock.hold("x"):
        with pytest.raises(LockTimeout, match=r"after 0\.05s"):
            async with lock.hold("x", wait=0.05):
                pass


async def test_store_lock_database_failure_becomes_lock_unavailable(
    store: FakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.fail_next["exclusive"] = 1
    # The message can reach a client in a failed refresh: the driver's error (it named
    # ConnectionError here before) goes to the log only.
    with pytest.raises(LockUnavailable, match="database is unavailable") as caught:
        async with StoreLock(store).hold("x"):
            pass
    assert "ConnectionError" not in caught.value.message
    assert any("ConnectionError" in r.getMessage() for r in caplog.records)


async def test_store_lock_lets_the_bodys_error_through(store: FakeStore) -> None:
    with pytest.raises(KeyError):
        async with StoreLock(store).hold("x"):
            raise KeyError("from the body")
    async with StoreLock(store).hold("x", wait=0.1):  # released
        pass


class KirogateTimeoutStore:
    """A store whose lock times out with the store's own TimeoutError subclass."""

    def exclusive(self, name: str, *, timeout: float = 30.0) -> Any:
        @asynccontextmanager
        async def never() -> AsyncIterator[None]:
            raise TimeoutError(f"{name} busy")
            yield

        return never()


async def test_store_lock_maps_any_timeout_error() -> None:
    with pytest.raises(LockTimeout):
        async with StoreLock(KirogateTimeoutStore()).hold("x"):
            pass


# ---------------------------------------------------------------- RedisLock (real Redis)


async def test_redis_lock_excludes_across_two_clients(
    redis: Redis, redis2: Redis, prefix: str
) -> None:
    first = RedisLock(redis, prefix=prefix)
    second = RedisLock(redis2, prefix=prefix)
    assert await overlap(first, second, "refresh:1") == 1
    assert await redis.exists(prefix + "refresh:1") == 0


async def test_redis_lock_of_a_dead_holder_frees_after_its_ttl(
    redis: Redis, redis2: Redis, prefix: str
) -> None:
    # A process took the lock and died: nobody releases it, the TTL does.
    await redis.set(prefix + "refresh:2", "token-of-a-dead-process", px=300)
    lock = RedisLock(redis2, prefix=prefix)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with lock.hold("refresh:2", 5, wait=5):
        waited = loop.time() - started
    assert 0.15 < waited < 2.0


async def test_redis_lock_releases_only_its_own(redis: Redis, redis2: Redis, prefix: str) -> None:
    lock = RedisLock(redis, prefix=prefix)
    key = prefix + "refresh:3"
    async with lock.hold("refresh:3", 0.2):
        # Our hold expired (the watchdog could not keep it) and another process took it.
        await redis2.set(key, "someone-else", px=5000)
    assert await redis2.get(key) == "someone-else"


async def test_redis_lock_is_extended_while_the_body_runs(
    redis: Redis, redis2: Redis, prefix: str
) -> None:
    holder = RedisLock(redis, prefix=prefix)
    other = RedisLock(redis2, prefix=prefix)
    async with holder.hold("long", 0.3):
        await asyncio.sleep(0.8)  # well past the ttl
        with pytest.raises(LockTimeout, match="still held by another process"):
            async with other.hold("long", 0.3, wait=0.2):
                pass
    async with other.hold("long", 0.3, wait=0.5):
        pass


async def test_redis_lock_unreachable_is_lock_unavailable(prefix: str) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        with pytest.raises(LockUnavailable, match="Redis lock"):
            async with RedisLock(down, prefix=prefix).hold("x"):
                pass
    finally:
        await down.aclose()


async def test_redis_lock_unreachable_takes_its_fallback(prefix: str) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    fallback = LocalLock()
    try:
        async with RedisLock(down, prefix=prefix, fallback=fallback).hold("x"):
            assert fallback.held("x")
        assert not fallback.held("x")
    finally:
        await down.aclose()
