"""The cluster pieces over the real :class:`kirogate.store.Store`: PostgreSQL and SQLite.

Each PostgreSQL test gets a throwaway database; two ``Store`` instances (two engines) stand
for two processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kirogate.cluster import Cluster, SharedPoolState, StoreLock
from kirogate.cluster.coordinator import RefreshCoordinator
from kirogate.errors import InvalidGrant
from kirogate.pool import state as transitions
from kirogate.pool.credential_pool import CredentialPool
from kirogate.pool.state import DisableReason
from kirogate.settings import UpstreamSettings
from kirogate.store import Store
from kirogate.upstream.auth import refresh as refresh_module
from kirogate.upstream.auth.refresh import TokenManager, TokenUpdate
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.cluster.conftest import eventually, throwaway_database

SECRET = "cluster-test-secret-key"


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with throwaway_database("kg") as url:
        yield url


async def open_store(url: str | None, data_dir: Path) -> Store:
    return await Store.open(database_url=url, data_dir=data_dir, secret_key=SECRET)


def social(refresh_token: str, **fields: Any) -> Credential:
    return Credential(AuthMethod.SOCIAL, refresh_token=refresh_token, **fields)


@pytest.fixture
async def two_stores(pg_url: str, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    one = await open_store(pg_url, tmp_path / "one")
    two = await open_store(pg_url, tmp_path / "two")
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def stored_pool(store: Store, state: SharedPoolState) -> CredentialPool:
    return CredentialPool(await store.list_credentials(), state=state)


async def test_counts_from_two_processes_all_reach_postgresql(
    two_stores: tuple[Store, Store],
) -> None:
    one, two = two_stores
    for i in range(2):
        await one.add_credential(social(f"aorAAAAAG-count-{i}-" + "x" * 40))
    states = [
        SharedPoolState(store, sync_interval=0.1, flush_interval=0.02) for store in two_stores
    ]
    pools = [
        await stored_pool(store, state) for store, state in zip(two_stores, states, strict=True)
    ]
    for state in states:
        await state.start()

    async def serve(pool: CredentialPool) -> None:
        for _ in range(150):
            lease = await pool.acquire()
            pool.report_success(lease)
            await lease.release()
            await asyncio.sleep(0)

    await asyncio.gather(*(serve(pool) for pool in pools))
    for state in states:
        await state.close()
    totals = await two.load_states()
    assert sum(state.success_count for state in totals) == 300


async def test_a_disable_is_seen_by_the_other_process_within_a_second(
    two_stores: tuple[Store, Store],
) -> None:
    one, _ = two_stores
    cred, _ = await one.add_credential(social("aorAAAAAG-disable-" + "x" * 40))
    assert cred.id is not None
    states = [SharedPoolState(store) for store in two_stores]
    pools = [
        await stored_pool(store, state) for store, state in zip(two_stores, states, strict=True)
    ]
    for state in states:
        await state.start()
    try:
        pools[0].disable(cred.id, "ops")
        await eventually(lambda: pools[1].state_of(cred.id).disabled, within=1.0)
    finally:
        for state in states:
            await state.close()


class RotatingAuth:
    def __init__(self, refresh_token: str) -> None:
        self.valid = refresh_token
        self.calls = 0

    async def __call__(
        self, session: Any, cred: Credential, settings: Any, **_: Any
    ) -> TokenUpdate:
        self.calls += 1
        await asyncio.sleep(0.05)
        if cred.refresh_token != self.valid:
            raise InvalidGrant("Invalid refresh token provided")
        self.valid = f"aorAAAAAG-rotated-{self.calls}-" + "r" * 40
        return TokenUpdate(
            access_token=f"aoaAAAAAG-access-{self.calls}-" + "a" * 40,
            refresh_token=self.valid,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
            profile_arn=None,
        )


async def test_advisory_lock_refreshes_once_across_two_processes(
    two_stores: tuple[Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    first_token = "aorAAAAAG-refresh-" + "x" * 40
    auth = RotatingAuth(first_token)
    monkeypatch.setattr(refresh_module, "refresh_credential", auth)
    one, _ = two_stores
    await one.add_credential(social(first_token))
    managers = []
    creds = []
    for store in two_stores:
        coordinator = RefreshCoordinator(StoreLock(store), store)
        managers.append(
            TokenManager(UpstreamSettings(), lambda c: (None, None), coordinator=coordinator)
        )
        creds.append((await store.list_credentials())[0])
    tokens = await asyncio.gather(*(managers[i % 2].ensure_fresh(creds[i % 2]) for i in range(20)))
    assert auth.calls == 1
    assert len(set(tokens)) == 1
    assert creds[0].refresh_token == creds[1].refresh_token == auth.valid


async def test_a_restart_loses_nothing(pg_url: str, tmp_path: Path) -> None:
    store = await open_store(pg_url, tmp_path)
    cred, _ = await store.add_credential(social("aorAAAAAG-restart-" + "x" * 40))
    assert cred.id is not None
    state = SharedPoolState(store)
    pool = await stored_pool(store, state)
    await state.start()
    for _ in range(3):
        lease = await pool.acquire()
        pool.report_success(lease)
        await lease.release()
    pool.disable(cred.id, "kept across restarts")
    await state.close()
    await store.close()

    store = await open_store(pg_url, tmp_path)
    state = SharedPoolState(store)
    pool = await stored_pool(store, state)
    await state.start()
    try:
        after = pool.state_of(cred.id)
        assert after.success_count == 3
        assert after.disabled_reason is DisableReason.MANUAL
        assert after.disabled_detail == "kept across restarts"
    finally:
        await state.close()
        await store.close()


async def test_membership_follows_credentials_added_and_deleted_elsewhere(
    two_stores: tuple[Store, Store],
) -> None:
    one, two = two_stores
    kept, _ = await one.add_credential(social("aorAAAAAG-kept-" + "x" * 40))
    cluster = Cluster(two, sync_interval=0.05, flush_interval=0.02, membership_interval=0.1)
    pool = await stored_pool(two, cluster.state)
    await cluster.start(pool)
    try:
        added, _ = await one.add_credential(social("aorAAAAAG-added-" + "x" * 40))
        await eventually(lambda: len(pool) == 2)
        await one.delete_credential(kept.id or 0)
        await eventually(lambda: [c.id for c in pool.credentials()] == [added.id])
    finally:
        await cluster.close()


async def test_sqlite_cluster_keeps_state_across_restarts(tmp_path: Path) -> None:
    store = await open_store(None, tmp_path)
    cred, _ = await store.add_credential(social("aorAAAAAG-sqlite-" + "x" * 40))
    assert cred.id is not None
    cluster = Cluster(store)
    pool = await stored_pool(store, cluster.state)
    await cluster.start(pool)
    pool.disable(cred.id, "sqlite too")
    await cluster.close()
    await store.close()

    store = await open_store(None, tmp_path)
    cluster = Cluster(store)
    pool = await stored_pool(store, cluster.state)
    await cluster.start(pool)
    try:
        assert pool.state_of(cred.id).disabled_detail == "sqlite too"
        assert cluster.describe() == "SQLite: single process"
    finally:
        await cluster.close()
        await store.close()


async def test_cooldowns_round_trip_through_postgresql(two_stores: tuple[Store, Store]) -> None:
    one, two = two_stores
    cred, _ = await one.add_credential(social("aorAAAAAG-cool-" + "x" * 40))
    assert cred.id is not None
    state = SharedPoolState(one)
    pool = await stored_pool(one, state)
    await state.sync()
    until = datetime.now(UTC) + timedelta(minutes=5)
    state.update(
        cred.id,
        lambda s: transitions.with_cooldown(s, until, transitions.CooldownReason.THROTTLED),
    )
    await state.flush()
    (loaded,) = await two.load_states()
    assert loaded.cooldown_until == until
    assert loaded.cooldown_reason is transitions.CooldownReason.THROTTLED
    assert len(pool) == 1
