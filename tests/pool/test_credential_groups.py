"""Credential groups in the pool: a request whose caller is bound to a group is served by the
group's credentials only, in every mode, through failover, and gets GroupUnavailable when none
of them can serve it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from kirogate.caller import CALLER, Caller
from kirogate.errors import GroupUnavailable, NoCredentialAvailable, UpstreamUnavailable
from kirogate.pool import AttemptContext, DisableReason, PoolMode, run_with_failover
from kirogate.upstream.credentials import Credential
from tests.pool.fakes import FakeTime, make_pool, pick

SERVER = UpstreamUnavailable("boom", upstream_status=500)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def team() -> Iterator[None]:
    """The request's caller is a key bound to group ``team`` (credentials 2 and 3)."""
    token = CALLER.set(Caller(key_id=7, key_name="team key", group="team"))
    yield
    CALLER.reset(token)


def grouped(time: FakeTime, count: int = 4, **settings: object):  # type: ignore[no-untyped-def]
    pool = make_pool(count, time, **settings)
    pool.set_groups({"team": [2, 3], "empty": [], "ghost": [99]})
    return pool


@pytest.mark.parametrize("mode", list(PoolMode))
async def test_a_group_bound_request_uses_only_the_groups_credentials_in_every_mode(
    time: FakeTime, team: None, mode: PoolMode
) -> None:
    pool = grouped(time, mode=mode.value)
    picked = {await pick(pool) for _ in range(40)}
    assert picked <= {2, 3}
    if mode in (PoolMode.ROUND_ROBIN, PoolMode.BALANCED):
        assert picked == {2, 3}


async def test_a_request_without_a_group_uses_the_whole_pool(time: FakeTime) -> None:
    pool = grouped(time, mode="round_robin")
    assert [await pick(pool) for _ in range(4)] == [1, 2, 3, 4]
    token = CALLER.set(Caller(key_id=None))  # a key bound to no group
    try:
        assert [await pick(pool) for _ in range(4)] == [1, 2, 3, 4]
    finally:
        CALLER.reset(token)


async def test_priority_mode_keeps_a_current_credential_per_group(
    time: FakeTime, team: None
) -> None:
    pool = grouped(time, mode="priority")
    assert await pick(pool) == 2
    assert pool.current_id is None  # the pool's own current credential is left alone
    token = CALLER.set(None)
    try:
        assert await pick(pool) == 1
    finally:
        CALLER.reset(token)
    assert pool.current_id == 1
    pool.disable(2)
    assert await pick(pool) == 3
    assert await pick(pool) == 3
    assert pool.current_id == 1


async def test_round_robin_turns_apart_for_each_group(time: FakeTime) -> None:
    pool = grouped(time, mode="round_robin")
    order = []
    for group in ("team", None, "team", None, "team"):
        token = CALLER.set(Caller(key_id=1, group=group))
        try:
            order.append(await pick(pool))
        finally:
            CALLER.reset(token)
    assert order == [2, 1, 3, 2, 2]


async def test_every_group_credential_disabled_is_group_unavailable_not_another_credential(
    time: FakeTime, team: None
) -> None:
    pool = grouped(time)
    pool.disable(2)
    pool.disable(3)
    with pytest.raises(GroupUnavailable) as caught:
        await pool.acquire()
    error = caught.value
    assert error.status == 503
    assert error.group == "team"
    assert "credential group 'team' has no usable credential" in error.message
    assert "2 disabled" in error.message
    assert error.retry_after is None


async def test_an_unknown_or_empty_group_is_group_unavailable(time: FakeTime) -> None:
    pool = grouped(time)
    for group, why in (("nope", "no such group"), ("empty", "no member"), ("ghost", "no member")):
        token = CALLER.set(Caller(key_id=1, group=group))
        try:
            with pytest.raises(GroupUnavailable, match=why):
                await pool.acquire()
        finally:
            CALLER.reset(token)


async def test_cooling_group_credentials_give_a_retry_hint(time: FakeTime, team: None) -> None:
    pool = grouped(time)
    for cid in (2, 3):
        pool.mark_exhausted(cid, until=time.now + timedelta(seconds=30))
    with pytest.raises(GroupUnavailable) as caught:
        await pool.acquire()
    assert caught.value.retry_after == pytest.approx(30)
    assert pool.seconds_until_usable() == pytest.approx(30)


async def test_self_healing_of_a_group_heals_its_members_only(time: FakeTime, team: None) -> None:
    pool = grouped(time)
    for cid in (1, 2, 3):
        pool.disable(cid, reason=DisableReason.TOO_MANY_FAILURES)
    assert await pick(pool) in {2, 3}
    assert pool.state_of(1).disabled
    assert not pool.state_of(2).disabled and not pool.state_of(3).disabled


async def test_failover_stays_inside_the_group(time: FakeTime, team: None) -> None:
    pool = grouped(time, max_attempts=10, attempts_per_credential=1)
    tried: list[int] = []

    async def attempt(credential: Credential, context: AttemptContext) -> str:
        assert credential.id is not None
        tried.append(credential.id)
        raise SERVER

    async def refresh(credential: Credential) -> None:
        return None

    async def no_sleep(delay: float) -> None:
        return None

    with pytest.raises(UpstreamUnavailable):
        await run_with_failover(pool, attempt, force_refresh=refresh, sleep=no_sleep)
    assert set(tried) == {2, 3}


async def test_groups_are_replaced_whole(time: FakeTime, team: None) -> None:
    pool = grouped(time)
    pool.set_groups({"team": [4]})
    assert pool.groups() == {"team": frozenset({4})}
    assert {await pick(pool) for _ in range(5)} == {4}


async def test_a_group_unavailable_is_a_no_credential_available(time: FakeTime) -> None:
    # The failover loop and the renderers treat it as any other "nothing usable".
    assert issubclass(GroupUnavailable, NoCredentialAvailable)
    assert GroupUnavailable("x", group="g").openai_code == "credential_group_unavailable"


async def test_a_removed_credential_leaves_its_groups(time: FakeTime, team: None) -> None:
    pool = grouped(time)
    pool.remove(3)
    assert pool.groups()["team"] == frozenset({2})
    pool.add(make_pool(3, time).get(3))  # a new credential given the same number
    assert {await pick(pool) for _ in range(5)} == {2}
