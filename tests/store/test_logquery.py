"""Reading the request log back: filters, cursor pages, deletion, bodies, statistics (both
backends give the same figures for the same rows)."""

from datetime import UTC, datetime, timedelta

from kirogate.store import RequestLogEntry
from kirogate.store.logquery import LogFilter

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


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


async def fill_known(store):
    """Two hours of rows: hour 10 has 10 answers (latency 10..100 ms), hour 11 two errors."""
    for n in range(10):
        store.log_request(
            entry(
                n,
                duration_ms=10.0 * (n + 1),
                ttft_ms=float(n + 1),
                input_tokens=100,
                output_tokens=10,
                api_key_id=1 if n < 6 else None,
                api_key_name="alice" if n < 6 else "default",
                credential_id=1 + n % 2,
            )
        )
    store.log_request(
        entry(3600, status=429, error_type="rate_limit_error", duration_ms=1.0, credential_id=None)
    )
    store.log_request(
        entry(3601, status=502, error_type="api_error", model="claude-opus-4", duration_ms=3.0)
    )
    await store.flush_request_logs()


async def test_stats_per_hour_match_the_known_rows(store):
    await fill_known(store)
    stats = await store.request_log_stats(LogFilter(), "hour")
    first, second = stats["buckets"]
    assert first["start"] == "2030-01-01T10:00:00Z"
    assert second["start"] == "2030-01-01T11:00:00Z"
    assert first["requests"] == 10
    assert first["errors"] == {"4xx": 0, "5xx": 0}
    assert (first["input_tokens"], first["output_tokens"]) == (1000, 100)
    # nearest rank: ceil(0.5 * 10) = 5th, ceil(0.95 * 10) = 10th value
    assert first["latency_ms"] == {"p50": 50.0, "p95": 100.0, "p99": 100.0}
    assert first["ttft_ms"] == {"p50": 5.0, "p95": 10.0, "p99": 10.0}
    assert second["requests"] == 2
    assert second["errors"] == {"4xx": 1, "5xx": 1}
    assert second["errors_by_type"] == {"rate_limit_error": 1, "api_error": 1}
    assert second["latency_ms"] == {"p50": 1.0, "p95": 3.0, "p99": 3.0}
    assert second["ttft_ms"] == {"p50": None, "p95": None, "p99": None}
    total = stats["total"]
    assert total["requests"] == 12
    assert total["latency_ms"]["p50"] == 40.0  # 6th of 1, 3, 10, 20, 30, 40, ...
    keys = {row["key_name"]: row["requests"] for row in stats["per_key"]}
    assert keys == {"alice": 6, "default": 4, None: 2}
    models = {row["model"]: row["errors"] for row in stats["per_model"]}
    assert models == {"claude-sonnet-4": 1, "claude-opus-4": 1}
    credentials = {row["credential_id"]: row["requests"] for row in stats["per_credential"]}
    assert credentials == {1: 5, 2: 5, None: 2}


async def test_stats_by_minute_and_day_and_window(store):
    await fill_known(store)
    by_day = await store.request_log_stats(LogFilter(), "day")
    assert [b["start"] for b in by_day["buckets"]] == ["2030-01-01T00:00:00Z"]
    window = LogFilter(since=T0 + timedelta(hours=1))
    by_minute = await store.request_log_stats(window, "minute")
    assert [b["start"] for b in by_minute["buckets"]] == ["2030-01-01T11:00:00Z"]
    assert by_minute["total"]["requests"] == 2


async def test_pages_follow_the_cursor_and_filters(store):
    await fill_known(store)
    page = await store.request_log_page(LogFilter(), limit=5)
    assert [e.request_id for e in page] == [f"req-{n}" for n in (3601, 3600, 9, 8, 7)]
    rest = await store.request_log_page(LogFilter(), before_id=page[-1].id, limit=50)
    assert len(rest) == 7
    errors = await store.request_log_page(LogFilter(status_class=5), limit=50)
    assert [e.status for e in errors] == [502]
    opus = await store.request_log_page(LogFilter(model="claude-opus-4"), limit=50)
    assert len(opus) == 1
    alice = await store.request_log_page(LogFilter(key_id=1, credential_id=2), limit=50)
    assert [e.request_id for e in alice] == ["req-5", "req-3", "req-1"]


async def test_bodies_are_kept_apart_and_shown_in_the_detail(store):
    store.log_request(entry(1, request_body='{"a": 1}', response_body="data: x"))
    store.log_request(entry(2))
    await store.flush_request_logs()
    with_body, plain = sorted(await store.request_log_page(LogFilter()), key=lambda e: e.at)
    assert with_body.request_body is None  # the listing stays light
    detail = await store.request_log(with_body.id)
    assert (detail.request_body, detail.response_body) == ('{"a": 1}', "data: x")
    assert (await store.request_log(plain.id)).request_body is None
    assert await store.request_log(10**9) is None


async def test_delete_before_counts_rows(store):
    await fill_known(store)
    assert await store.delete_request_logs(T0 + timedelta(seconds=5)) == 5
    assert len(await store.request_log_page(LogFilter(), limit=100)) == 7


async def test_retention_days_prunes_old_rows(store):
    store.log_retention_days = lambda: 2
    old = datetime.now(UTC) - timedelta(days=3)
    store.log_request(entry(1, at=old, request_body="x"))
    store.log_request(entry(2, at=datetime.now(UTC)))
    await store.flush_request_logs()
    rows = await store.request_log_page(LogFilter())
    assert [e.request_id for e in rows] == ["req-2"]


async def test_export_iterates_every_row(store):
    for n in range(2500):
        store.log_request(entry(n))
    await store.flush_request_logs()
    seen = [e.request_id async for e in store.iter_request_logs(LogFilter())]
    assert len(seen) == 2500 and seen[0] == "req-2499"
