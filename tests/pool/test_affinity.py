from __future__ import annotations

from kirogate.errors import QuotaExhausted, UpstreamThrottled
from kirogate.pool import AffinitySettings, SessionAffinity
from tests.pool.fakes import FakeTime, make_pool, pick


async def test_same_session_gets_the_same_credential(clock: FakeTime) -> None:
    pool = make_pool(4, clock, mode="random")
    first = await pick(pool, session_id="conv-a")
    assert {await pick(pool, session_id="conv-a") for _ in range(10)} == {first}


async def test_different_sessions_follow_the_mode(clock: FakeTime) -> None:
    pool = make_pool(3, clock, mode="round_robin")
    assert [await pick(pool, session_id=f"conv-{n}") for n in range(3)] == [1, 2, 3]
    assert await pick(pool, session_id="conv-1") == 2


async def test_session_uses_a_backup_while_its_primary_cools_down(clock: FakeTime) -> None:
    pool = make_pool(3, clock, mode="round_robin")
    lease = await pool.acquire(session_id="conv-a")
    pool.report_failure(lease, UpstreamThrottled("slow down", retry_after=60.0))
    await lease.release()
    backup = await pick(pool, session_id="conv-a")
    assert backup != 1
    assert pool.affinity.preferred("conv-a") == [1, backup]
    assert await pick(pool, session_id="conv-a") == backup


async def test_session_returns_to_its_primary_after_the_cooldown(clock: FakeTime) -> None:
    pool = make_pool(3, clock, mode="round_robin")
    lease = await pool.acquire(session_id="conv-a")
    pool.report_failure(lease, UpstreamThrottled("slow down", retry_after=60.0))
    await lease.release()
    await pick(pool, session_id="conv-a")
    clock.advance(61)
    assert await pick(pool, session_id="conv-a") == 1


async def test_session_binding_expires_after_its_ttl(clock: FakeTime) -> None:
    pool = make_pool(3, clock, mode="round_robin", affinity=AffinitySettings(ttl=1800))
    assert await pick(pool, session_id="conv-a") == 1
    clock.advance(1799)
    assert await pick(pool, session_id="conv-a") == 1  # seen again: TTL restarts
    clock.advance(1800)
    assert pool.affinity.preferred("conv-a") == []
    assert await pick(pool, session_id="conv-a") == 2


async def test_session_binds_at_most_max_size_credentials(clock: FakeTime) -> None:
    pool = make_pool(4, clock, mode="round_robin", affinity=AffinitySettings(max_size=2))
    quota = QuotaExhausted("quota", upstream_status=402)
    for _ in range(3):
        lease = await pool.acquire(session_id="conv-a")
        pool.report_failure(lease, quota)
        await lease.release()
    bound = pool.affinity.preferred("conv-a")
    assert len(bound) == 2
    assert bound == [1, 3]  # the newest backup made room for the next one


def test_sessions_are_bounded_by_max_sessions(clock: FakeTime) -> None:
    affinity = SessionAffinity(AffinitySettings(max_sessions=2), clock.clock)
    for n in range(3):
        affinity.bind(f"conv-{n}", n, evictable=lambda _: False)
    assert len(affinity) == 2
    assert affinity.preferred("conv-0") == []
    assert affinity.preferred("conv-2") == [2]


def test_full_binding_drops_a_disabled_credential_first(clock: FakeTime) -> None:
    affinity = SessionAffinity(AffinitySettings(max_size=3), clock.clock)
    for cid in (1, 2, 3):
        affinity.bind("conv-a", cid, evictable=lambda _: False)
    affinity.bind("conv-a", 4, evictable=lambda cid: cid == 2)
    assert affinity.preferred("conv-a") == [1, 3, 4]


async def test_affinity_disabled_ignores_the_session(clock: FakeTime) -> None:
    pool = make_pool(3, clock, mode="round_robin", affinity=AffinitySettings(enabled=False))
    assert [await pick(pool, session_id="conv-a") for _ in range(3)] == [1, 2, 3]
    assert len(pool.affinity) == 0


async def test_removed_credential_is_unbound_from_sessions(clock: FakeTime) -> None:
    pool = make_pool(2, clock)
    assert await pick(pool, session_id="conv-a") == 1
    pool.remove(1)
    assert pool.affinity.preferred("conv-a") == []
    assert await pick(pool, session_id="conv-a") == 2
