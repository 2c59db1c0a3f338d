"""The request log's statistics and filtered pages on a million rows, SQLite and PostgreSQL.

    python bench/stats.py [--rows 1000000] [--backends sqlite,postgresql] [--pg-admin DSN]

Each backend gets a throwaway database (a temporary SQLite file; a ``kg_bench_*`` database
created on the PostgreSQL server and dropped afterwards), migrated by :meth:`Store.open`,
then filled with ``--rows`` rows spread over 30 days (20 keys, 10 credentials, 5 models,
~5 % errors) through the driver's bulk path (``executemany`` in one transaction; ``COPY``).
Then each query runs three times through the store's own methods and the best time is
printed: the stats of the last day by hour and of the whole month by day, and pages of the
listing (unfiltered, filtered by status class and model, by key, and deep in the cursor).
The figures in docs/logs.md come from this script.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parent / "src"))

from kirogate.store import Store  # noqa: E402
from kirogate.store.logquery import LogFilter  # noqa: E402

DAYS = 30
MODELS = ("claude-sonnet-4.5", "claude-opus-4.5", "claude-haiku-4.5", "claude-sonnet-4", "auto")
COLUMNS = (
    "at",
    "request_id",
    "endpoint",
    "model",
    "model_asked",
    "status",
    "credential_id",
    "api_key_id",
    "api_key_name",
    "client_address",
    "input_tokens",
    "output_tokens",
    "duration_ms",
    "ttft_ms",
    "error",
    "error_type",
    "streamed",
)


def iter_rows(count: int, end: datetime, credentials: int = 10) -> Iterator[tuple[Any, ...]]:
    """``count`` log rows over the ``DAYS`` before ``end``, oldest first (~5 % errors,
    20 keys, 5 models, ``credentials`` credentials), the same rows for the same arguments."""
    rng = random.Random(7)
    start = end - timedelta(days=DAYS)
    span = (end - start).total_seconds()
    for n in range(count):
        at = start + timedelta(seconds=span * n / count)
        roll = rng.random()
        status = 200 if roll < 0.95 else (429 if roll < 0.98 else 502)
        key = rng.randrange(20)
        latency = rng.lognormvariate(7, 0.8)
        yield (
            at,
            f"req-{n}",
            "/v1/messages" if n % 4 else "/v1/chat/completions",
            MODELS[n % len(MODELS)],
            MODELS[n % len(MODELS)],
            status,
            rng.randrange(credentials) + 1,
            key or None,
            f"key-{key}" if key else "default",
            f"10.0.{key}.{n % 50}",
            rng.randrange(100, 20_000),
            rng.randrange(10, 2_000) if status == 200 else None,
            round(latency, 2),
            round(latency * rng.random(), 2),
            None if status == 200 else "upstream trouble",
            None if status == 200 else ("rate_limit_error" if status == 429 else "api_error"),
            bool(n % 3),
        )


def make_rows(count: int, end: datetime) -> list[tuple[Any, ...]]:
    return list(iter_rows(count, end))


def fill_sqlite(path: Path, rows: list[tuple[Any, ...]]) -> None:
    conn = sqlite3.connect(path)
    placeholders = ", ".join("?" for _ in COLUMNS)
    sql = f"INSERT INTO request_logs ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    with conn:
        conn.executemany(
            sql,
            (
                (row[0].replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f"), *row[1:])
                for row in rows
            ),
        )
    conn.execute("ANALYZE")
    conn.close()


async def fill_postgresql(dsn: str, rows: list[tuple[Any, ...]]) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("request_logs", records=rows, columns=list(COLUMNS))
        await conn.execute("ANALYZE request_logs")
    finally:
        await conn.close()


async def best_of(label: str, call: Callable[[], Awaitable[Any]], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    best = min(times) * 1000
    print(f"  {label:<44} {best:9.1f} ms")
    return best


async def measure(store: Store, end: datetime) -> dict[str, float]:
    day = LogFilter(since=end - timedelta(days=1), until=end)
    month = LogFilter(since=end - timedelta(days=DAYS), until=end)
    results = {
        "stats, last day by hour": await best_of(
            "stats, last day by hour", lambda: store.request_log_stats(day, "hour")
        ),
        "stats, 30 days by day": await best_of(
            "stats, 30 days by day (every row)", lambda: store.request_log_stats(month, "day")
        ),
        "page, no filter": await best_of(
            "page of 50, no filter", lambda: store.request_log_page(LogFilter(), limit=51)
        ),
        "page, 5xx + model": await best_of(
            "page of 50, status 5xx + model",
            lambda: store.request_log_page(
                LogFilter(status_class=5, model="claude-opus-4.5"), limit=51
            ),
        ),
        "page, key": await best_of(
            "page of 50, one key",
            lambda: store.request_log_page(LogFilter(key_id=7), limit=51),
        ),
        "page, deep cursor": await best_of(
            "page of 50, cursor half-way, one credential",
            lambda: store.request_log_page(LogFilter(credential_id=3), before_id=500_000, limit=51),
        ),
    }
    return results


async def run_sqlite(rows: list[tuple[Any, ...]], end: datetime) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = await Store.open(database_url=None, data_dir=data)
        await store.close()
        started = time.perf_counter()
        fill_sqlite(data / "kirogate.db", rows)
        print(f"sqlite: {len(rows)} rows loaded in {time.perf_counter() - started:.1f} s")
        store = await Store.open(database_url=None, data_dir=data)
        try:
            await measure(store, end)
        finally:
            await store.close()


async def run_postgresql(rows: list[tuple[Any, ...]], end: datetime, admin_dsn: str) -> None:
    import asyncpg

    name = f"kg_bench_{secrets.token_hex(4)}"
    base = admin_dsn.rsplit("/", 1)[0]
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = base.replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
            store = await Store.open(database_url=url, data_dir=Path(tmp))
            await store.close()
            started = time.perf_counter()
            await fill_postgresql(f"{base}/{name}", rows)
            print(f"postgresql: {len(rows)} rows loaded in {time.perf_counter() - started:.1f} s")
            store = await Store.open(database_url=url, data_dir=Path(tmp))
            try:
                await measure(store, end)
            finally:
                await store.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    end = datetime(2030, 1, 31, tzinfo=UTC)
    rows = make_rows(args.rows, end)
    backends = args.backends.split(",")
    if "sqlite" in backends:
        await run_sqlite(rows, end)
    if "postgresql" in backends:
        await run_postgresql(rows, end, args.pg_admin)


if __name__ == "__main__":
    asyncio.run(main())
