import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from kirogate.errors import InvalidRequest, StoreUnavailable
from kirogate.store import RequestLogEntry

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def entry(n, **fields):
    values = {
        "at": T0 + timedelta(seconds=n),
        "request_id": f"req-{n}",
        "endpoint": "/v1/messages",
        "model": "claude-sonnet-4",
        "status": 200,
    }
    values.update(fields)
    return RequestLogEntry(**values)


async def test_entries_are_queued_until_flushed(store):
    full = entry(
        1,
        credential_id=3,
        api_key_id=4,
        input_tokens=100,
        output_tokens=20,
        duration_ms=812.5,
        ttft_ms=120.0,
        error=None,
    )
    store.log_request(full)
    store.log_request(entry(2, status=529, error="overloaded"))
    assert await store.recent_requests() == []
    await store.flush_request_logs()
    newest, oldest = await store.recent_requests()
    assert oldest == full
    assert (newest.status, newest.error) == (529, "overloaded")


async def test_background_task_writes_batches(open_store):
    store = await open_store(request_log_interval=0.05)
    for n in range(3):
        store.log_request(entry(n))
    for _ in range(100):
        if len(await store.recent_requests()) == 3:
            break
        await asyncio.sleep(0.05)
    assert [e.request_id for e in await store.recent_requests()] == ["req-2", "req-1", "req-0"]


async def test_many_entries_are_written_in_several_batches(store):
    for n in range(1234):
        store.log_request(entry(n))
    await store.flush_request_logs()
    assert len(await store.recent_requests(limit=2000)) == 1234


async def test_full_queue_drops_and_counts(open_store):
    store = await open_store(request_log_queue=3)
    for n in range(5):
        store.log_request(entry(n))
    assert store.request_logs_dropped == 2
    await store.flush_request_logs()
    assert [e.request_id for e in await store.recent_requests()] == ["req-2", "req-1", "req-0"]


async def test_retention_keeps_the_newest_rows(store):
    await store.set_setting("request_log_retention", 5)
    for n in range(12):
        store.log_request(entry(n))
    await store.flush_request_logs()
    store.log_request(entry(12))
    await store.flush_request_logs()
    assert [e.request_id for e in await store.recent_requests()] == [
        f"req-{n}" for n in (12, 11, 10, 9, 8)
    ]


async def test_unusable_retention_setting_falls_back_to_the_default(store):
    await store.set_setting("request_log_retention", "lots")
    for n in range(3):
        store.log_request(entry(n))
    await store.flush_request_logs()
    assert len(await store.recent_requests()) == 3


async def test_close_writes_what_is_queued(open_store, store):
    writer = await open_store()
    writer.log_request(entry(1))
    await writer.close()
    assert [e.request_id for e in await store.recent_requests()] == ["req-1"]


async def test_long_text_is_truncated_not_refused(store):
    store.log_request(entry(1, error="e" * 10_000, model="m" * 500))
    await store.flush_request_logs()
    (stored,) = await store.recent_requests()
    assert len(stored.error) == 4000
    assert stored.error.endswith("…")
    assert len(stored.model) == 200


async def test_naive_time_is_taken_as_utc(store):
    store.log_request(entry(1, at=datetime(2030, 1, 1, 12)))
    await store.flush_request_logs()
    (stored,) = await store.recent_requests()
    assert stored.at == datetime(2030, 1, 1, 12, tzinfo=UTC)


async def test_failed_batch_is_counted_and_raised(store, monkeypatch):
    # A batch the database refuses (not an outage) is dropped and counted.
    @contextlib.asynccontextmanager
    async def broken():
        raise RuntimeError("refused")
        yield

    monkeypatch.setattr(store, "_writing", broken)
    store.log_request(entry(1))
    with pytest.raises(RuntimeError):
        await store.flush_request_logs()
    assert store.request_logs_dropped == 1


async def test_a_batch_unwritten_while_the_database_is_away_is_kept_for_later(store, monkeypatch):
    real = store._writing

    @contextlib.asynccontextmanager
    async def away():
        raise StoreUnavailable("database down")
        yield

    monkeypatch.setattr(store, "_writing", away)
    store.log_request(entry(1))
    store.log_request(entry(2))
    with pytest.raises(StoreUnavailable):
        await store.flush_request_logs()
    store.log_request(entry(3))
    assert (store.request_logs_dropped, store.request_logs_queued) == (0, 3)
    monkeypatch.setattr(store, "_writing", real)
    await store.flush_request_logs()
    stored = [e.request_id for e in await store.recent_requests()]
    assert stored == ["req-3", "req-2", "req-1"]
    assert store.request_logs_queued == 0


async def test_a_kept_batch_beyond_the_queue_bound_is_dropped_and_counted(open_store, monkeypatch):
    store = await open_store(request_log_queue=3)

    @contextlib.asynccontextmanager
    async def away():
        store.log_request(entry(9))  # a request answered while the write was waiting
        raise StoreUnavailable("database down")
        yield

    monkeypatch.setattr(store, "_writing", away)
    for i in range(3):
        store.log_request(entry(i))
    with pytest.raises(StoreUnavailable):
        await store.flush_request_logs()
    assert (store.request_logs_dropped, store.request_logs_queued) == (1, 3)
    monkeypatch.undo()
    await store.flush_request_logs()
    stored = [e.request_id for e in await store.recent_requests()]
    assert stored == ["req-9", "req-1", "req-0"]


async def test_writer_survives_a_failed_batch(open_store, monkeypatch):
    store = await open_store(request_log_interval=0.05)
    real = store._writing
    failures = []

    @contextlib.asynccontextmanager
    async def flaky():
        if not failures:
            failures.append(1)
            raise StoreUnavailable("database down")
        async with real() as conn:
            yield conn

    monkeypatch.setattr(store, "_writing", flaky)
    store.log_request(entry(1))
    for _ in range(100):
        if failures:
            break
        await asyncio.sleep(0.02)
    store.log_request(entry(2))
    for _ in range(100):
        if await store.recent_requests():
            break
        await asyncio.sleep(0.05)
    # The batch that met the outage is written once the database answers (it was dropped).
    assert [e.request_id for e in await store.recent_requests()] == ["req-2", "req-1"]
    assert store.request_logs_dropped == 0


async def test_bad_calls_are_refused(store):
    with pytest.raises(InvalidRequest):
        store.log_request({"status": 200})
    with pytest.raises(InvalidRequest):
        store.log_request(entry(1, status="200"))
    for limit in (0, 10_001, "5"):
        with pytest.raises(InvalidRequest):
            await store.recent_requests(limit=limit)


async def test_a_writer_stopped_mid_write_keeps_its_batch(store, monkeypatch):
    real = store._writing
    entered = asyncio.Event()

    @contextlib.asynccontextmanager
    async def frozen():
        entered.set()
        await asyncio.Event().wait()  # a database that never answers
        yield

    monkeypatch.setattr(store, "_writing", frozen)
    store.log_request(entry(1))
    writer = asyncio.ensure_future(store.flush_request_logs())
    await entered.wait()
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer
    assert (store.request_logs_queued, store.request_logs_dropped) == (1, 0)
    monkeypatch.setattr(store, "_writing", real)
    await store.flush_request_logs()
    assert [e.request_id for e in await store.recent_requests()] == ["req-1"]


async def test_closing_against_a_frozen_database_gives_up_and_says_what_was_lost(
    open_store, monkeypatch, caplog
):
    from kirogate.store import requestlog

    store = await open_store()
    real = store._writing

    @contextlib.asynccontextmanager
    async def frozen():
        await asyncio.Event().wait()  # a database that never answers
        yield

    monkeypatch.setattr(requestlog, "CLOSE_TIMEOUT", 0.05)
    monkeypatch.setattr(store, "_writing", frozen)
    store.log_request(entry(1))
    store.log_request(entry(2))
    async with asyncio.timeout(30):  # a hang guard: close itself is bounded
        await store._stop_flusher()
    assert any("2 request log entries lost at close" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(store, "_writing", real)
