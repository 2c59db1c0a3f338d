from __future__ import annotations

import asyncio

import pytest

from kirogate.errors import NoCredentialAvailable
from kirogate.pool import Availability, Lease
from tests.pool.fakes import FakeTime, make_pool


async def test_concurrency_is_unlimited_by_default(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    leases = [await pool.acquire() for _ in range(20)]
    assert pool.snapshot()[0].in_flight == 20
    for lease in leases:
        await lease.release()


async def test_busy_credential_is_passed_over_for_a_free_one(clock: FakeTime) -> None:
    pool = make_pool(2, clock, max_concurrency_per_credential=1)
    first = await pool.acquire()
    second = await pool.acquire()
    assert (first.id, second.id) == (1, 2)
    assert pool.current_id == 1  # priority mode stays on its busy current credential
    await first.release()
    await second.release()


async def test_all_busy_waits_in_the_queue_for_a_release(clock: FakeTime) -> None:
    pool = make_pool(1, clock, max_concurrency_per_credential=1, queue_timeout=5.0)
    held = await pool.acquire()
    acquired: list[Lease] = []

    async def waiter() -> None:
        acquired.append(await pool.acquire())

    async with asyncio.TaskGroup() as group:
        group.create_task(waiter())
        await asyncio.sleep(0.01)
        assert acquired == []
        await held.release()
    assert acquired[0].id == 1
    await acquired[0].release()


async def test_all_busy_times_out_with_no_credential_available(clock: FakeTime) -> None:
    pool = make_pool(2, clock, max_concurrency_per_credential=1, queue_timeout=0.05)
    held = [await pool.acquire(), await pool.acquire()]
    with pytest.raises(NoCredentialAvailable, match=r"2 busy \(limit: 1 at once\)"):
        await pool.acquire()
    for lease in held:
        await lease.release()


async def test_zero_queue_timeout_fails_at_once_when_all_are_busy(clock: FakeTime) -> None:
    pool = make_pool(1, clock, max_concurrency_per_credential=2, queue_timeout=0)
    held = [await pool.acquire(), await pool.acquire()]
    with pytest.raises(NoCredentialAvailable, match="busy"):
        await pool.acquire()
    for lease in held:
        await lease.release()


async def test_release_is_idempotent(clock: FakeTime) -> None:
    pool = make_pool(1, clock, max_concurrency_per_credential=1)
    other = await pool.acquire()
    await other.release()
    lease = await pool.acquire()
    await lease.release()
    await other.release()
    assert pool.snapshot()[0].in_flight == 0


async def test_snapshot_shows_a_full_credential_as_busy(clock: FakeTime) -> None:
    pool = make_pool(1, clock, max_concurrency_per_credential=1)
    async with await pool.acquire():
        assert pool.snapshot()[0].state is Availability.BUSY
    assert pool.snapshot()[0].state is Availability.READY
