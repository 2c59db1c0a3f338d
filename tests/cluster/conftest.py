"""Fixtures for the cluster tests: a fake store, and a real Redis with a unique key prefix."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import NoReturn

import asyncpg
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.cluster.fakes import FakeStore

REDIS_URL = os.environ.get("KIROGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG = os.environ.get("KIROGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def unavailable(what: str, reason: str) -> NoReturn:
    """Skip when a service is missing, except on CI where it must be there."""
    message = f"{what} not reachable ({reason})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(message)


@contextlib.asynccontextmanager
async def throwaway_database(prefix: str = "kg") -> AsyncIterator[str]:
    """A new PostgreSQL database on the machine's server (its SQLAlchemy URL), dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(f"{PG}/test", timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {PG}", f"{type(exc).__name__}: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{PG.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def flushed_redis(url: str) -> None:
    """Empty the Redis database at ``url`` (a suite's own number), or skip/fail without one."""
    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.flushdb()
    except (RedisError, OSError) as exc:
        unavailable(f"Redis at {url}", f"{type(exc).__name__}: {exc}")
    finally:
        await client.aclose()


async def connect_redis(url: str = REDIS_URL, **kwargs: object) -> Redis:
    client = Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, **kwargs)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        unavailable(f"Redis at {url}", f"{type(exc).__name__}: {exc}")
    return client


async def eventually(check: Callable[[], bool], within: float = 2.0) -> None:
    """Wait until ``check()`` holds; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if check():
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.01)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test (or helper sharing this Redis) uses."""
    return f"kgtest:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    client = await connect_redis()
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def redis2(redis: Redis) -> AsyncIterator[Redis]:
    """A second, independent connection: another process's view of the same Redis."""
    client = await connect_redis()
    try:
        yield client
    finally:
        await client.aclose()
