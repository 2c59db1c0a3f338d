"""Client keys through the operations door, and the meter that counts against their limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kirogate.caller import CALLER, Caller
from kirogate.cluster.ratelimit import MemoryCounters
from kirogate.errors import InvalidRequest, NotFound
from kirogate.service.keys import (
    METER,
    KeyMeter,
    KeyOperations,
    KeyUsage,
    count_answer_usage,
    seconds_to_next_day,
    seconds_to_next_month,
)
from kirogate.service.operations import Operations
from kirogate.settings import Settings


@pytest.fixture
async def ops(tmp_path: Path) -> AsyncIterator[Operations]:
    async with Operations.open(Settings(data_dir=tmp_path)) as operations:
        yield operations


async def test_every_change_bumps_the_keys_topic(ops: Operations) -> None:
    seen: list[str] = []
    ops.changes.on("keys", lambda: seen.append("keys"))
    await ops.create_group("team-a")
    record, _ = await ops.create_key("alice", limits={"rpm": 2}, group="team-a")
    await ops.update_key(record.id, {"enabled": False, "limits": None})
    await ops.regenerate_key(record.id)
    await ops.revoke_key(record.id)
    assert seen == ["keys"] * 4
    listed = await ops.list_keys()
    assert [item.record.revoked for item in listed] == [True]
    assert (await ops.get_key(record.id)).usage == KeyUsage()
    assert await ops.configured_key_usage() == KeyUsage()


async def test_bad_changes_name_the_field(ops: Operations) -> None:
    record, _ = await ops.create_key("bob")
    with pytest.raises(InvalidRequest) as caught:
        await ops.update_key(record.id, {"enabled": "yes"})
    assert caught.value.param == "enabled"
    with pytest.raises(InvalidRequest) as caught:
        await ops.update_key(record.id, {"owner": "x"})
    assert caught.value.param == "owner"
    with pytest.raises(NotFound):
        await ops.revoke_key(record.id + 1)


def test_windows_end_at_the_next_utc_day_and_month() -> None:
    now = datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)
    assert seconds_to_next_day(now) == 30
    assert seconds_to_next_month(now) == 30
    assert seconds_to_next_month(datetime(2026, 2, 1, tzinfo=UTC)) == 28 * 86_400


async def test_the_meter_counts_requests_tokens_and_answers_in_flight() -> None:
    counters = MemoryCounters()
    meter = KeyMeter(lambda: counters, lambda: None)
    now = datetime.now(UTC)
    assert await meter.take_request(1, 1, now)
    assert not await meter.take_request(1, 1, now)
    await meter.seed(1, KeyUsage(input_tokens_today=5, input_tokens_month=50), now)
    meter.count_answer(1, 3, 2)
    assert await meter.tokens(1, now) == (10, 55)
    await meter.add_tokens(1, 5, now)
    assert await meter.tokens(1, now) == (15, 60)
    assert await meter.acquire(1, 1)
    assert not await meter.acquire(1, 1)
    await meter.release(1)
    assert await meter.acquire(1, 1)


async def test_a_slot_in_flight_is_released_at_once_in_memory() -> None:
    meter = KeyMeter(lambda: None, lambda: None)
    assert await meter.acquire(1, 1)
    meter.release_soon(1)  # no task to wait for: the slot is free on return
    assert await meter.acquire(1, 1)


async def test_the_counters_are_named_by_each_utc_day_and_month() -> None:
    meter = KeyMeter(lambda: None, lambda: None)
    last = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert KeyMeter._names(3, last) == (
        "key:3:req:20261231",
        "key:3:tok:20261231",
        "key:3:tokm:202612",
    )
    assert KeyMeter._names(3, datetime(2027, 1, 1, tzinfo=UTC))[1:] == (
        "key:3:tok:20270101",
        "key:3:tokm:202701",
    )
    assert await meter.take_request(3, 1, last)
    assert await meter.take_request(3, 1, datetime(2027, 1, 1, tzinfo=UTC))  # a new day


async def test_answer_usage_is_counted_for_the_caller_only() -> None:
    meter = KeyMeter(lambda: None, lambda: None)
    count_answer_usage(10, 10)  # no caller: nothing to count
    meter_token, caller_token = METER.set(meter), CALLER.set(Caller(4, "k"))
    try:
        count_answer_usage(10, None)
    finally:
        METER.reset(meter_token)
        CALLER.reset(caller_token)
    assert await meter.tokens(4, datetime.now(UTC)) == (10, 10)


async def test_without_a_store_the_list_is_empty_and_changes_are_404() -> None:
    class Bare(KeyOperations):
        def __init__(self) -> None:
            self._store = lambda: None

    bare = Bare()
    assert await bare.list_keys() == []
    assert await bare.configured_key_usage() == KeyUsage()
    with pytest.raises(NotFound, match="without one"):
        await bare.create_key("x")
