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
from kirogate.cluster.ratelimit import MemoryCounters, MemoryRateLimiter, RateLimiter
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
    NO_LIMITS,
    KeyLimits,
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
        # (a key's model patterns, the name asked, its public and upstream ids) -> allowed
        self._model_answers: dict[tuple[tuple[str, ...], str, str, str], bool] = {}
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
            # The counts of this process are taken in place; Redis's need an await.
            local_limit = self.address_limit.local(shared)
            if local_limit is not None:
                self.address_limit.check_now(address, gateway.settings, local_limit)
            else:
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
            now = datetime.now(UTC)  # the expiry's and the limits' (one clock read)
            refusal = record.refusal(now)
            if refusal is not None:
                raise AuthenticationFailed(refusal)
            caller = Caller(record.id, record.name, record.group, address)
        rpm = gateway.settings.server.rate_limit_rpm
        limiter = self._limiter()
        if rpm > 0:
            name = _digest(key)[:32]
            if isinstance(limiter, MemoryRateLimiter):
                wait = limiter.hit_now(name, rpm)
            else:
                wait = await limiter.hit(name, rpm)
            if wait is not None:
                raise RateLimited(
                    f"rate limit of {rpm} requests per minute for this key reached; "
                    f"retry in {math.ceil(wait)} s",
                    retry_after=wait,
                )
        # ``limits != NO_LIMITS`` is ``not limits.unlimited`` without a new KeyLimits to compare.
        if record is not None and record.limits != NO_LIMITS:
            local = self.meter.local()
            if local is not None and isinstance(limiter, MemoryRateLimiter):
                self._enforce_now(request, record, now, local, limiter)
            else:
                await self._enforce(request, record, now)
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

    async def _enforce(self, request: Request, record: KeyRecord, now: datetime) -> None:
        """The key's own limits: tokens, then requests per minute and per day, then the
        answers in flight (released when the response ends, streams and hang-ups too)."""
        limits, meter = record.limits, self.meter
        if limits.tokens_per_day is not None or limits.tokens_per_month is not None:
            self._check_tokens(record, *await meter.tokens(record.id, now), now)
        if limits.rpm is not None:
            self._check_rpm(record, await self._limiter().hit(f"key:{record.id}", limits.rpm))
        if limits.requests_per_day is not None:
            taken = await meter.take_request(record.id, limits.requests_per_day, now)
            self._check_day(record, taken, now)
        if limits.max_concurrency is not None:
            self._check_concurrency(
                request, record, await meter.acquire(record.id, limits.max_concurrency)
            )

    def _enforce_now(
        self,
        request: Request,
        record: KeyRecord,
        now: datetime,
        local: MemoryCounters,
        limiter: MemoryRateLimiter,
    ) -> None:
        """:meth:`_enforce` with the counters and the limiter of this process: the same
        steps in the same order, each counted in place instead of through an await."""
        limits, meter = record.limits, self.meter
        if limits.tokens_per_day is not None or limits.tokens_per_month is not None:
            self._check_tokens(record, *meter.tokens_now(local, record.id, now), now)
        if limits.rpm is not None:
            self._check_rpm(record, limiter.hit_now(f"key:{record.id}", limits.rpm))
        if limits.requests_per_day is not None:
            taken = meter.take_request_now(local, record.id, limits.requests_per_day, now)
            self._check_day(record, taken, now)
        if limits.max_concurrency is not None:
            self._check_concurrency(
                request, record, meter.acquire_now(local, record.id, limits.max_concurrency)
            )

    def _check_tokens(self, record: KeyRecord, today: int, month: int, now: datetime) -> None:
        limits = record.limits
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

    def _check_rpm(self, record: KeyRecord, wait: float | None) -> None:
        if wait is not None:
            self._refuse(record, "rpm", f"{record.limits.rpm} requests per minute", wait)

    def _check_day(self, record: KeyRecord, taken: bool, now: datetime) -> None:
        if not taken:
            self._refuse(
                record,
                "requests_per_day",
                f"{record.limits.requests_per_day} requests per day (UTC)",
                seconds_to_next_day(now),
            )

    def _check_concurrency(self, request: Request, record: KeyRecord, acquired: bool) -> None:
        """Refuse when no slot was free, else free the slot when the response ends."""
        if not acquired:
            self._refuse(
                record,
                "max_concurrency",
                f"{record.limits.max_concurrency} requests at a time",
                CONCURRENCY_RETRY,
            )
        meter, key_id = self.meter, record.id
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
        if not self._allows_model(record.limits, asked, resolved):
            raise PermissionDenied(
                f"this API key may not use the model {asked}; "
                f"it may use: {', '.join(record.limits.models)}"
            )

    def _allows_model(self, limits: KeyLimits, asked: str, resolved: ModelInfo) -> bool:
        """``limits.allows_model`` of the names, remembered: its patterns are matched once
        per key's list and model rather than on every request (the answer cannot change)."""
        asking = (limits.models, asked, resolved.public_id, resolved.upstream_id)
        allowed = self._model_answers.get(asking)
        if allowed is None:
            if len(self._model_answers) >= CACHE_LIMIT:
                self._model_answers.clear()
            allowed = self._model_answers[asking] = limits.allows_model(*asking[1:])
        return allowed

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
