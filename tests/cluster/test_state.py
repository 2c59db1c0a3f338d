from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from kirogate.cluster.state import SharedPoolState
from kirogate.errors import ConfigError, InvalidRequest
from kirogate.pool import state as transitions
from kirogate.pool.credential_pool import CredentialPool
from kirogate.pool.state import CooldownReason, CredentialState, DisableReason
from tests.cluster.conftest import eventually
from tests.cluster.fakes import FakeStore, credential

NOW = datetime(2026, 5, 14, 12, 0, tzinfo=UTC)
FAST = {"sync_interval": 0.05, "flush_interval": 0.02}


def success(state: CredentialState) -> CredentialState:
    return transitions.with_success(state, NOW)


def failure(state: CredentialState) -> CredentialState:
    return transitions.with_failure(state, NOW, "boom", consecutive=True)


@pytest.fixture
async def started(store: FakeStore) -> AsyncIterator[SharedPoolState]:
    store.add_row(CredentialState(id=1))
    state = SharedPoolState(store, **FAST)
    await state.start()
    state.ensure(CredentialState(id=1))
    yield state
    await state.close()


async def test_update_is_applied_locally_at_once_and_written_behind(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    state = SharedPoolState(store)
    await state.sync()
    state.ensure(CredentialState(id=1))
    assert state.update(1, success).success_count == 1
    assert store.rows[1].success_count == 0
    await state.flush()
    assert store.calls_of("apply_state") == [(1, {"last_used": NOW}, {"success_count": 1})]
    assert store.rows[1].success_count == 1


async def test_an_update_that_changes_nothing_leaves_nothing_to_write(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    state = SharedPoolState(store)
    await state.sync()
    kept = state.ensure(CredentialState(id=1))
    assert state.update(1, lambda s: s) is kept  # the same record
    assert state.update(1, lambda s: transitions.evolve(s)) is kept  # an equal copy
    assert state.pending_count() == 0
    assert state.update(1, success) is not kept
    assert state.pending_count() == 1


async def test_writes_per_credential_are_coalesced(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    store.add_row(CredentialState(id=2))
    state = SharedPoolState(store)
    await state.sync()
    for cid in (1, 2):
        state.ensure(CredentialState(id=cid))
    for _ in range(20):
        state.update(1, success)
    state.update(2, failure)
    state.update(2, failure)
    await state.flush()
    writes = store.calls_of("apply_state")
    assert len(writes) == 2
    assert writes[0] == (1, {"last_used": NOW}, {"success_count": 20})
    assert writes[1][2] == {"error_count": 2, "failure_count": 2}


async def test_a_reset_counter_is_written_as_a_set(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1, failure_count=2))
    state = SharedPoolState(store)
    await state.sync()
    state.ensure(CredentialState(id=1))
    state.update(1, success)
    await state.flush()
    _, sets, increments = store.calls_of("apply_state")[0]
    assert sets["failure_count"] == 0
    assert increments == {"success_count": 1}
    assert store.rows[1].failure_count == 0


async def test_two_processes_lose_no_counts(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    store.delay = 0.001
    one, two = SharedPoolState(store, **FAST), SharedPoolState(store, **FAST)
    for state in (one, two):
        await state.start()
        state.ensure(CredentialState(id=1))

    async def hammer(state: SharedPoolState) -> None:
        for _ in range(200):
            state.update(1, success)
            state.update(1, failure)
            await asyncio.sleep(0)

    await asyncio.gather(hammer(one), hammer(two))
    await one.close()
    await two.close()
    assert store.rows[1].success_count == 400
    assert store.rows[1].error_count == 400


async def test_a_disable_in_one_process_is_seen_by_another_within_a_second(
    store: FakeStore,
) -> None:
    store.add_row(CredentialState(id=1))
    one, two = SharedPoolState(store), SharedPoolState(store)  # default intervals
    for state in (one, two):
        await state.start()
        state.ensure(CredentialState(id=1))
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        one.update(1, lambda s: transitions.with_disabled(s, DisableReason.MANUAL, "ops"))
        await eventually(lambda: two.get(1).disabled, within=1.0)
        assert loop.time() - started < 1.0
    finally:
        await one.close()
        await two.close()


async def test_a_resync_keeps_unwritten_local_changes_on_top(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1, success_count=10))
    state = SharedPoolState(store)
    await state.sync()
    state.ensure(CredentialState(id=1))
    store.fail_next["apply_state"] = 1
    state.update(1, success)
    store.rows[1] = CredentialState(id=1, success_count=15)  # another process's work
    with pytest.raises(ConnectionError):
        await state.sync()
    assert state.get(1).success_count == 11  # still pending, still visible
    await state.sync()
    assert store.rows[1].success_count == 16
    assert state.get(1).success_count == 16


async def test_changes_made_while_loading_are_reapplied(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1, success_count=5))
    state = SharedPoolState(store)
    await state.sync()
    state.ensure(CredentialState(id=1))
    store.delay = 0.05
    syncing = asyncio.create_task(state.sync())
    await asyncio.sleep(0.01)
    state.update(1, success)  # lands while the flush/load is in progress
    await syncing
    assert state.get(1).success_count == 6
    store.delay = 0
    await state.flush()
    assert store.rows[1].success_count == 6


async def test_database_errors_are_retried_and_logged_once(
    store: FakeStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.add_row(CredentialState(id=1))
    state = SharedPoolState(store, **FAST)
    await state.start()
    state.ensure(CredentialState(id=1))
    store.fail_next["apply_state"] = 4
    caplog.set_level(logging.WARNING, logger="kirogate.cluster.state")
    for _ in range(3):
        state.update(1, success)  # never raises into the request path
    await eventually(lambda: store.rows[1].success_count == 3, within=5.0)
    await state.close()
    failures = [r for r in caplog.records if "failed, will retry" in r.getMessage()]
    assert len(failures) == 1
    assert "ConnectionError" in failures[0].getMessage()
    assert any("working again" in r.getMessage() for r in caplog.records)


async def test_a_failed_first_load_is_retried_by_the_loop(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1, disabled_reason=DisableReason.MANUAL))
    store.fail_next["load_states"] = 2
    state = SharedPoolState(store, **FAST)
    state.ensure(CredentialState(id=1))
    await state.start()  # does not raise
    assert not state.loaded
    await eventually(lambda: state.loaded)
    assert state.get(1).disabled
    await state.close()


async def test_a_restart_keeps_what_the_database_holds(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    first = SharedPoolState(store)
    pool = CredentialPool([credential(1)], state=first)
    await first.start()
    pool.disable(1, "ops said so")
    await first.close()
    # A new process builds its pool (ensure) before the state is loaded.
    second = SharedPoolState(store)
    again = CredentialPool([credential(1)], state=second)
    await second.start()
    assert again.state_of(1).disabled_reason is DisableReason.MANUAL
    assert again.state_of(1).disabled_detail == "ops said so"
    await second.close()


async def test_ensure_of_a_credential_the_database_lacks_writes_its_state(
    store: FakeStore,
) -> None:
    state = SharedPoolState(store)
    state.ensure(CredentialState(id=7, priority=3))
    await state.sync()
    store.add_row(CredentialState(id=7))  # the row appears later
    await state.flush()
    assert store.rows[7].priority == 3


async def test_ensure_after_loading_queues_non_default_fields(store: FakeStore) -> None:
    state = SharedPoolState(store)
    await state.sync()
    store.add_row(CredentialState(id=3, success_count=9))
    assert state.ensure(CredentialState(id=3, priority=2)).priority == 2
    await state.sync()
    assert (store.rows[3].priority, state.get(3).success_count) == (2, 9)


async def test_all_lists_only_the_pools_credentials(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    store.add_row(CredentialState(id=2, disabled_reason=DisableReason.TOO_MANY_FAILURES))
    state = SharedPoolState(store)
    await state.sync()
    state.ensure(CredentialState(id=1))
    assert [s.id for s in state.all()] == [1]
    assert state.heal() == []  # record 2 is not the pool's
    state.remove(1)
    assert state.all() == []
    with pytest.raises(KeyError):
        state.update(1, success)


async def test_removed_credentials_drop_their_pending_writes(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    state = SharedPoolState(store)
    await state.sync()
    state.ensure(CredentialState(id=1))
    state.update(1, success)
    state.remove(1)
    await state.flush()
    assert store.calls_of("apply_state") == []


async def test_close_writes_everything_pending(started: SharedPoolState, store: FakeStore) -> None:
    for _ in range(3):
        started.update(1, success)
    await started.close()
    assert store.rows[1].success_count == 3
    assert started.pending_count() == 0


async def test_availability_changes_are_announced(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    store.add_row(CredentialState(id=2))
    announced: list[list[int]] = []

    async def on_change(ids: list[int]) -> None:
        announced.append(ids)

    state = SharedPoolState(store, on_change=on_change)
    await state.sync()
    for cid in (1, 2):
        state.ensure(CredentialState(id=cid))
    state.update(1, success)
    await state.flush()
    assert announced == []
    state.update(2, lambda s: transitions.with_disabled(s, DisableReason.MANUAL, None))
    state.update(1, success)
    await state.flush()
    assert announced == [[2]]


async def test_a_pool_over_shared_state_counts_into_the_database(store: FakeStore) -> None:
    for cid in (1, 2):
        store.add_row(CredentialState(id=cid))
    state = SharedPoolState(store, **FAST)
    pool = CredentialPool([credential(1), credential(2)], state=state)
    await state.start()
    for _ in range(4):
        lease = await pool.acquire()
        pool.report_success(lease)
        await lease.release()
    await state.close()
    assert sum(row.success_count for row in store.rows.values()) == 4


async def test_request_sync_wakes_the_loop(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    state = SharedPoolState(store, sync_interval=60, flush_interval=0.02)
    await state.start()
    state.ensure(CredentialState(id=1))
    store.rows[1] = CredentialState(id=1, disabled_reason=DisableReason.MANUAL)
    state.request_sync()
    await eventually(lambda: state.get(1).disabled, within=1.0)
    await state.close()


async def test_sync_hooks_run_after_periodic_syncs(store: FakeStore) -> None:
    ran: list[int] = []

    async def hook() -> None:
        ran.append(1)
        raise RuntimeError("a failing hook does not stop syncing")

    state = SharedPoolState(store, **FAST)
    state.add_sync_hook(hook)
    await state.start()
    await eventually(lambda: len(ran) >= 2)
    await state.close()


def test_intervals_must_be_positive(store: FakeStore) -> None:
    with pytest.raises(ConfigError, match="positive"):
        SharedPoolState(store, sync_interval=0)


class RefusingStore(FakeStore):
    """Refuses a weight of 0 the way the real store validates values."""

    async def apply_state(self, credential_id: int, sets: Any, increments: Any) -> None:
        if sets.get("weight") == 0:
            raise InvalidRequest("weight: must be a positive number, got 0", param="weight")
        await super().apply_state(credential_id, sets, increments)


async def test_a_refused_change_is_dropped_and_does_not_block_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = RefusingStore()
    for cid in (1, 2):
        store.add_row(CredentialState(id=cid))
    state = SharedPoolState(store)
    await state.sync()
    for cid in (1, 2):
        state.ensure(CredentialState(id=cid))
    state.update(1, lambda s: transitions.with_weight(s, 0))
    state.update(2, success)
    await state.flush()
    assert store.rows[2].success_count == 1
    assert state.pending_count() == 0
    assert "credential #1 refused" in caplog.text


async def test_a_change_for_a_removed_credential_is_not_retried(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    state = SharedPoolState(store)
    await state.sync()
    state.ensure(CredentialState(id=1))
    state.update(1, success)
    store.delay = 0.05
    store.fail_next["apply_state"] = 1
    flushing = asyncio.create_task(state.flush())
    await asyncio.sleep(0.01)
    state.remove(1)
    with pytest.raises(ConnectionError):
        await flushing
    assert state.pending_count() == 0


async def test_counters_wait_longer_than_availability_changes(store: FakeStore) -> None:
    store.add_row(CredentialState(id=1))
    store.add_row(CredentialState(id=2))
    state = SharedPoolState(store, sync_interval=60, flush_interval=0.02, counter_interval=60)
    await state.start()
    for cid in (1, 2):
        state.ensure(CredentialState(id=cid))
    state.update(1, success)
    await asyncio.sleep(0.2)
    assert store.calls_of("apply_state") == []  # a success only moves counters
    state.update(2, failure)
    state.update(2, lambda s: transitions.with_cooldown(s, NOW, CooldownReason.THROTTLED))
    await eventually(lambda: store.rows[2].cooldown_until is not None, within=1.0)
    assert store.rows[1].success_count == 1  # written together with the cooldown
    await state.close()


def test_counter_interval_is_at_least_the_flush_interval(store: FakeStore) -> None:
    with pytest.raises(ConfigError, match="counter interval"):
        SharedPoolState(store, flush_interval=1.0, counter_interval=0.5)
