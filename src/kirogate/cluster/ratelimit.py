"""Requests-per-minute limits, per process or shared by every process through Redis.

Both limiters keep a sliding log: a hit is allowed when fewer than ``limit`` hits were
allowed in the last 60 seconds. Refused hits are not recorded, so a client that keeps
retrying is served again as soon as the window has room. ``hit`` answers ``None`` (go on)
or the seconds until a hit would be allowed (for ``Retry-After``); ``wait`` answers the same
without counting a hit (to refuse before work that only some requests count, such as a
failed sign-in).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from itertools import count
from typing import TYPE_CHECKING, Protocol

from kirogate.cluster.outage import OutageLog
from kirogate.cluster.redis_errors import redis_errors

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

WINDOW = 60.0  # seconds
MIN_WAIT = 0.001

# Sliding log in a sorted set scored by the server's clock (the processes' clocks may differ).
# An empty member (ARGV[3]) only asks: nothing is recorded.
_HIT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used < limit then
    if ARGV[3] ~= '' then
        redis.call('ZADD', KEYS[1], now, ARGV[3])
        redis.call('PEXPIRE', KEYS[1], window)
    end
    return -1
end
local oldest = redis.call('ZRANGE', KEYS[1], used - limit, used - limit, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
"""


class RateLimiter(Protocol):
    """``hit(key, limit)``: ``None`` if allowed (and counted), else seconds to wait."""

    async def hit(
        self, key: str, limit_per_minute: int, *, window: float = WINDOW
    ) -> float | None: ...

    async def wait(
        self, key: str, limit_per_minute: int, *, window: float = WINDOW
    ) -> float | None:
        """What :meth:`hit` would answer now, without counting a hit."""
        ...


class MemoryRateLimiter:
    """Per-process sliding-window limiter (one process, or no Redis)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._next_purge = 0.0
        self._longest = WINDOW  # the longest window asked for: older hits can go

    async def hit(self, key: str, limit_per_minute: int, *, window: float = WINDOW) -> float | None:
        return self.hit_now(key, limit_per_minute, window=window)

    async def wait(
        self, key: str, limit_per_minute: int, *, window: float = WINDOW
    ) -> float | None:
        return self.hit_now(key, limit_per_minute, record=False, window=window)

    def hit_now(
        self, key: str, limit_per_minute: int, *, record: bool = True, window: float = WINDOW
    ) -> float | None:
        """The synchronous form of :meth:`hit` (of :meth:`wait` with ``record=False``);
        ``window`` (seconds) replaces the minute for limits over another span."""
        if limit_per_minute <= 0:
            return None
        now = self._clock()
        self._longest = max(self._longest, window)
        self._purge(now)
        hits = self._hits.get(key)
        if hits is None:
            if not record:
                return None
            hits = self._hits[key] = deque()
        cutoff = now - window
        while hits and hits[0] <= cutoff:
            hits.popleft()
        if len(hits) >= limit_per_minute:
            # The hit that must leave the window for the count to drop below the limit.
            blocking = hits[len(hits) - limit_per_minute]
            return max(blocking + window - now, MIN_WAIT)
        if record:
            hits.append(now)
        return None

    def _purge(self, now: float) -> None:
        if now < self._next_purge and len(self._hits) < self._max_keys:
            return
        cutoff = now - self._longest
        for key in [key for key, hits in self._hits.items() if not hits or hits[-1] <= cutoff]:
            del self._hits[key]
        while len(self._hits) >= self._max_keys:  # still full of live keys: drop the oldest
            del self._hits[next(iter(self._hits))]
        self._next_purge = now + self._longest


class RedisRateLimiter:
    """Sliding-window limiter in Redis, shared by every process; atomic in one Lua script.

    Keys are hashed, so a key may be a client API key without it being stored. If Redis
    cannot be reached the limit is enforced per process until it answers again.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "kirogate:ratelimit:",
        fallback: MemoryRateLimiter | None = None,
    ) -> None:
        self._errors = redis_errors()
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_HIT)
        self._fallback = fallback or MemoryRateLimiter()
        self._outage = OutageLog(log, "Redis rate limiter")
        self._origin = secrets.token_hex(6)
        self._sequence = count()

    def key(self, key: str) -> str:
        return self._prefix + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    async def hit(self, key: str, limit_per_minute: int, *, window: float = WINDOW) -> float | None:
        member = f"{self._origin}:{next(self._sequence)}"
        return await self._run(key, limit_per_minute, member, window)

    async def wait(
        self, key: str, limit_per_minute: int, *, window: float = WINDOW
    ) -> float | None:
        return await self._run(key, limit_per_minute, "", window)

    async def _run(
        self, key: str, limit_per_minute: int, member: str, window: float = WINDOW
    ) -> float | None:
        if limit_per_minute <= 0:
            return None
        try:
            wait_ms = await self._script(
                keys=[self.key(key)], args=[limit_per_minute, max(int(window * 1000), 1), member]
            )
        except self._errors as exc:
            self._outage.failed("counting a request", exc)
            return self._fallback.hit_now(key, limit_per_minute, record=bool(member), window=window)
        self._outage.succeeded()
        wait = int(wait_ms)
        if wait < 0:
            return None
        return max(wait / 1000, MIN_WAIT)


# ---------------------------------------------------------------- counters with a lifetime
# Fixed windows (a key's requests and tokens per UTC day or month, its answers in flight):
# counted per process, or in Redis so every process sees the same figures.

_TAKE = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

_ADD = """
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n < 0 then redis.call('SET', KEYS[1], 0) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return n
"""

_SEED = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 1
"""


class Counters(Protocol):
    """Integer counters that expire ``ttl`` seconds after their last change."""

    async def take(self, key: str, limit: int, ttl: int) -> bool:
        """Add one if the counter is below ``limit``; whether it was added."""
        ...

    async def add(self, key: str, amount: int, ttl: int) -> None:
        """Add ``amount`` (negative to take back; the counter never goes below 0)."""
        ...

    async def get(self, keys: list[str]) -> list[int]: ...

    async def seed(self, key: str, value: int, ttl: int) -> None:
        """Raise the counter to ``value`` if it is lower (from what the database counted)."""
        ...


class MemoryCounters:
    """Per-process counters (one process, or no Redis)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, tuple[int, float]] = {}  # key -> (value, expires at)
        self._next_purge = 0.0

    def _value(self, key: str, now: float) -> int:
        entry = self._values.get(key)
        if entry is None or entry[1] <= now:
            return 0
        return entry[0]

    def _purge(self, now: float) -> None:
        if now < self._next_purge:
            return
        for key in [key for key, (_, until) in self._values.items() if until <= now]:
            del self._values[key]
        self._next_purge = now + WINDOW

    def take_now(self, key: str, limit: int, ttl: int) -> bool:
        now = self._clock()
        self._purge(now)
        value = self._value(key, now)
        if value >= limit:
            return False
        self._values[key] = (value + 1, now + ttl)
        return True

    def add_now(self, key: str, amount: int, ttl: int) -> None:
        now = self._clock()
        self._values[key] = (max(0, self._value(key, now) + amount), now + ttl)

    def get_now(self, keys: list[str]) -> list[int]:
        now = self._clock()
        return [self._value(key, now) for key in keys]

    def seed_now(self, key: str, value: int, ttl: int) -> None:
        now = self._clock()
        if self._value(key, now) < value:
            self._values[key] = (value, now + ttl)

    async def take(self, key: str, limit: int, ttl: int) -> bool:
        return self.take_now(key, limit, ttl)

    async def add(self, key: str, amount: int, ttl: int) -> None:
        self.add_now(key, amount, ttl)

    async def get(self, keys: list[str]) -> list[int]:
        return self.get_now(keys)

    async def seed(self, key: str, value: int, ttl: int) -> None:
        self.seed_now(key, value, ttl)


class RedisCounters:
    """Counters in Redis, shared by every process; per process while Redis is away."""

    def __init__(self, redis: Redis, *, prefix: str = "kirogate:counter:") -> None:
        self._errors = redis_errors()
        self._redis = redis
        self._prefix = prefix
        self._take = redis.register_script(_TAKE)
        self._add = redis.register_script(_ADD)
        self._seed = redis.register_script(_SEED)
        self._fallback = MemoryCounters()
        self._outage = OutageLog(log, "Redis counters")

    async def take(self, key: str, limit: int, ttl: int) -> bool:
        try:
            taken = await self._take(keys=[self._prefix + key], args=[limit, ttl])
        except self._errors as exc:
            self._outage.failed("counting", exc)
            return self._fallback.take_now(key, limit, ttl)
        self._outage.succeeded()
        return bool(int(taken))

    async def add(self, key: str, amount: int, ttl: int) -> None:
        try:
            await self._add(keys=[self._prefix + key], args=[amount, ttl])
        except self._errors as exc:
            self._outage.failed("counting", exc)
            self._fallback.add_now(key, amount, ttl)
        else:
            self._outage.succeeded()

    async def get(self, keys: list[str]) -> list[int]:
        if not keys:
            return []
        try:
            values = await self._redis.mget([self._prefix + key for key in keys])
        except self._errors as exc:
            self._outage.failed("reading counters", exc)
            return self._fallback.get_now(keys)
        self._outage.succeeded()
        return [int(value) if value is not None else 0 for value in values]

    async def seed(self, key: str, value: int, ttl: int) -> None:
        try:
            await self._seed(keys=[self._prefix + key], args=[value, ttl])
        except self._errors as exc:
            self._outage.failed("counting", exc)
            self._fallback.seed_now(key, value, ttl)
        else:
            self._outage.succeeded()
