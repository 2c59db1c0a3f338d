"""Access checks of the client routes: keys from settings and store, blocked IPs, rate limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from kirogate.api import access as access_module
from kirogate.api.access import CACHE_SECONDS, AccessControl
from kirogate.api.middleware import ON_END
from kirogate.caller import CALLER, Caller
from kirogate.cluster.ratelimit import MemoryCounters, MemoryRateLimiter
from kirogate.convert.models import ModelTable
from kirogate.errors import (
    STORE_AWAY_MESSAGE,
    AuthenticationFailed,
    PermissionDenied,
    RateLimited,
    StoreUnavailable,
)
from kirogate.events import EventBus
from kirogate.service.changes import ChangeFeed
from kirogate.service.keys import (
    CONFIGURED_KEY_ID,
    METER,
    KeyRecord,
    count_answer_usage,
    parse_limits,
)
from kirogate.settings import Settings
from kirogate.store.addresses import BlockRecord
from kirogate.tasks import running_tasks


@dataclass
class FakeStore:
    keys: set[str] = field(default_factory=set)
    blocked: list[tuple[str, str | None]] = field(default_factory=list)
    lookups: int = 0

    counted: list[tuple[int, dict[str, int]]] = field(default_factory=list)
    records: dict[str, KeyRecord] = field(default_factory=dict)

    async def find_client_key(self, plaintext: str) -> Any:
        self.lookups += 1
        if plaintext in self.records:
            return self.records[plaintext]
        if plaintext not in self.keys:
            return None
        return KeyRecord(len(plaintext), plaintext, plaintext[:2], datetime.now(UTC))

    async def key_usage(self, now: Any = None, *, key_id: int | None = None) -> dict[int, Any]:
        return {}

    def count_key_usage(self, key_id: int, **counts: int) -> None:
        self.counted.append((key_id, counts))

    async def blocked_ips(self) -> list[tuple[str, str | None]]:
        return self.blocked

    async def blocks(self) -> list[BlockRecord]:
        now = datetime.now(UTC)
        return [BlockRecord(ip, reason, now, None) for ip, reason in await self.blocked_ips()]


@dataclass
class FakeGateway:
    settings: Settings
    store: FakeStore | None = None
    cluster: Any = None
    database: Any = None
    changes: ChangeFeed = field(default_factory=lambda: ChangeFeed(lambda: None))
    events: EventBus = field(default_factory=EventBus)


def settings(keys: tuple[str, ...] = (), rpm: int = 0) -> Settings:
    base = Settings()
    return replace(base, server=replace(base.server, api_keys=keys, rate_limit_rpm=rpm))


def request(key: str | None = None, client: str = "10.0.0.1", bearer: bool = False) -> Request:
    headers = []
    if key is not None:
        headers = (
            [(b"authorization", f"Bearer {key}".encode())]
            if bearer
            else [(b"x-api-key", key.encode())]
        )
    return Request({"type": "http", "headers": headers, "client": (client, 1234)})


async def test_open_when_no_key_is_configured_anywhere() -> None:
    await AccessControl(FakeGateway(settings())).check(request())  # type: ignore[arg-type]


async def test_settings_key_accepted_without_touching_the_store() -> None:
    store = FakeStore()
    access = AccessControl(FakeGateway(settings(("k1",)), store))  # type: ignore[arg-type]
    await access.check(request("k1", bearer=True))
    assert store.lookups == 0


async def test_missing_and_wrong_keys_are_401() -> None:
    access = AccessControl(FakeGateway(settings(("k1",))))  # type: ignore[arg-type]
    with pytest.raises(AuthenticationFailed, match="missing API key"):
        await access.check(request())
    with pytest.raises(AuthenticationFailed, match="invalid API key"):
        await access.check(request("nope"))


async def test_stored_key_accepted_and_cached() -> None:
    store = FakeStore(keys={"stored"})
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    for _ in range(5):
        await access.check(request("stored"))
    assert store.lookups == 1
    with pytest.raises(AuthenticationFailed):
        await access.check(request("other"))
    access.forget()
    await access.check(request("stored"))
    assert store.lookups == 3


async def test_blocked_address_is_403() -> None:
    store = FakeStore(keys={"k"}, blocked=[("10.0.0.9", "abuse")])
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    await access.check(request("k", client="10.0.0.1"))
    with pytest.raises(PermissionDenied, match="blocked"):
        await access.check(request("k", client="10.0.0.9"))


@pytest.mark.parametrize(
    ("client", "blocked"),
    [
        ("127.0.0.1", True),
        ("127.9.8.7", True),
        ("::ffff:127.0.0.5", True),
        ("10.1.0.1", False),
        ("2001:db8::42", True),
        ("2001:db9::1", False),
        ("not-an-ip", False),
    ],
)
async def test_a_blocked_network_blocks_every_address_in_it(client: str, blocked: bool) -> None:
    rows: list[tuple[str, str | None]] = [("127.0.0.0/8", None), ("2001:db8::/32", "lab")]
    store = FakeStore(keys={"k"}, blocked=rows)
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    if blocked:
        with pytest.raises(PermissionDenied, match="blocked"):
            await access.check(request("k", client=client))
    else:
        await access.check(request("k", client=client))


async def test_rate_limit_per_key_with_retry_after() -> None:
    access = AccessControl(FakeGateway(settings(("a", "b"), rpm=2)))  # type: ignore[arg-type]
    await access.check(request("a"))
    await access.check(request("a"))
    with pytest.raises(RateLimited) as caught:
        await access.check(request("a"))
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60
    await access.check(request("b"))  # another key has its own budget


class SlowBlockedStore(FakeStore):
    """Counts blocked-list queries; each one waits until released."""

    def __init__(self) -> None:
        super().__init__(keys={"k"})
        self.queries = 0
        self.release: asyncio.Event | None = None
        self.fail = False

    async def blocked_ips(self) -> list[tuple[str, str | None]]:
        self.queries += 1
        if self.release is None:
            self.release = asyncio.Event()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("database down")
        return self.blocked


async def test_concurrent_requests_share_one_blocked_list_reload() -> None:
    store = SlowBlockedStore()
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    first = asyncio.ensure_future(access.check(request("k")))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(access.check(request("k"))) for _ in range(20)]
    await asyncio.gather(*others)  # served with the list in hand, not waiting for the query
    store.release.set()
    await first
    assert store.queries == 1


async def test_a_failed_blocked_list_reload_is_retried_by_the_next_request() -> None:
    store = SlowBlockedStore()
    store.fail = True
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    store.release = asyncio.Event()
    store.release.set()
    # Nothing known yet: a plain 503 that names no database (was the store's own error).
    with pytest.raises(StoreUnavailable) as caught:
        await access.check(request("k"))
    assert caught.value.message == STORE_AWAY_MESSAGE
    store.fail = False
    await access.check(request("k"))
    assert store.queries == 2


async def settled() -> None:
    """Let the access checks' background reloads run to their end."""
    for _ in range(20):
        await asyncio.sleep(0)
    names = {"kirogate blocked-address reload", "kirogate api key recheck"}
    while running := [t for t in running_tasks() if t.get_name() in names]:
        await asyncio.wait(running)


def age(access: AccessControl) -> None:
    """Make every cached answer old enough to be reloaded by the next request."""
    access._blocked_at -= CACHE_SECONDS
    access._known = {k: (valid, at - CACHE_SECONDS) for k, (valid, at) in access._known.items()}


class FlakyStore(FakeStore):
    """A store that can fail every query, or hang in every query (a frozen database)."""

    def __init__(self) -> None:
        super().__init__(keys={"stored"}, blocked=[("10.0.0.9", None)])
        self.fail = False
        self.frozen = asyncio.Event()
        self.frozen.set()

    async def find_client_key(self, plaintext: str) -> Any:
        await self.frozen.wait()
        if self.fail:
            raise StoreUnavailable("database postgresql://kg@db.internal:5432/kg: refused")
        return await super().find_client_key(plaintext)

    async def blocked_ips(self) -> list[tuple[str, str | None]]:
        await self.frozen.wait()
        if self.fail:
            raise StoreUnavailable("database postgresql://kg@db.internal:5432/kg: refused")
        return await super().blocked_ips()


async def test_a_failing_store_keeps_the_last_good_keys_and_blocked_list() -> None:
    store = FlakyStore()
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    await access.check(request("stored"))
    store.fail = True
    age(access)
    for _ in range(3):
        await access.check(request("stored"))
        await settled()
    with pytest.raises(PermissionDenied):
        await access.check(request("stored", client="10.0.0.9"))
    with pytest.raises(StoreUnavailable):  # a key never seen: asked, and the store fails
        await access.check(request("never-seen"))
    store.fail = False
    store.blocked = []
    age(access)
    await access.check(request("stored"))  # starts the reload
    await settled()
    await access.check(request("stored", client="10.0.0.9"))  # the reload landed: unblocked


async def test_a_frozen_store_never_holds_a_request_up() -> None:
    store = FlakyStore()
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    await access.check(request("stored"))
    store.frozen.clear()
    age(access)
    async with asyncio.timeout(5):  # a hang guard: each check is answered from memory
        for _ in range(10):
            await access.check(request("stored"))
    store.frozen.set()
    await settled()


async def test_an_unknown_key_while_the_database_is_away_is_a_plain_503_at_once() -> None:
    store = FlakyStore()
    watch = SimpleNamespace(away=False)
    gateway = FakeGateway(settings(), store, database=watch)
    access = AccessControl(gateway)  # type: ignore[arg-type]
    await access.check(request("stored"))
    watch.away = True
    store.frozen.clear()
    async with asyncio.timeout(5):
        with pytest.raises(StoreUnavailable) as caught:
            await access.check(request("new-key"))
        await access.check(request("stored"))
    assert caught.value.message == STORE_AWAY_MESSAGE
    store.frozen.set()
    await settled()


async def test_a_first_lookup_that_gets_no_answer_is_a_503_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(access_module, "LOOKUP_TIMEOUT", 0.05)
    store = FlakyStore()
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    await access.check(request("stored"))
    store.frozen.clear()
    with pytest.raises(StoreUnavailable) as caught:
        await access.check(request("new-key"))
    assert "db.internal" not in caught.value.message
    store.frozen.set()
    await settled()


async def test_a_full_key_cache_forgets_refused_keys_before_valid_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(access_module, "CACHE_LIMIT", 3)
    monkeypatch.setattr(access_module, "CACHE_SECONDS", 3600.0)  # no recheck on a slow machine
    store = FakeStore(keys={"stored"})
    access = AccessControl(FakeGateway(settings(), store))  # type: ignore[arg-type]
    await access.check(request("stored"))
    for wrong in ("w1", "w2", "w3"):
        with pytest.raises(AuthenticationFailed):
            await access.check(request(wrong))
    lookups = store.lookups
    await access.check(request("stored"))  # still known: no lookup
    assert store.lookups == lookups


# ---------------------------------------------------------------- client keys and their limits


class SharedLimiter:
    """A limiter another process could see (as Redis's): only its ``async`` methods."""

    def __init__(self) -> None:
        self._memory = MemoryRateLimiter()
        self.hits = 0

    async def hit(self, key: str, limit: int, *, window: float = 60.0) -> float | None:
        self.hits += 1
        return self._memory.hit_now(key, limit, window=window)

    async def wait(self, key: str, limit: int, *, window: float = 60.0) -> float | None:
        return self._memory.hit_now(key, limit, record=False, window=window)


class SharedCounters:
    """Counters another process could see (as Redis's): only their ``async`` methods."""

    def __init__(self) -> None:
        self._memory = MemoryCounters()
        self.calls = 0

    async def take(self, key: str, limit: int, ttl: int) -> bool:
        self.calls += 1
        return self._memory.take_now(key, limit, ttl)

    async def add(self, key: str, amount: int, ttl: int) -> None:
        self.calls += 1
        self._memory.add_now(key, amount, ttl)

    async def get(self, keys: list[str]) -> list[int]:
        self.calls += 1
        return self._memory.get_now(keys)

    async def seed(self, key: str, value: int, ttl: int) -> None:
        self._memory.seed_now(key, value, ttl)


def keyed(shared: bool = False, **fields: Any) -> tuple[AccessControl, FakeStore, FakeGateway]:
    """A gateway with the stored key ``alice-key``; ``shared``: its limits counted through
    the ``async`` interface of shared counters (as with Redis), else in process memory."""
    limits = fields.pop("limits", None)
    record = KeyRecord(
        7, "alice", "kg-a…", datetime.now(UTC), limits=parse_limits(limits), **fields
    )
    store = FakeStore(records={"alice-key": record})
    gateway = FakeGateway(settings(("configured",)), store)
    if shared:
        gateway.cluster = SimpleNamespace(rate_limiter=SharedLimiter(), counters=SharedCounters())
    return AccessControl(gateway), store, gateway  # type: ignore[arg-type]


def counted_shared(gateway: FakeGateway) -> int:
    """The calls the shared counters and limiter answered (0 without them)."""
    if gateway.cluster is None:
        return 0
    return int(gateway.cluster.rate_limiter.hits + gateway.cluster.counters.calls)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"revoked": True}, "revoked"),
        ({"disabled": True}, "disabled"),
        ({"expires_at": datetime.now(UTC) - timedelta(seconds=1)}, "expired"),
    ],
)
async def test_a_revoked_disabled_or_expired_key_is_401_saying_why(
    fields: dict[str, Any], message: str
) -> None:
    access, _, _ = keyed(**fields)
    with pytest.raises(AuthenticationFailed, match=message):
        await access.check(request("alice-key"))


async def test_an_accepted_key_is_the_caller_and_its_request_is_counted() -> None:
    access, store, _ = keyed(group="team-a")
    token = CALLER.set(None)
    try:
        await access.check(request("alice-key", client="10.1.2.3"))
        assert CALLER.get() == Caller(7, "alice", "team-a", "10.1.2.3")
        await access.check(request("configured"))
        assert CALLER.get() == Caller(None, "default", None, "10.0.0.1")
    finally:
        CALLER.reset(token)
    assert store.counted == [(7, {"requests": 1}), (CONFIGURED_KEY_ID, {"requests": 1})]


@pytest.mark.parametrize("shared", [False, True])
async def test_rpm_refuses_with_retry_after_and_tells_the_watchers_once(shared: bool) -> None:
    access, _, gateway = keyed(shared, limits={"rpm": 2})
    seen: list[Any] = []
    gateway.events.listen(seen.append)
    for _ in range(2):
        await access.check(request("alice-key"))
    for _ in range(2):
        with pytest.raises(RateLimited, match="2 requests per minute") as caught:
            await access.check(request("alice-key"))
        assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60
    assert [(e.kind, e.data["limit"], e.data["key_id"]) for e in seen] == [("key.limit", "rpm", 7)]
    await access.check(request("configured"))  # the configured key is unlimited


@pytest.mark.parametrize("shared", [False, True])
async def test_requests_per_day_refuses_until_midnight_utc(shared: bool) -> None:
    access, _, _ = keyed(shared, limits={"requests_per_day": 1})
    await access.check(request("alice-key"))
    with pytest.raises(RateLimited, match="1 requests per day") as caught:
        await access.check(request("alice-key"))
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 86_400


@pytest.mark.parametrize("shared", [False, True])
async def test_token_limits_refuse_once_the_counted_usage_reaches_them(shared: bool) -> None:
    access, _, _ = keyed(shared, limits={"tokens_per_day": 100, "tokens_per_month": 1000})
    await access.check(request("alice-key"))
    token = METER.set(access.meter)
    caller = CALLER.set(Caller(7, "alice"))
    try:
        count_answer_usage(60, 50)  # a request that started under the quota ends over it
    finally:
        METER.reset(token)
        CALLER.reset(caller)
    await settled_release("kirogate key token count")  # shared counters count in a task
    with pytest.raises(RateLimited, match="100 tokens per day"):
        await access.check(request("alice-key"))


@pytest.mark.parametrize("shared", [False, True])
async def test_max_concurrency_holds_a_slot_until_the_response_ends(shared: bool) -> None:
    access, _, _ = keyed(shared, limits={"max_concurrency": 1})
    first = request("alice-key")
    await access.check(first)
    with pytest.raises(RateLimited, match="1 requests at a time"):
        await access.check(request("alice-key"))
    for callback in first.scope["state"].pop(ON_END):
        callback()
    await settled_release()
    await access.check(request("alice-key"))


@pytest.mark.parametrize("shared", [False, True])
async def test_the_limits_count_in_the_same_order_in_either_kind_of_counters(shared: bool) -> None:
    limits = {
        "rpm": 3,
        "requests_per_day": 5,
        "tokens_per_day": 10**6,
        "tokens_per_month": 10**7,
        "max_concurrency": 10,
    }
    access, _, gateway = keyed(shared, limits=limits)
    for _ in range(3):
        await access.check(request("alice-key"))
    with pytest.raises(RateLimited, match="3 requests per minute"):
        await access.check(request("alice-key"))
    # Refused by the rpm: the day's count and a slot were not taken for the fourth request.
    now = datetime.now(UTC)
    assert await access.meter.take_request(7, 4, now)
    assert not await access.meter.take_request(7, 4, now)
    assert await access.meter.acquire(7, 4)
    assert not await access.meter.acquire(7, 4)
    # Shared counters are asked through their async interface, the process's own in place.
    assert (counted_shared(gateway) > 0) is shared


async def settled_release(name: str = "kirogate key release") -> None:
    while running := [t for t in running_tasks() if t.get_name() == name]:
        await asyncio.wait(running)


async def test_a_key_limited_to_some_models_is_403_for_others() -> None:
    access, _, _ = keyed(limits={"models": ["claude-haiku-*", "gpt-4o"]})
    req = request("alice-key")
    await access.check(req)
    table = ModelTable()
    access.check_model(req, "claude-haiku-4-5", table.resolve("claude-haiku-4-5"))
    with pytest.raises(PermissionDenied, match="claude-sonnet-4-6"):
        access.check_model(req, "claude-sonnet-4-6", table.resolve("claude-sonnet-4-6"))
    configured = request("configured")
    await access.check(configured)
    access.check_model(configured, "claude-sonnet-4-6", table.resolve("claude-sonnet-4-6"))


async def test_a_model_answer_is_remembered_per_list_of_patterns() -> None:
    access, store, _ = keyed(limits={"models": ["claude-haiku-*"]})
    table = ModelTable()
    haiku, sonnet = table.resolve("claude-haiku-4-5"), table.resolve("claude-sonnet-4-6")
    for _ in range(2):  # the second time from the remembered answers: the same
        req = request("alice-key")
        await access.check(req)
        access.check_model(req, "claude-haiku-4-5", haiku)
        with pytest.raises(PermissionDenied):
            access.check_model(req, "claude-sonnet-4-6", sonnet)
    # Another list of patterns (a changed key) gets its own answer, not the one remembered.
    store.records["bob-key"] = KeyRecord(
        8, "bob", "kg-b…", datetime.now(UTC), limits=parse_limits({"models": ["claude-*"]})
    )
    req = request("bob-key")
    await access.check(req)
    access.check_model(req, "claude-sonnet-4-6", sonnet)


async def test_a_stored_limit_change_is_seen_after_the_keys_topic() -> None:
    access, store, gateway = keyed(limits={"rpm": 1})
    await access.check(request("alice-key"))
    with pytest.raises(RateLimited):
        await access.check(request("alice-key"))
    store.records["alice-key"] = KeyRecord(7, "alice", "kg-a…", datetime.now(UTC))
    await gateway.changes.changed("keys")
    await access.check(request("alice-key"))
