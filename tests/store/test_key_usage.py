"""What client keys used, per key and UTC day: counted in memory, written behind, added up."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kirogate.errors import StoreUnavailable
from kirogate.store import RequestLogEntry
from kirogate.store import key_usage as usage_module
from kirogate.store import requestlog as requestlog_module
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


def _log(n: int) -> RequestLogEntry:
    return RequestLogEntry(
        at=datetime.now(UTC), request_id=f"req-{n}", endpoint="/v1/messages", model="m", status=200
    )


def _counting_writes(store: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    real, opened = store._writing, []

    def writing() -> Any:
        opened.append(1)
        return real()

    monkeypatch.setattr(store, "_writing", writing)
    return opened


async def test_the_log_writer_writes_the_usage_in_its_transaction(store, monkeypatch):
    record, _ = await store.create_client_key("busy")
    store.count_key_usage(record.id, requests=1, input_tokens=7)
    assert store._usage_flusher is None  # no writer of its own: the log writer's turn does it
    store.log_request(_log(1))
    opened = _counting_writes(store, monkeypatch)
    await store.flush_request_logs(prune=False)
    assert len(opened) == 1
    assert (await store.key_usage())[record.id].input_tokens_today == 7
    assert [e.request_id for e in await store.recent_requests()] == ["req-1"]
    store.count_key_usage(record.id, requests=1)  # usage alone: written all the same
    await store.flush_request_logs()
    assert (await store.key_usage())[record.id].requests_today == 2


async def test_usage_counted_is_written_by_the_background_log_writer(open_store):
    store = await open_store(request_log_interval=0.05)
    record, _ = await store.create_client_key("background")
    store.count_key_usage(record.id, requests=1)
    for _ in range(100):
        if record.id in await store.key_usage():
            break
        await asyncio.sleep(0.02)
    assert (await store.key_usage())[record.id].requests_today == 1


async def test_a_slow_log_writer_leaves_the_usage_to_its_own_writer(open_store):
    store = await open_store(request_log_interval=3600.0)
    record, _ = await store.create_client_key("own")
    store.count_key_usage(record.id, requests=1)
    assert store._usage_flusher is not None
    await store.flush_key_usage()
    assert (await store.key_usage())[record.id].requests_today == 1


async def test_an_outage_keeps_both_the_log_rows_and_the_usage(store, monkeypatch):
    record, _ = await store.create_client_key("outage")
    store.count_key_usage(record.id, requests=1, input_tokens=5)
    store.log_request(_log(1))
    real = store._writing

    @contextlib.asynccontextmanager
    async def away() -> AsyncIterator[None]:
        raise StoreUnavailable("database down")
        yield

    monkeypatch.setattr(store, "_writing", away)
    with pytest.raises(StoreUnavailable):
        await store.flush_request_logs()
    store.count_key_usage(record.id, requests=1)
    monkeypatch.setattr(store, "_writing", real)
    await store.flush_request_logs()
    mine = (await store.key_usage())[record.id]
    assert (mine.requests_today, mine.input_tokens_today) == (2, 5)
    assert (store.request_logs_queued, store.request_logs_dropped) == (0, 0)
    assert len(await store.recent_requests()) == 1


async def test_refused_usage_is_kept_and_does_not_hold_the_log_rows(store, monkeypatch):
    record, _ = await store.create_client_key("refused")
    store.count_key_usage(record.id, requests=1)
    store.log_request(_log(1))
    real = usage_module.KeyUsageMixin._add_usage

    async def refused(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("refused")

    monkeypatch.setattr(usage_module.KeyUsageMixin, "_add_usage", refused)
    with pytest.raises(RuntimeError):
        await store.flush_request_logs()
    # The log rows were written alone, as before; the usage waits for a later write.
    assert [e.request_id for e in await store.recent_requests()] == ["req-1"]
    assert store.request_logs_dropped == 0
    monkeypatch.setattr(usage_module.KeyUsageMixin, "_add_usage", real)
    await store.flush_request_logs()
    assert (await store.key_usage())[record.id].requests_today == 1


async def test_refused_log_rows_do_not_lose_the_usage(store, monkeypatch):
    record, _ = await store.create_client_key("rows refused")
    store.count_key_usage(record.id, requests=1)
    store.log_request(_log(1))

    async def refused(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("refused")

    monkeypatch.setattr(requestlog_module, "_insert", refused)
    with pytest.raises(RuntimeError):
        await store.flush_request_logs()
    assert store.request_logs_dropped == 1  # the refused batch, dropped and counted as before
    assert (await store.key_usage())[record.id].requests_today == 1
