"""Who may call the client routes: blocked addresses, per-address and per-key rate limits,
client keys. The client's address is :func:`kirogate.api.addresses.client_address` (the peer,
or what a trusted proxy's headers name); it is counted as a visitor first.

Keys come from the settings (``--api-key``, compared in constant time with no I/O) and, when a
store is configured, from its ``api_keys`` table (looked up by hash, the answer cached). Blocked
IPs are reloaded from the store every few seconds. The rate limit counts requests per key per
minute, in Redis when several processes must share it.

No request waits on the database once the process knows the answer: a cached key or blocked
list older than :data:`CACHE_SECONDS` is still used while a background task reloads it, and a
reload that fails keeps the last good copy (retried later). Only what the process has never
known is asked on the request's path, bounded by :data:`LOOKUP_TIMEOUT`, and not at all while
the database watch says the database is away (a plain 503 at once).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import TYPE_CHECKING, Any, NoReturn

from starlette.requests import Request

from kirogate.api.addresses import AddressRateLimit, client_address, parsed_address
from kirogate.api.auth import key_matches, presented_key
from kirogate.api.middleware import ON_END
from kirogate.caller import CALLER, DEFAULT_KEY_NAME, Caller
from kirogate.cluster.outage import OutageLog
from kirogate.cluster.ratelimit import MemoryRateLimiter, RateLimiter
from kirogate.convert.models import ModelInfo
from kirogate.errors import (
    AuthenticationFailed,
    KirogateError,
    PermissionDenied,
    RateLimited,
    StoreUnavailable,
)
from kirogate.service.console_sessions import COOKIE as CONSOLE_COOKIE
from kirogate.service.console_sessions import CSRF_HEADER
from kirogate.service.keys import (
    CONFIGURED_KEY_ID,
    METER,
    KeyMeter,
    KeyRecord,
    seconds_to_next_day,
    seconds_to_next_month,
)
from kirogate.tasks import spawn

if TYPE_CHECKING:
    from kirogate.service import Gateway

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
CACHE_LIMIT = 10_000
# The longest a request waits for what the process has never known (a key seen for the first
# time, the blocked list before its first load); background reloads give up after RELOAD_TIMEOUT.
LOOKUP_TIMEOUT = 2.0
RELOAD_TIMEOUT = 10.0
CONSOLE_KEY_NAME = "console"  # the request log's key name for the console's playground
CONCURRENCY_RETRY = 1.0  # the retry-after of a key with all its answers in flight


def on_end(request: Request, callback: Callable[[], object]) -> None:
    """Run ``callback`` when the request's response has ended, however it ended."""
    state = request.scope.setdefault("state", {})
    state.setdefault(ON_END, []).append(callback)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def _bounded(call: Awaitable[Any], seconds: float, what: str) -> Any:
    """``call``'s result; any failure (or no answer within ``seconds``) a plain 503."""
    try:
        async with asyncio.timeout(seconds):
            return await call
    except StoreUnavailable:
        raise
    except TimeoutError as exc:
        raise StoreUnavailable(f"{what}: no answer within {seconds:g} s") from exc
    except KirogateError:
        raise
    except Exception as exc:  # a database failure the store did not translate
        raise StoreUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc


class AccessControl:
    """The checks every client route runs before it reads the body."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        # key hash -> (the stored key's record, None for no such key; checked at)
        self._known: dict[str, tuple[KeyRecord | None, float]] = {}
        self._rechecking: set[str] = set()  # key hashes being reloaded in the background
        # Single addresses (canonical text) and networks, each with its expiry (epoch
        # seconds, None: until unblocked): an expired block stops at once, before a reload.
        self._blocked: dict[str, float | None] = {}
        self._blocked_networks: tuple[tuple[IPv4Network | IPv6Network, float | None], ...] = ()
        self._blocked_at = -math.inf
        self._blocked_loaded = False
        self._blocked_reload: asyncio.Task[None] | None = None
        self._outage = OutageLog(log, "access control database")
        self.memory_limiter = MemoryRateLimiter()
        self.address_limit = AddressRateLimit()
        cluster = lambda: gateway.cluster.counters if gateway.cluster is not None else None  # noqa: E731
        self.meter = KeyMeter(cluster, lambda: gateway.store)
        self._limit_told: dict[tuple[int, str], float] = {}  # (key, limit) -> window end
        # An operator's change of keys or addresses (here or in another process) is seen
        # at once rather than when the cache ages out.
        gateway.changes.on("keys", self.forget_keys)
        gateway.changes.on("ips", self.reload_addresses)

    def forget(self) -> None:
        """Drop cached answers (after keys or blocked addresses changed)."""
        self.forget_keys()
        self.forget_addresses()

    def forget_keys(self) -> None:
        self._known.clear()

    def forget_addresses(self) -> None:
        self._blocked_at = -math.inf

    async def reload_addresses(self) -> None:
        """Load the blocked list now (a change was made): the next request applies it."""
        if self._gateway.store is None:
            return
        self._blocked_at = time.monotonic()
        await self._reload_blocked()

    async def check(self, request: Request) -> None:
        gateway = self._gateway
        store = gateway.store
        address = client_address(request, gateway.settings)
        visitors = getattr(gateway, "visitors", None)
        if visitors is not None:
            visitors.seen(address)
        if store is not None:
            await self._check_address(address)
        if gateway.settings.server.ip_rate_limit > 0:
            cluster = gateway.cluster
            shared = cluster.rate_limiter if cluster is not None else None
            await self.address_limit.check(address, gateway.settings, shared)
        accepted = gateway.settings.server.api_keys
        if not accepted and store is None:
            return  # no key configured anywhere: open gateway (tests, local embedding)
        key = presented_key(request)
        if key is None:
            if CONSOLE_COOKIE in request.cookies:  # the console's playground
                await self._console_caller(request, address)
                return
            raise AuthenticationFailed(
                "missing API key: send it as the x-api-key header or as Authorization: Bearer <key>"
            )
        record: KeyRecord | None = None
        # The configured keys need no hashing; only stored keys and rate limits use the digest.
        if accepted and key_matches(key, accepted):
            caller = Caller(None, DEFAULT_KEY_NAME, None, address)
        else:
            record = await self._stored_key(key)
            if record is None:
                raise AuthenticationFailed("invalid API key")
            refusal = record.refusal(datetime.now(UTC))
            if refusal is not None:
                raise AuthenticationFailed(refusal)
            caller = Caller(record.id, record.name, record.group, address)
        rpm = gateway.settings.server.rate_limit_rpm
        if rpm > 0:
            wait = await self._limiter().hit(_digest(key)[:32], rpm)
            if wait is not None:
                raise RateLimited(
                    f"rate limit of {rpm} requests per minute for this key reached; "
                    f"retry in {math.ceil(wait)} s",
                    retry_after=wait,
                )
        if record is not None and not record.limits.unlimited:
            await self._enforce(request, record)
        request.state.key_record = record
        CALLER.set(caller)
        METER.set(self.meter)
        if store is not None:
            store.count_key_usage(
                record.id if record is not None else CONFIGURED_KEY_ID, requests=1
            )

    async def _console_caller(self, request: Request, address: str) -> None:
        """Accept a signed-in console (its session cookie and CSRF token) as the caller
        ``console``: the playground chats through the gateway without a client key."""
        admin_key = (self._gateway.settings.server.admin_key or "").strip()
        await self._gateway.console_sessions.accept(
            admin_key,
            request.cookies.get(CONSOLE_COOKIE),
            request.headers.get(CSRF_HEADER),
            changes=True,  # every client route answers with the operator's credentials
        )
        request.state.key_record = None
        CALLER.set(Caller(None, CONSOLE_KEY_NAME, None, address))
        METER.set(self.meter)

    async def _enforce(self, request: Request, record: KeyRecord) -> None:
        """The key's own limits: tokens, then requests per minute and per day, then the
        answers in flight (released when the response ends, streams and hang-ups too)."""
        limits, meter, now = record.limits, self.meter, datetime.now(UTC)
        if limits.tokens_per_day is not None or limits.tokens_per_month is not None:
            today, month = await meter.tokens(record.id, now)
            if limits.tokens_per_day is not None and today >= limits.tokens_per_day:
                self._refuse(
                    record,
                    "tokens_per_day",
                    f"{limits.tokens_per_day} tokens per day (UTC)",
                    seconds_to_next_day(now),
                    used=today,
                )
            if limits.tokens_per_month is not None and month >= limits.tokens_per_month:
                self._refuse(
                    record,
                    "tokens_per_month",
                    f"{limits.tokens_per_month} tokens per month (UTC)",
                    seconds_to_next_month(now),
                    used=month,
                )
        if limits.rpm is not None:
            wait = await self._limiter().hit(f"key:{record.id}", limits.rpm)
            if wait is not None:
                self._refuse(record, "rpm", f"{limits.rpm} requests per minute", wait)
        if limits.requests_per_day is not None and not await meter.take_request(
            record.id, limits.requests_per_day, now
        ):
            self._refuse(
                record,
                "requests_per_day",
                f"{limits.requests_per_day} requests per day (UTC)",
                seconds_to_next_day(now),
            )
        if limits.max_concurrency is not None:
            if not await meter.acquire(record.id, limits.max_concurrency):
                self._refuse(
                    record,
                    "max_concurrency",
                    f"{limits.max_concurrency} requests at a time",
                    CONCURRENCY_RETRY,
                )
            key_id = record.id
            on_end(request, lambda: meter.release_soon(key_id))

    def _refuse(
        self, record: KeyRecord, limit: str, what: str, wait: float, *, used: int | None = None
    ) -> NoReturn:
        """Raise the 429 (and tell the watchers, once per window)."""
        now = time.monotonic()
        mark = (record.id, limit)
        if self._limit_told.get(mark, -math.inf) <= now:
            self._limit_told[mark] = now + wait
            if len(self._limit_told) > CACHE_LIMIT:
                self._limit_told = {k: t for k, t in self._limit_told.items() if t > now}
            data: dict[str, Any] = {"retry_after": math.ceil(wait)}
            if used is not None:
                data["used"] = used
            self._gateway.events.publish(
                "key.limit", key_id=record.id, key_name=record.name, limit=limit, **data
            )
        raise RateLimited(
            f"this API key's limit of {what} is reached; retry in {math.ceil(wait)} s",
            retry_after=wait,
        )

    def check_model(self, request: Request, asked: str, resolved: ModelInfo) -> None:
        """403 when the request's key may not use the model (checked once the body named it)."""
        record: KeyRecord | None = getattr(request.state, "key_record", None)
        if record is None or not record.limits.models:
            return
        if not record.limits.allows_model(asked, resolved.public_id, resolved.upstream_id):
            raise PermissionDenied(
                f"this API key may not use the model {asked}; "
                f"it may use: {', '.join(record.limits.models)}"
            )

    def _limiter(self) -> RateLimiter:
        cluster = self._gateway.cluster
        return cluster.rate_limiter if cluster is not None else self.memory_limiter

    def _database_away(self) -> bool:
        watch = getattr(self._gateway, "database", None)
        return watch is not None and bool(watch.away)

    async def _stored_key(self, key: str) -> KeyRecord | None:
        store = self._gateway.store
        if store is None:
            return None
        digest = _digest(key)
        now = time.monotonic()
        cached = self._known.get(digest)
        if cached is not None:
            if now - cached[1] >= CACHE_SECONDS and digest not in self._rechecking:
                self._rechecking.add(digest)
                spawn(self._recheck(key, digest), name="kirogate api key recheck")
            return cached[0]
        if self._database_away():
            raise StoreUnavailable("an API key not seen before cannot be checked")
        record: KeyRecord | None = await _bounded(
            self._load(key), LOOKUP_TIMEOUT, "checking an API key"
        )
        self._remember(digest, record)
        return record

    async def _load(self, key: str) -> KeyRecord | None:
        """The key's record, with the meter raised to what the database counted for it."""
        store = self._gateway.store
        assert store is not None
        record: KeyRecord | None = await store.find_client_key(key)
        if record is not None and not record.limits.unlimited:
            now = datetime.now(UTC)
            usage = (await store.key_usage(now, key_id=record.id)).get(record.id)
            if usage is not None:
                await self.meter.seed(record.id, usage, now)
        return record

    def _remember(self, digest: str, record: KeyRecord | None) -> None:
        known = self._known
        known.pop(digest, None)  # re-inserted last: the dict's order is the age order
        if len(known) >= CACHE_LIMIT:
            # Full (a client trying many keys): forget refused keys first, then the oldest.
            # Valid keys are what the process serves from while the database is away.
            for refused in [d for d, (ok, _) in known.items() if ok is None]:
                del known[refused]
            if len(known) >= CACHE_LIMIT:
                del known[next(iter(known))]
        known[digest] = (record, time.monotonic())

    async def _recheck(self, key: str, digest: str) -> None:
        """Reload one cached key's answer; on failure the cached answer stays (retried later)."""
        store = self._gateway.store
        try:
            if store is None:
                return
            async with asyncio.timeout(RELOAD_TIMEOUT):
                record = await self._load(key)
        except Exception as exc:  # any database failure: keep serving the last good answer
            self._outage.failed("rechecking an API key", exc)
            if digest in self._known:
                self._known[digest] = (self._known[digest][0], time.monotonic())
        else:
            self._outage.succeeded()
            self._remember(digest, record)
        finally:
            self._rechecking.discard(digest)

    async def _check_address(self, address: str) -> None:
        now = time.monotonic()
        if now - self._blocked_at >= CACHE_SECONDS and self._blocked_reload is None:
            # One reload at a time, in the background: requests meanwhile use the list in hand.
            self._blocked_at = now
            task = self._blocked_reload = spawn(
                self._reload_blocked(), name="kirogate blocked-address reload"
            )
            if not self._blocked_loaded:
                # Nothing known yet (the first request after start): this one waits, briefly.
                if self._database_away():
                    raise StoreUnavailable("the blocked addresses were never loaded")
                await _bounded(
                    asyncio.shield(task), LOOKUP_TIMEOUT, "loading the blocked addresses"
                )
                if not self._blocked_loaded:
                    raise StoreUnavailable("the blocked addresses could not be loaded")
        if self._is_blocked(address):
            raise PermissionDenied("requests from this address are blocked by the operator")

    def _is_blocked(self, host: str) -> bool:
        """Whether ``host`` is a blocked address or inside a blocked network (not expired)."""
        if host in self._blocked:
            until = self._blocked[host]
            if until is None or until > time.time():
                return True
        if not self._blocked_networks:
            return False
        address = parsed_address(host)
        if address is None:
            return False  # not an IP (a Unix socket's peer): no range holds it
        now = time.time()
        return any(
            address in network and (until is None or until > now)
            for network, until in self._blocked_networks
        )

    async def _reload_blocked(self) -> None:
        """Replace the blocked list; on failure keep the last good one (retried later)."""
        store = self._gateway.store
        try:
            if store is None:
                return
            async with asyncio.timeout(RELOAD_TIMEOUT):
                rows = await store.blocks()
        except Exception as exc:  # any database failure: keep what we have
            self._outage.failed("reloading the blocked addresses", exc)
            if not self._blocked_loaded:
                self._blocked_at = -math.inf  # nothing known yet: the next request tries again
        else:
            self._outage.succeeded()
            entries = [(row.ip, row.expires_at.timestamp() if row.expires_at else None)
                       for row in rows]  # fmt: skip
            self._blocked = {ip: until for ip, until in entries if "/" not in ip}
            self._blocked_networks = tuple(
                (ip_network(ip, strict=False), until) for ip, until in entries if "/" in ip
            )
            self._blocked_loaded = True
        finally:
            self._blocked_reload = None
