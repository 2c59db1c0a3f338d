from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from kirogate.cluster.coordinator import RefreshCoordinator
from kirogate.cluster.locks import DistributedLock, LocalLock, LockUnavailable, RedisLock
from kirogate.errors import InvalidGrant, RefreshFailed
from kirogate.settings import UpstreamSettings
from kirogate.upstream.auth import refresh as refresh_module
from kirogate.upstream.auth.refresh import TokenManager, TokenUpdate
from kirogate.upstream.credentials import Credential
from tests.cluster.fakes import FakeStore, credential

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


class RotatingAuth:
    """Kiro's refresh endpoint: each refresh token works once and is replaced."""

    def __init__(self, refresh_token: str) -> None:
        self.valid = refresh_token
        self.calls = 0
        self.delay = 0.05

    async def __call__(
        self, session: Any, cred: Credential, settings: Any, **_: Any
    ) -> TokenUpdate:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if cred.refresh_token != self.valid:
            raise InvalidGrant("Invalid refresh token provided")
        self.valid = f"refresh-rotated-{self.calls}"
        return TokenUpdate(
            access_token=f"access-{self.calls}",
            refresh_token=self.valid,
            expires_at=NOW + timedelta(hours=1),
            profile_arn=None,
        )


@pytest.fixture
def auth(monkeypatch: pytest.MonkeyPatch) -> RotatingAuth:
    fake = RotatingAuth("refresh-1")
    monkeypatch.setattr(refresh_module, "refresh_credential", fake)
    return fake


def expired() -> Credential:
    return credential(1, access_token="access-0", expires_at=NOW - timedelta(minutes=1))


def process(store: FakeStore, lock: DistributedLock) -> tuple[TokenManager, Credential]:
    """One gateway process: its own TokenManager and its own copy of credential #1."""
    coordinator = RefreshCoordinator(lock, store, clock=clock)
    manager = TokenManager(
        UpstreamSettings(), lambda cred: (None, None), clock=clock, coordinator=coordinator
    )
    return manager, expired()


async def hammer(manager: TokenManager, cred: Credential, **kw: Any) -> list[str]:
    return list(await asyncio.gather(*(manager.ensure_fresh(cred, **kw) for _ in range(10))))


async def test_two_processes_refresh_an_expired_credential_once(
    auth: RotatingAuth, store: FakeStore
) -> None:
    store.add_credential(expired())
    lock = LocalLock()  # one lock shared by both "processes", as Redis or PostgreSQL would be
    (one, cred_one), (two, cred_two) = process(store, lock), process(store, lock)
    tokens = await asyncio.gather(hammer(one, cred_one), hammer(two, cred_two))
    assert auth.calls == 1
    assert {token for batch in tokens for token in batch} == {"access-1"}
    assert cred_two.refresh_token == cred_one.refresh_token == "refresh-rotated-1"
    assert store.tokens[1].access_token == "access-1"


async def test_two_processes_over_redis_refresh_once(
    auth: RotatingAuth, store: FakeStore, redis: Redis, redis2: Redis, prefix: str
) -> None:
    store.add_credential(expired())
    one, cred_one = process(store, RedisLock(redis, prefix=prefix))
    two, cred_two = process(store, RedisLock(redis2, prefix=prefix))
    await asyncio.gather(hammer(one, cred_one), hammer(two, cred_two))
    assert auth.calls == 1


async def test_without_coordination_the_second_refresh_hits_invalid_grant(
    auth: RotatingAuth,
) -> None:
    # Why the coordinator exists: each process alone spends the same refresh token.
    one = TokenManager(UpstreamSettings(), lambda cred: (None, None), clock=clock)
    two = TokenManager(UpstreamSettings(), lambda cred: (None, None), clock=clock)
    results = await asyncio.gather(
        one.ensure_fresh(expired()), two.ensure_fresh(expired()), return_exceptions=True
    )
    assert auth.calls == 2
    assert any(isinstance(result, InvalidGrant) for result in results)


async def test_a_forced_refresh_by_both_processes_happens_once(
    auth: RotatingAuth, store: FakeStore
) -> None:
    store.add_credential(expired())
    lock = LocalLock()
    (one, cred_one), (two, cred_two) = process(store, lock), process(store, lock)
    await asyncio.gather(one.ensure_fresh(cred_one), two.ensure_fresh(cred_two))
    assert auth.calls == 1
    # The upstream refuses access-1 in both processes (the 403 path passes no rejected token).
    await asyncio.gather(hammer(one, cred_one, force=True), hammer(two, cred_two, force=True))
    assert auth.calls == 2
    assert cred_one.access_token == cred_two.access_token == "access-2"


async def test_a_stale_rejection_adopts_the_token_stored_by_another_process(
    auth: RotatingAuth, store: FakeStore
) -> None:
    store.add_credential(expired())
    lock = LocalLock()
    (one, cred_one), (two, cred_two) = process(store, lock), process(store, lock)
    await one.ensure_fresh(cred_one)
    cred_two.access_token, cred_two.expires_at = "access-old", NOW + timedelta(hours=1)
    assert await two.ensure_fresh(cred_two, force=True, rejected="access-old") == "access-1"
    assert auth.calls == 1


async def test_a_fresh_token_needs_no_lock(auth: RotatingAuth, store: FakeStore) -> None:
    cred = credential(1, access_token="access-x", expires_at=NOW + timedelta(hours=1))
    store.add_credential(cred)
    manager, _ = process(store, LocalLock())
    assert await manager.ensure_fresh(cred) == "access-x"
    assert store.calls == [] and auth.calls == 0


async def test_a_busy_lock_fails_the_refresh_as_transient(
    auth: RotatingAuth, store: FakeStore
) -> None:
    store.add_credential(expired())
    lock = LocalLock()
    coordinator = RefreshCoordinator(lock, store, clock=clock, lock_timeout=0.05)
    manager = TokenManager(
        UpstreamSettings(), lambda cred: (None, None), clock=clock, coordinator=coordinator
    )
    async with lock.hold("refresh:1"):
        with pytest.raises(RefreshFailed, match="another process is still refreshing"):
            await manager.ensure_fresh(expired())
    assert auth.calls == 0


async def test_unreadable_stored_tokens_fail_without_spending_the_refresh_token(
    auth: RotatingAuth, store: FakeStore
) -> None:
    store.add_credential(expired())
    store.fail_next["reload_tokens"] = 1
    manager, cred = process(store, LocalLock())
    with pytest.raises(RefreshFailed, match="cannot read its stored tokens") as caught:
        await manager.ensure_fresh(cred)
    assert auth.calls == 0
    assert "fake database down" not in caught.value.message  # a client may see it: log only
    assert await manager.ensure_fresh(cred) == "access-1"


async def test_a_credential_deleted_from_the_store_is_still_refreshed(
    auth: RotatingAuth, store: FakeStore
) -> None:
    manager, cred = process(store, LocalLock())  # never stored: reload says NotFound
    assert await manager.ensure_fresh(cred) == "access-1"


async def test_saving_is_retried(auth: RotatingAuth, store: FakeStore) -> None:
    store.add_credential(expired())
    store.fail_next["save_tokens"] = 2
    manager, cred = process(store, LocalLock())
    await manager.ensure_fresh(cred)
    assert store.tokens[1].refresh_token == "refresh-rotated-1"


async def test_a_failed_refresh_propagates_and_releases_the_lock(
    auth: RotatingAuth, store: FakeStore
) -> None:
    store.add_credential(expired())
    lock = LocalLock()
    manager, cred = process(store, lock)
    auth.valid = "something-else"
    with pytest.raises(InvalidGrant):
        await manager.ensure_fresh(cred)
    assert not lock.held("refresh:1")
    assert cred.disabled  # TokenManager's own handling still applies


async def test_credential_without_id_is_refreshed_without_the_store(
    auth: RotatingAuth, store: FakeStore
) -> None:
    manager, cred = process(store, LocalLock())
    cred.id = None
    assert await manager.ensure_fresh(cred) == "access-1"
    assert store.calls == []


async def test_a_late_rejection_of_a_replaced_token_refreshes_nothing(
    auth: RotatingAuth, store: FakeStore
) -> None:
    # A request sent with access-0 is refused after this process already moved to access-1:
    # passing the refused token as `rejected` keeps it from refreshing a third time.
    store.add_credential(expired())
    lock = LocalLock()
    (one, cred_one), (two, cred_two) = process(store, lock), process(store, lock)
    await one.ensure_fresh(cred_one)
    await two.ensure_fresh(cred_two)  # adopts access-1
    assert await two.ensure_fresh(cred_two, force=True, rejected="access-0") == "access-1"
    assert auth.calls == 1


async def test_a_refresh_fails_at_once_while_the_database_is_away(
    auth: RotatingAuth, store: FakeStore
) -> None:
    store.add_credential(expired())
    manager, cred = process(store, LocalLock())
    coordinator = manager.coordinator
    assert isinstance(coordinator, RefreshCoordinator)
    coordinator.database_up = lambda: False
    with pytest.raises(RefreshFailed, match="database, which is unavailable"):
        await manager.ensure_fresh(cred)
    assert auth.calls == 0 and store.calls_of("reload_tokens") == []
    coordinator.database_up = lambda: True
    assert await manager.ensure_fresh(cred) == "access-1"


class UnreachableLock:
    @asynccontextmanager
    async def hold(
        self, name: str, ttl: float = 30.0, *, wait: float = 60.0
    ) -> AsyncIterator[None]:
        raise LockUnavailable(
            "Redis lock 'kirogate:lock:x': ConnectionError: 10.0.0.7:6379 refused"
        )
        yield


async def test_an_unreachable_lock_fails_the_refresh_without_naming_hosts(
    auth: RotatingAuth, store: FakeStore
) -> None:
    store.add_credential(expired())
    coordinator = RefreshCoordinator(UnreachableLock(), store, clock=clock)
    manager = TokenManager(
        UpstreamSettings(), lambda cred: (None, None), clock=clock, coordinator=coordinator
    )
    with pytest.raises(RefreshFailed, match="lock service is unreachable") as caught:
        await manager.ensure_fresh(expired())
    assert "10.0.0.7" not in str(caught.value)
    assert auth.calls == 0
