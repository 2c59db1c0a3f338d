from __future__ import annotations

import pytest
from redis.asyncio import Redis

from kirogate.cluster import (
    Cluster,
    LocalLock,
    MemoryRateLimiter,
    NullNotifier,
    RedisLock,
    RedisNotifier,
    RedisRateLimiter,
    StoreLock,
    display_redis_url,
)
from kirogate.errors import ConfigError
from kirogate.pool.credential_pool import CredentialPool
from tests.cluster.conftest import REDIS_URL, eventually
from tests.cluster.fakes import FakeStore, credential

FAST = {"sync_interval": 0.05, "flush_interval": 0.02, "membership_interval": 0.1}


def test_sqlite_without_redis_is_single_process() -> None:
    cluster = Cluster(FakeStore("sqlite"))
    assert isinstance(cluster.lock, LocalLock)
    assert isinstance(cluster.rate_limiter, MemoryRateLimiter)
    assert isinstance(cluster.notifier, NullNotifier)
    assert cluster.describe() == "SQLite: single process"


def test_postgresql_without_redis_locks_in_the_database() -> None:
    cluster = Cluster(FakeStore("postgresql"))
    assert isinstance(cluster.lock, StoreLock)
    assert isinstance(cluster.rate_limiter, MemoryRateLimiter)
    assert "advisory locks" in cluster.describe()


def test_with_redis_locks_limits_and_notices_go_through_redis() -> None:
    cluster = Cluster(FakeStore(), "redis://:hunter2hunter2@127.0.0.1:6379/3")
    assert isinstance(cluster.lock, RedisLock)
    assert isinstance(cluster.rate_limiter, RedisRateLimiter)
    assert isinstance(cluster.notifier, RedisNotifier)
    assert "hunter2" not in cluster.describe()
    assert "redis://:***@127.0.0.1:6379/3" in cluster.describe()


def test_a_bad_redis_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--redis-url"):
        Cluster(FakeStore(), "http://:pw@example.com/0")


def test_redis_passwords_are_masked() -> None:
    assert display_redis_url("redis://user:pw@h:1/2") == "redis://user:***@h:1/2"
    assert display_redis_url("redis://h:1/2") == "redis://h:1/2"


async def test_unreachable_redis_fails_at_start() -> None:
    store = FakeStore()
    cluster = Cluster(store, "redis://:secret-pass@127.0.0.1:1/0")
    pool = CredentialPool([], state=cluster.state)
    with pytest.raises(ConfigError, match=r"cannot reach Redis at redis://:\*\*\*@127.0.0.1:1/0"):
        await cluster.start(pool)
    await cluster.close()


async def test_two_processes_share_state_and_membership_without_redis() -> None:
    store = FakeStore("postgresql")
    for cid in (1, 2):
        store.add_credential(credential(cid))
    one, two = Cluster(store, **FAST), Cluster(store, **FAST)
    pool_one = CredentialPool([credential(1), credential(2)], state=one.state)
    pool_two = CredentialPool([credential(1), credential(2)], state=two.state)
    await one.start(pool_one)
    await two.start(pool_two)
    try:
        pool_one.disable(1, "ops")
        await eventually(lambda: pool_two.state_of(1).disabled)
        store.add_credential(credential(3))
        await eventually(lambda: len(pool_two) == 3)
    finally:
        await one.close()
        await two.close()


async def test_with_redis_a_notice_makes_the_other_process_resync_at_once(
    redis: Redis, redis2: Redis, prefix: str
) -> None:
    store = FakeStore("postgresql")
    store.add_credential(credential(1))
    slow = {"sync_interval": 30.0, "membership_interval": 30.0}
    one = Cluster(store, redis=redis, key_prefix=prefix, **slow)
    two = Cluster(store, redis=redis2, key_prefix=prefix, **slow)
    pool_one = CredentialPool([credential(1)], state=one.state)
    pool_two = CredentialPool([credential(1)], state=two.state)
    await one.start(pool_one)
    await two.start(pool_two)
    try:
        assert isinstance(two.notifier, RedisNotifier)
        await two.notifier.wait_subscribed()
        pool_one.disable(1, "ops")
        await eventually(lambda: pool_two.state_of(1).disabled, within=1.0)
        store.add_credential(credential(2))
        await one.credentials_changed()
        await eventually(lambda: len(pool_two) == 2, within=1.0)
    finally:
        await one.close()
        await two.close()
    assert await redis.ping()  # a given client is not closed by the cluster


async def test_cluster_with_a_redis_url_opens_and_closes_its_client(
    redis: Redis, prefix: str
) -> None:
    store = FakeStore("postgresql")
    cluster = Cluster(store, REDIS_URL, key_prefix=prefix)
    pool = CredentialPool([], state=cluster.state)
    await cluster.start(pool)
    assert await cluster.rate_limiter.hit("k", 1) is None
    await cluster.close()
