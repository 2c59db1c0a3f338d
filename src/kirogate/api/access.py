"""Who may call the client routes: blocked addresses, client keys, per-key rate limits.

Keys come from the settings (``--api-key``, compared in constant time with no I/O) and, when a
store is configured, from its ``api_keys`` table (looked up by hash, the answer cached for a
short while so a busy client does not cost a query per request). Blocked IPs are read from the
store at most every few seconds. The rate limit counts requests per key per minute, in Redis
when several processes must share it.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import TYPE_CHECKING

from starlette.requests import Request

from kirogate.api.auth import key_matches, presented_key
from kirogate.cluster.ratelimit import MemoryRateLimiter, RateLimiter
from kirogate.errors import AuthenticationFailed, PermissionDenied, RateLimited

if TYPE_CHECKING:
    from kirogate.service import Gateway

CACHE_SECONDS = 5.0
CACHE_LIMIT = 10_000


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class AccessControl:
    """The checks every client route runs before it reads the body."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._known: dict[str, tuple[bool, float]] = {}  # key hash -> (valid, checked at)
        self._blocked: frozenset[str] = frozenset()
        self._blocked_at = -math.inf
        self.memory_limiter = MemoryRateLimiter()

    def forget(self) -> None:
        """Drop cached answers (after keys or blocked addresses changed)."""
        self._known.clear()
        self._blocked_at = -math.inf

    async def check(self, request: Request) -> None:
        gateway = self._gateway
        store = gateway.store
        if store is not None:
            await self._check_address(request)
        accepted = gateway.settings.server.api_keys
        if not accepted and store is None:
            return  # no key configured anywhere: open gateway (tests, local embedding)
        key = presented_key(request)
        if key is None:
            raise AuthenticationFailed(
                "missing API key: send it as the x-api-key header or as Authorization: Bearer <key>"
            )
        # The configured keys need no hashing; only stored keys and rate limits use the digest.
        if not (accepted and key_matches(key, accepted)) and not await self._stored_key_ok(key):
            raise AuthenticationFailed("invalid API key")
        rpm = gateway.settings.server.rate_limit_rpm
        if rpm > 0:
            wait = await self._limiter().hit(_digest(key)[:32], rpm)
            if wait is not None:
                raise RateLimited(
                    f"rate limit of {rpm} requests per minute for this key reached; "
                    f"retry in {math.ceil(wait)} s",
                    retry_after=wait,
                )

    def _limiter(self) -> RateLimiter:
        cluster = self._gateway.cluster
        return cluster.rate_limiter if cluster is not None else self.memory_limiter

    async def _stored_key_ok(self, key: str) -> bool:
        store = self._gateway.store
        if store is None:
            return False
        digest = _digest(key)
        now = time.monotonic()
        cached = self._known.get(digest)
        if cached is not None and now - cached[1] < CACHE_SECONDS:
            return cached[0]
        record = await store.verify_api_key(key)
        if len(self._known) >= CACHE_LIMIT:
            self._known.clear()
        self._known[digest] = (record is not None, now)
        return record is not None

    async def _check_address(self, request: Request) -> None:
        store = self._gateway.store
        assert store is not None
        now = time.monotonic()
        if now - self._blocked_at >= CACHE_SECONDS:
            # One reload at a time: requests arriving meanwhile use the current list instead
            # of each sending the same query.
            self._blocked_at = now
            try:
                self._blocked = frozenset(ip for ip, _ in await store.blocked_ips())
            except BaseException:
                self._blocked_at = -math.inf  # the next request tries again
                raise
        if self._blocked and request.client is not None and request.client.host in self._blocked:
            raise PermissionDenied("requests from this address are blocked by the operator")
