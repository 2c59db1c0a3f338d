from __future__ import annotations

from collections import Counter

import pytest

from kirogate.errors import InvalidRequest, NoCredentialAvailable
from kirogate.pool import PoolMode
from tests.pool.fakes import FakeTime, credential, make_pool, pick


async def test_priority_mode_picks_lowest_priority_number(clock: FakeTime) -> None:
    pool = make_pool([credential(1, priority=2), credential(2, priority=0)], clock)
    assert await pick(pool) == 2


async def test_priority_mode_ties_go_to_pool_order(clock: FakeTime) -> None:
    pool = make_pool([credential(3), credential(1), credential(2)], clock)
    assert await pick(pool) == 3


async def test_priority_mode_stays_on_current_while_healthy(clock: FakeTime) -> None:
    pool = make_pool([credential(1, priority=0), credential(2, priority=1)], clock)
    pool.disable(1)
    assert await pick(pool) == 2
    pool.enable(1)
    assert [await pick(pool) for _ in range(3)] == [2, 2, 2]


async def test_priority_mode_moves_on_when_current_cools_down(clock: FakeTime) -> None:
    pool = make_pool([credential(1), credential(2)], clock)
    assert await pick(pool) == 1
    pool.mark_exhausted(1)
    assert await pick(pool) == 2
    assert pool.current_id == 2


async def test_priority_mode_keeps_current_when_only_excluded(clock: FakeTime) -> None:
    pool = make_pool([credential(1), credential(2)], clock)
    assert await pick(pool) == 1
    assert await pick(pool, exclude={1}) == 2
    assert pool.current_id == 1


async def test_balanced_mode_prefers_fewest_successes(clock: FakeTime) -> None:
    pool = make_pool(3, clock, mode="balanced")
    for _ in range(2):
        lease = await pool.acquire(exclude={3})
        pool.report_success(lease)
        await lease.release()
    assert await pick(pool) == 3


async def test_balanced_mode_spreads_sequential_requests(clock: FakeTime) -> None:
    pool = make_pool(3, clock, mode="balanced")
    picked = []
    for _ in range(6):
        picked.append(await pick(pool))
        clock.advance(1)
    assert picked == [1, 2, 3, 1, 2, 3]


async def test_balanced_mode_breaks_ties_by_least_recently_used(clock: FakeTime) -> None:
    pool = make_pool(3, clock, mode="balanced")
    for cid in (3, 1, 2):  # used in this order, none succeeded
        await pick(pool, succeed=False, exclude={1, 2, 3} - {cid})
        clock.advance(1)
    assert await pick(pool) == 3


async def test_balanced_mode_counts_requests_in_flight(clock: FakeTime) -> None:
    pool = make_pool(2, clock, mode="balanced")
    held = await pool.acquire()
    assert await pick(pool) == 2
    await held.release()


async def test_round_robin_mode_cycles_in_pool_order(clock: FakeTime) -> None:
    pool = make_pool(
        [credential(1, priority=5), credential(2), credential(3)], clock, mode="round_robin"
    )
    assert [await pick(pool) for _ in range(7)] == [1, 2, 3, 1, 2, 3, 1]


async def test_round_robin_mode_skips_unusable_credentials(clock: FakeTime) -> None:
    pool = make_pool(3, clock, mode="round_robin")
    pool.disable(2)
    assert [await pick(pool) for _ in range(4)] == [1, 3, 1, 3]


async def test_random_mode_is_reproducible_with_a_seed(clock: FakeTime) -> None:
    first = make_pool(4, clock, mode="random", seed=11)
    second = make_pool(4, clock, mode="random", seed=11)
    picks = [await pick(first) for _ in range(12)]
    assert picks == [await pick(second) for _ in range(12)]
    assert set(picks) == {1, 2, 3, 4}


async def test_weighted_mode_follows_weights(clock: FakeTime) -> None:
    pool = make_pool(2, clock, mode="weighted")
    pool.set_weight(1, 3.0)
    counts = Counter([await pick(pool) for _ in range(400)])
    assert 250 < counts[1] < 350


async def test_weighted_mode_never_picks_zero_weight_while_others_are_usable(
    clock: FakeTime,
) -> None:
    pool = make_pool(2, clock, mode="weighted")
    pool.set_weight(2, 0.0)
    assert {await pick(pool) for _ in range(50)} == {1}


async def test_weighted_mode_scales_by_remaining_quota(clock: FakeTime) -> None:
    pool = make_pool(2, clock, mode="weighted")
    pool.note_usage(1, remaining=10, limit=100)
    counts = Counter([await pick(pool) for _ in range(440)])
    assert counts[2] > 3 * counts[1]


async def test_set_mode_switches_selection_at_runtime(clock: FakeTime) -> None:
    pool = make_pool(3, clock)
    assert [await pick(pool) for _ in range(2)] == [1, 1]
    pool.set_mode("round_robin")
    assert pool.mode is PoolMode.ROUND_ROBIN
    assert [await pick(pool) for _ in range(3)] == [2, 3, 1]


def test_set_mode_rejects_an_unknown_mode(clock: FakeTime) -> None:
    pool = make_pool(1, clock)
    with pytest.raises(InvalidRequest, match="round_robin"):
        pool.set_mode("fastest")


def test_pool_mode_parse_accepts_dashes_and_case() -> None:
    assert PoolMode.parse("Round-Robin") is PoolMode.ROUND_ROBIN


async def test_opus_is_not_selected_on_free_tier(clock: FakeTime) -> None:
    creds = [
        credential(1, subscription_title="KIRO FREE"),
        credential(2, subscription_title="KIRO PRO+"),
    ]
    pool = make_pool(creds, clock)
    assert await pick(pool, model="claude-opus-4.6") == 2


async def test_free_tier_still_serves_other_models(clock: FakeTime) -> None:
    creds = [
        credential(1, subscription_title="KIRO FREE"),
        credential(2, subscription_title="KIRO PRO+"),
    ]
    pool = make_pool(creds, clock)
    assert await pick(pool, model="claude-sonnet-4.5") == 1


async def test_opus_is_allowed_when_the_tier_is_unknown(clock: FakeTime) -> None:
    pool = make_pool([credential(1)], clock)
    assert await pick(pool, model="CLAUDE-OPUS-4-6") == 1


async def test_opus_on_free_tier_only_pool_names_the_reason(clock: FakeTime) -> None:
    pool = make_pool([credential(1, subscription_title="KIRO FREE")], clock)
    with pytest.raises(
        NoCredentialAvailable, match=r"not allowed to use claude-opus-4.6 \(FREE tier\)"
    ):
        await pool.acquire(model="claude-opus-4.6")


async def test_priority_mode_serves_opus_elsewhere_without_moving_current(clock: FakeTime) -> None:
    creds = [
        credential(1, subscription_title="KIRO FREE"),
        credential(2, subscription_title="KIRO PRO"),
    ]
    pool = make_pool(creds, clock)
    assert await pick(pool) == 1
    assert await pick(pool, model="claude-opus-4.6") == 2
    assert await pick(pool) == 1


def test_make_candidate_fills_the_same_frozen_record_as_the_dataclass() -> None:
    import dataclasses

    from kirogate.pool.policy import Candidate, make_candidate
    from kirogate.pool.state import CredentialState

    made = make_candidate(credential(3), CredentialState(id=3, priority=2), 1, 4)
    assert made == Candidate(credential(3), CredentialState(id=3, priority=2), 1, 4)
    assert made.id == 3 and made.in_flight == 4
    assert make_candidate(credential(3), made.state, 1).in_flight == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.position = 2  # type: ignore[misc]
