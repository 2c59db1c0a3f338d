import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from kirogate.errors import InvalidRequest
from kirogate.pool.state import CooldownReason, CredentialState, DisableReason
from tests.store.factories import social

WHEN = datetime(2030, 5, 6, 7, 8, 9, 123456, UTC)


async def add(store, tag="s", **fields):
    cred, _ = await store.add_credential(social(tag, **fields))
    return cred.id


async def test_never_touched_state_has_the_defaults(store):
    cred_id = await add(store, priority=2)
    assert await store.load_states() == [CredentialState(id=cred_id, priority=2)]


async def test_sets_every_field_and_reads_it_back(store):
    cred_id = await add(store)
    sets = {
        "priority": 5,
        "weight": 0.5,
        "disabled_reason": DisableReason.TOO_MANY_FAILURES,
        "disabled_detail": "3 failures in a row",
        "cooldown_until": WHEN,
        "cooldown_reason": "quota_exceeded",
        "failure_count": 3,
        "throttle_count": 1,
        "success_count": 10,
        "error_count": 4,
        "last_used": WHEN - timedelta(minutes=1),
        "last_error": "502 from upstream",
        "last_error_at": WHEN - timedelta(seconds=5),
        "remaining_share": 0.25,
    }
    await store.apply_state(cred_id, sets, {})
    (state,) = await store.load_states()
    assert state == CredentialState(
        id=cred_id,
        priority=5,
        weight=0.5,
        disabled_reason=DisableReason.TOO_MANY_FAILURES,
        disabled_detail="3 failures in a row",
        cooldown_until=WHEN,
        cooldown_reason=CooldownReason.QUOTA_EXCEEDED,
        failure_count=3,
        throttle_count=1,
        success_count=10,
        error_count=4,
        last_used=WHEN - timedelta(minutes=1),
        last_error="502 from upstream",
        last_error_at=WHEN - timedelta(seconds=5),
        remaining_share=0.25,
    )
    assert state.cooldown_until.tzinfo is not None


async def test_none_clears_fields(store):
    cred_id = await add(store)
    await store.apply_state(cred_id, {"cooldown_until": WHEN, "cooldown_reason": "throttled"}, {})
    await store.apply_state(cred_id, {"cooldown_until": None, "cooldown_reason": None}, {})
    (state,) = await store.load_states()
    assert (state.cooldown_until, state.cooldown_reason) == (None, None)


async def test_datetimes_in_other_zones_come_back_as_utc(store):
    cred_id = await add(store)
    local = datetime(2030, 1, 1, 9, tzinfo=timezone(timedelta(hours=9)))
    await store.apply_state(cred_id, {"last_used": local}, {})
    (state,) = await store.load_states()
    assert state.last_used == local
    assert state.last_used.utcoffset() == timedelta(0)


async def test_increments_add_to_the_stored_counters(store):
    cred_id = await add(store)
    await store.apply_state(cred_id, {}, {"success_count": 2, "error_count": 1})
    await store.apply_state(cred_id, {"last_error": "x"}, {"success_count": 3})
    (state,) = await store.load_states()
    assert (state.success_count, state.error_count, state.last_error) == (5, 1, "x")


async def test_set_and_increment_of_one_counter_is_set_plus_delta(store):
    cred_id = await add(store)
    await store.apply_state(cred_id, {}, {"failure_count": 4})
    await store.apply_state(cred_id, {"failure_count": 0}, {"failure_count": 1})
    (state,) = await store.load_states()
    assert state.failure_count == 1


async def test_concurrent_increments_lose_nothing(store):
    cred_id = await add(store)

    async def hit():
        await store.apply_state(cred_id, {"last_used": WHEN}, {"success_count": 1})

    await asyncio.gather(*(hit() for _ in range(60)))
    (state,) = await store.load_states()
    assert state.success_count == 60


async def test_increments_from_several_processes_lose_nothing(store, open_store):
    others = [await open_store() for _ in range(2)]
    cred_id = await add(store)
    stores = [store, *others]

    async def worker(s, n):
        for _ in range(n):
            await s.apply_state(cred_id, {}, {"success_count": 1, "error_count": 2})

    await asyncio.gather(*(worker(s, 15) for s in stores for _ in range(3)))
    (state,) = await others[0].load_states()
    assert (state.success_count, state.error_count) == (135, 270)


async def test_missing_credential_is_ignored(store):
    await store.apply_state(9999, {"last_error": "gone"}, {"success_count": 1})
    assert await store.load_states() == []


async def test_empty_change_does_nothing(store):
    cred_id = await add(store)
    await store.apply_state(cred_id, {}, {"success_count": 0})
    assert (await store.load_states())[0].success_count == 0


@pytest.mark.parametrize(
    ("sets", "increments", "message"),
    [
        ({"id": 3}, {}, "unknown state field 'id'"),
        ({"disabled_reason": "bored"}, {}, "'bored' is not one of manual"),
        ({"cooldown_reason": "nap"}, {}, "is not one of throttled"),
        ({"cooldown_until": datetime(2030, 1, 1)}, {}, "timezone-aware"),
        ({"failure_count": -1}, {}, "non-negative integer"),
        ({"weight": -1}, {}, "zero or more"),
        ({"remaining_share": float("inf")}, {}, "finite number"),
        ({}, {"last_used": 1}, "'last_used' is not a counter"),
        ({}, {"success_count": 1.5}, "must be an integer"),
    ],
)
async def test_bad_changes_are_refused_before_touching_the_row(store, sets, increments, message):
    cred_id = await add(store)
    with pytest.raises(InvalidRequest, match=message):
        await store.apply_state(cred_id, sets, increments)
    assert (await store.load_states())[0] == CredentialState(id=cred_id)


async def test_unknown_stored_reason_loads_as_manual(store):
    import sqlalchemy as sa

    cred_id = await add(store)
    async with store.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE credentials SET disabled_reason = 'future_reason'"))
    (state,) = await store.load_states()
    assert (state.id, state.disabled_reason) == (cred_id, DisableReason.MANUAL)
