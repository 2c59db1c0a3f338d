"""Fixtures for the cluster tests: a fake store, and a real Redis with a unique key prefix."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import NoReturn

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.cluster.fakes import FakeStore

REDIS_URL = os.environ.get("KIROGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(what: str, reason: str) -> NoReturn:
    """Skip when a service is missing, except on CI where it must be there."""
    message = f"{what} not reachable ({reason})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(message)


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
