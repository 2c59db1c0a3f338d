"""What client keys used, per key and UTC day: counted in memory, written behind, added up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kirogate.errors import StoreUnavailable
from kirogate.store import key_usage as usage_module
from kirogate.store.key_usage import CONFIGURED_KEY_ID, KeyUsage


async def test_usage_is_written_behind_merged_and_added_across_processes(open_store):
    one, two = await open_store(), await open_store()
    record, _ = await one.create_client_key("team")
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    one.count_key_usage(record.id, requests=1, at=now)
    one.count_key_usage(record.id, input_tokens=10, output_tokens=5, at=now)
    two.count_key_usage(record.id, requests=2, input_tokens=1, output_tokens=1, at=now)
    one.count_key_usage(CONFIGURED_KEY_ID, requests=1, at=now)
    assert await one.key_usage(now) == {}  # nothing written yet
    await one.flush_key_usage()
    await two.flush_key_usage()
    two.count_key_usage(record.id, requests=1, input_tokens=100, at=yesterday)
    await two.flush_key_usage()
    usage = await one.key_usage(now)
    mine = usage[record.id]
    assert (mine.requests_today, mine.input_tokens_today, mine.output_tokens_today) == (3, 11, 6)
    if yesterday.month == now.month:
        assert mine.requests_month == 4 and mine.tokens_month == 117
    assert mine.last_used_at is not None
    assert usage[CONFIGURED_KEY_ID].requests_today == 1
    assert set(await one.key_usage(now, key_id=record.id)) == {record.id}
    listed = await one.client_key(record.id)
    assert listed.last_used_at is not None


async def test_counted_usage_is_written_at_close(open_store):
    store = await open_store()
    record, _ = await store.create_client_key("closing")
    store.count_key_usage(record.id, requests=1, input_tokens=3)
    await store.close()
    again = await open_store()
    assert (await again.key_usage())[record.id].input_tokens_today == 3


async def test_a_failed_write_keeps_the_counts_for_the_next_one(store, monkeypatch):
    record, _ = await store.create_client_key("flaky")
    store.count_key_usage(record.id, requests=1, input_tokens=4)
    real = usage_module.KeyUsageMixin._add_usage

    async def refused(*args, **kwargs):
        raise StoreUnavailable("database away")

    monkeypatch.setattr(usage_module.KeyUsageMixin, "_add_usage", refused)
    with pytest.raises(StoreUnavailable):
        await store.flush_key_usage()
    store.count_key_usage(record.id, requests=1, output_tokens=2)
    monkeypatch.setattr(usage_module.KeyUsageMixin, "_add_usage", real)
    await store.flush_key_usage()
    mine = (await store.key_usage())[record.id]
    assert (mine.requests_today, mine.input_tokens_today, mine.output_tokens_today) == (2, 4, 2)


def test_usage_as_json_adds_input_and_output():
    usage = KeyUsage(requests_today=2, input_tokens_today=3, output_tokens_today=4)
    assert usage.to_json()["today"] == {
        "requests": 2,
        "input_tokens": 3,
        "output_tokens": 4,
        "tokens": 7,
    }
    assert usage.to_json()["month"]["tokens"] == 0
