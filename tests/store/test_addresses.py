"""Blocked addresses with expiry, and the visitors table shared by several store handles."""

from datetime import UTC, datetime, timedelta

from kirogate.store.addresses import BlockRecord, VisitorRecord


async def test_an_expired_block_no_longer_counts_and_is_pruned(store):
    past = datetime.now(UTC) + timedelta(milliseconds=1)
    await store.block_ip("198.51.100.9", "short", expires_at=past)
    await store.block_ip("2001:db8::/32", "v6 range")
    later = datetime.now(UTC) + timedelta(hours=1)
    await store.block_ip("203.0.113.0/24", "hour", expires_at=later)
    # The first block's moment has passed by the time it is read back.
    while datetime.now(UTC) <= past:
        pass
    assert [ip for ip, _ in await store.blocked_ips()] == ["2001:db8::/32", "203.0.113.0/24"]
    assert [b.ip for b in await store.blocks()] == ["2001:db8::/32", "203.0.113.0/24"]
    assert len(await store.blocks(include_expired=True)) == 3
    assert await store.prune_blocked() == 1
    assert len(await store.blocks(include_expired=True)) == 2


async def test_blocking_again_replaces_reason_and_expiry(store):
    later = datetime.now(UTC) + timedelta(hours=1)
    first = await store.block_ip("192.0.2.1", "first", expires_at=later)
    assert isinstance(first, BlockRecord)
    assert first.ip == "192.0.2.1"
    await store.block_ip("192.0.2.1/32", "second")
    (only,) = await store.blocks()
    assert (only.ip, only.reason, only.expires_at) == ("192.0.2.1", "second", None)
    assert only.to_public()["expires_at"] is None


async def test_visits_from_two_handles_add_up(open_store):
    one = await open_store()
    two = await open_store()
    now = datetime.now(UTC).replace(microsecond=0)
    await one.record_visits({"192.0.2.5": (3, now - timedelta(seconds=5)), "::1": (1, now)})
    await two.record_visits({"192.0.2.5": (2, now)})
    await two.record_visits({})
    rows = await one.visitors()
    by_address = {row.address: row for row in rows}
    assert by_address["192.0.2.5"].requests == 5
    assert by_address["192.0.2.5"].last_seen == now
    assert by_address["192.0.2.5"].first_seen == now - timedelta(seconds=5)
    assert by_address["::1"].requests == 1
    assert isinstance(rows[0], VisitorRecord)
    assert rows[0].to_public()["address"] in by_address


async def test_visitors_filter_limit_and_prune(store):
    now = datetime.now(UTC).replace(microsecond=0)
    old = now - timedelta(days=8)
    await store.record_visits({"192.0.2.1": (1, old), "192.0.2.2": (1, now)})
    assert [r.address for r in await store.visitors(since=now - timedelta(days=1))] == ["192.0.2.2"]
    assert len(await store.visitors(limit=1)) == 1
    assert await store.prune_visitors(now - timedelta(days=7)) == 1
    assert [r.address for r in await store.visitors()] == ["192.0.2.2"]
