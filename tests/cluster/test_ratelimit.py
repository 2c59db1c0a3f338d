from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from kirogate.cluster.ratelimit import (
    MemoryCounters,
    MemoryRateLimiter,
    RedisCounters,
    RedisRateLimiter,
)
from tests.cluster.conftest import connect_redis


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_limiter_allows_the_limit_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    assert [await limiter.hit("k", 3) for _ in range(3)] == [None, None, None]
    clock.now += 20
    assert await limiter.hit("k", 3) == pytest.approx(40.0)


async def test_memory_limiter_window_slides() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    await limiter.hit("k", 2)
    clock.now += 30
    await limiter.hit("k", 2)
    assert await limiter.hit("k", 2) is not None
    clock.now += 30  # the first hit has left the window
    assert await limiter.hit("k", 2) is None
    assert await limiter.hit("k", 2) == pytest.approx(30.0)


async def test_refused_hits_are_not_counted() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    await limiter.hit("k", 1)
    for _ in range(5):
        assert await limiter.hit("k", 1) is not None
    clock.now += 60
    assert await limiter.hit("k", 1) is None


async def test_keys_are_limited_separately_and_zero_means_no_limit() -> None:
    limiter = MemoryRateLimiter(clock=Clock())
    assert await limiter.hit("a", 1) is None
    assert await limiter.hit("b", 1) is None
    assert await limiter.hit("a", 1) is not None
    assert all([await limiter.hit("c", 0) is None for _ in range(100)])


async def test_memory_limiter_forgets_idle_keys() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock, max_keys=10)
    for i in range(10):
        await limiter.hit(f"k{i}", 5)
    clock.now += 61
    await limiter.hit("fresh", 5)
    assert list(limiter._hits) == ["fresh"]


async def test_memory_limiter_bounds_live_keys() -> None:
    limiter = MemoryRateLimiter(clock=Clock(), max_keys=5)
    for i in range(20):
        await limiter.hit(f"k{i}", 5)
    assert len(limiter._hits) <= 5


async def test_redis_limit_is_shared_by_two_limiters(
    redis: Redis, redis2: Redis, prefix: str
) -> None:
    one = RedisRateLimiter(redis, prefix=prefix)
    two = RedisRateLimiter(redis2, prefix=prefix)
    results = await asyncio.gather(
        *((one if i % 2 else two).hit("client-a", 10) for i in range(25))
    )
    allowed = [r for r in results if r is None]
    refused = [r for r in results if r is not None]
    assert len(allowed) == 10
    assert len(refused) == 15
    assert all(0 < wait <= 60 for wait in refused)
    assert await one.hit("client-b", 10) is None  # another key has its own budget


async def test_redis_keys_do_not_hold_the_raw_key(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, prefix=prefix)
    await limiter.hit("sk-secret-client-key", 5)
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    assert keys == [limiter.key("sk-secret-client-key")]
    assert "secret" not in keys[0]
    assert 0 < await redis.pttl(keys[0]) <= 60_000


async def test_redis_limiter_falls_back_to_this_process_when_redis_is_down(
    prefix: str,
) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        limiter = RedisRateLimiter(down, prefix=prefix)
        assert await limiter.hit("k", 2) is None
        assert await limiter.hit("k", 2) is None
        assert await limiter.hit("k", 2) is not None
    finally:
        await down.aclose()


async def test_memory_wait_answers_like_hit_without_counting() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    for _ in range(5):
        assert await limiter.wait("k", 2) is None
    assert "k" not in limiter._hits  # asking leaves no trace
    await limiter.hit("k", 2)
    assert await limiter.wait("k", 2) is None
    await limiter.hit("k", 2)
    clock.now += 15
    assert await limiter.wait("k", 2) == pytest.approx(45.0)
    assert len(limiter._hits["k"]) == 2


async def test_redis_wait_answers_like_hit_without_counting(
    redis: Redis, redis2: Redis, prefix: str
) -> None:
    one = RedisRateLimiter(redis, prefix=prefix)
    two = RedisRateLimiter(redis2, prefix=prefix)
    assert await two.wait("k", 2) is None
    assert await redis.exists(one.key("k")) == 0
    await one.hit("k", 2)
    assert await two.wait("k", 2) is None
    await one.hit("k", 2)
    wait = await two.wait("k", 2)
    assert wait is not None and 0 < wait <= 60
    assert await redis.zcard(one.key("k")) == 2


async def test_redis_wait_falls_back_to_this_process_when_redis_is_down(prefix: str) -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        limiter = RedisRateLimiter(down, prefix=prefix)
        assert await limiter.hit("k", 1) is None
        assert await limiter.wait("k", 1) is not None
        assert await limiter.wait("other", 1) is None
    finally:
        await down.aclose()


async def test_memory_limiter_takes_another_window() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    assert await limiter.hit("ip", 1, window=10.0) is None
    wait = await limiter.hit("ip", 1, window=10.0)
    assert wait == pytest.approx(10.0)
    clock.now += 10.5
    assert await limiter.hit("ip", 1, window=10.0) is None
    # A window longer than a minute keeps its hits past the minute's purge.
    assert await limiter.hit("long", 1, window=300.0) is None
    clock.now += 120
    assert await limiter.hit("long", 1, window=300.0) == pytest.approx(180.0)


async def test_redis_limiter_takes_another_window(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, prefix=prefix)
    assert await limiter.hit("ip", 1, window=5.0) is None
    wait = await limiter.hit("ip", 1, window=5.0)
    assert wait is not None and 0 < wait <= 5.0


# ---------------------------------------------------------------- counters (client key limits)

KEYS_REDIS_URL = "redis://127.0.0.1:6379/3"  # the keys suite's own database


@pytest.fixture
async def keys_redis() -> AsyncIterator[tuple[Redis, str]]:
    client = await connect_redis(KEYS_REDIS_URL)
    prefix = f"kgkeys:{uuid.uuid4().hex[:12]}:"
    try:
        yield client, prefix
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_memory_counters_take_add_seed_and_expire() -> None:
    now = [0.0]
    counters = MemoryCounters(clock=lambda: now[0])
    assert await counters.take("a", 2, 10)
    assert await counters.take("a", 2, 10)
    assert not await counters.take("a", 2, 10)
    await counters.add("a", -1, 10)
    assert await counters.take("a", 2, 10)
    await counters.add("t", 50, 10)
    await counters.seed("t", 40, 10)  # lower: kept
    await counters.seed("u", 7, 10)
    assert await counters.get(["a", "t", "u", "none"]) == [2, 50, 7, 0]
    await counters.add("n", -5, 10)
    assert await counters.get(["n"]) == [0]  # never below zero
    now[0] = 100.0
    assert await counters.get(["a", "t"]) == [0, 0]
    assert await counters.take("a", 1, 10)  # purged and counted afresh


async def test_redis_counters_are_shared_by_two_processes(
    keys_redis: tuple[Redis, str],
) -> None:
    client, prefix = keys_redis
    other = await connect_redis(KEYS_REDIS_URL)
    try:
        one, two = RedisCounters(client, prefix=prefix), RedisCounters(other, prefix=prefix)
        assert await one.take("req", 2, 60)
        assert await two.take("req", 2, 60)
        assert not await one.take("req", 2, 60)
        await one.add("tok", 30, 60)
        await two.add("tok", 12, 60)
        await two.seed("tok", 10, 60)
        await one.seed("seeded", 5, 60)
        assert await two.get(["tok", "seeded", "none"]) == [42, 5, 0]
        assert await one.get([]) == []
        await one.add("inflight", -1, 60)
        assert await two.get(["inflight"]) == [0]
        assert 0 < await client.ttl(prefix + "tok") <= 60
    finally:
        await other.aclose()


async def test_redis_counters_fall_back_to_this_process_when_redis_is_down() -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    counters = RedisCounters(down, prefix="kgkeys:down:")
    try:
        assert await counters.take("k", 1, 60)
        assert not await counters.take("k", 1, 60)
        await counters.add("t", 5, 60)
        await counters.seed("s", 3, 60)
        assert await counters.get(["k", "t", "s"]) == [1, 5, 3]
    finally:
        await down.aclose()
