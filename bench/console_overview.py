"""How fast the console's overview draws on a big gateway: 100 credentials, 1 000 000 log rows.

    python bench/console_overview.py [--rows 1000000] [--credentials 100] [--runs 5]
        [--ranges 24h,1h,7d,30d]

A throwaway SQLite data dir is migrated (:meth:`Store.open`) and filled with ``--rows``
request-log rows spread over the last 30 days (``--credentials`` credentials, 20 keys, 5 models,
~5 % errors) through ``executemany`` in one transaction, as bench/stats.py does. Then
``kirogate emulator`` and ``kirogate serve`` start on it (the credentials from a
``credentials.json``, each balance fetched once so the balance bars have figures), and
Chromium (``/usr/bin/chromium``, Playwright) signs in and opens ``/admin``.

Measured, per range (24h is the default; 1h, 7d and 30d are a click away): the time from
navigation to the overview fully drawn, that is the page root's ``data-ready`` attribute set
(every API call of the first load answered and rendered) and every chart drawn by uPlot,
read as ``performance.now()`` in the page (0 = navigation start). "cold" is a fresh browser
context each run (nothing cached, the session cookie carried over); "warm" reloads the same
tab (files revalidated, 304). The median of ``--runs`` runs is printed, after one run not
counted (the database's first read of the range).

Also measured: the first load's transfer size of ``/admin`` (the document, the scripts, the
sheets, uPlot included, gzip as served; the API answers not counted), against a 300 KB budget,
and the stats route's own time for each range (server side, urllib).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parent / "src"))
    sys.path.insert(0, str(HERE.parent))

from tests.live import clean_env, free_port, running  # noqa: E402

from bench.stats import COLUMNS, iter_rows  # noqa: E402

ADMIN_KEY = "bench-console-admin-key-0123456789"
CLIENT_KEY = "bench-client-key"
CHROMIUM = os.environ.get("KIROGATE_CHROMIUM", "/usr/bin/chromium")
DAYS = 30
RANGES = ("24h", "1h", "7d", "30d")
BUDGET = 300 * 1024
# Everything but the stats-fed parts shown (tiles, pool health, balances, the feed).
SHOWN = (
    "() => document.querySelector('.ov .ov-feed') && document.querySelector('.ov .ov-tiles')"
    " ? performance.now() : false"
)
DRAWN = (
    "() => { const root = document.querySelector('.ov[data-ready=\"true\"]');"
    " return root && !root.querySelector('.chart-box:not([data-drawn])') && !root.querySelector('.ov-pending')"
    " ? performance.now() : false; }"
)


def credentials_file(path: Path, count: int) -> None:
    entries = [
        {"refreshToken": f"aorAAAAAGbench{n:04d}" + "b" * 120, "authMethod": "social"}
        for n in range(count)
    ]
    path.write_text(json.dumps(entries), encoding="utf-8")


def rows(count: int, credentials: int, end: datetime) -> Any:
    """bench/stats.py's log rows, as SQLite takes them (naive UTC text timestamps)."""
    for row in iter_rows(count, end, credentials):
        at = row[0].replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        yield (at, *row[1:])


def seed(data: Path, count: int, credentials: int) -> None:
    import asyncio

    from kirogate.store import Store

    async def migrate() -> None:
        store = await Store.open(database_url=None, data_dir=data)
        await store.close()

    asyncio.run(migrate())
    started = time.perf_counter()
    conn = sqlite3.connect(data / "kirogate.db")
    sql = f"INSERT INTO request_logs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
    with conn:
        conn.executemany(sql, rows(count, credentials, datetime.now(UTC)))
    conn.execute("ANALYZE")
    conn.close()
    print(f"seeded {count} log rows in {time.perf_counter() - started:.1f} s")


def admin_get(base: str, path: str) -> Any:
    request = urllib.request.Request(base + path, headers={"x-api-key": ADMIN_KEY})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def fetch_balances(base: str, count: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(cid: int) -> bool:
        try:
            admin_get(base, f"/api/admin/credentials/{cid}/balance")
            return True
        except Exception:  # a bench: count the failures, do not stop
            return False

    with ThreadPoolExecutor(8) as pool:
        done = sum(pool.map(one, range(1, count + 1)))
    print(f"balances fetched: {done} of {count}")


def stats_times(base: str, ranges: list[str]) -> None:
    buckets = {
        "1h": ("minute", 3600),
        "24h": ("hour", 86400),
        "7d": ("hour", 7 * 86400),
        "30d": ("day", DAYS * 86400),
    }
    print("stats route alone (server side, best of 3):")
    for name in ranges:
        bucket, seconds = buckets[name]
        since = (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = f"/api/admin/stats?since={since}&bucket={bucket}"
        best = min(_timed(lambda: admin_get(base, path)) for _ in range(3))  # noqa: B023
        print(f"  {name:>4}: {best * 1000:8.0f} ms")


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def sign_in(browser: Any, base: str) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(base + "/admin")
    page.get_by_label("Admin key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_function(DRAWN, timeout=120_000)
    state = context.storage_state()
    context.close()
    return state


def transfer(browser: Any, base: str, state: Any) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, storage_state=state)
    page = context.new_page()
    seen: list[Any] = []
    page.on("requestfinished", lambda request: seen.append(request))
    page.goto(base + "/admin")
    page.wait_for_function(DRAWN, polling="raf", timeout=120_000)
    files = []
    for request in seen:
        path = request.url.split(base, 1)[-1].split("?", 1)[0]
        if path.startswith("/api/") or path == "/admin/session":
            continue
        sizes = request.sizes()
        files.append((path, sizes["responseBodySize"], sizes["responseHeadersSize"]))
    context.close()
    body = sum(size for _, size, _ in files)
    headers = sum(size for _, _, size in files)
    print(
        f"first load of /admin: {len(files)} files, {body / 1024:.1f} KB of bodies (gzip as served)"
        f" + {headers / 1024:.1f} KB of headers; budget {BUDGET // 1024} KB:"
        f" {'within' if body + headers <= BUDGET else 'OVER'}"
    )
    for path, size, _ in sorted(files, key=lambda item: -item[1]):
        print(f"  {size / 1024:7.1f} KB  {path}")


def drawn_after(page: Any, url: str, reload: bool = False) -> tuple[float, float]:
    """(shown, drawn): ms from navigation start to the page shown, and to it fully drawn."""
    if reload:
        page.reload()
    else:
        page.goto(url)
    shown = float(page.wait_for_function(SHOWN, polling="raf", timeout=120_000).json_value())
    drawn = float(page.wait_for_function(DRAWN, polling="raf", timeout=120_000).json_value())
    return shown, drawn


def waterfall(browser: Any, base: str, state: Any) -> None:
    """One cold load's requests: when each started and ended (ms from navigation start)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, storage_state=state)
    page = context.new_page()
    _, done = drawn_after(page, base + "/admin")
    entries = page.evaluate(
        "() => performance.getEntriesByType('resource').map(e => [e.name.replace(location.origin, ''),"
        " e.startTime, e.responseEnd])"
    )
    nav = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return [n.responseEnd, n.domContentLoadedEventEnd]; }"
    )
    context.close()
    print(
        f"one cold load (ms from navigation start): document {nav[0]:.0f},"
        f" DOMContentLoaded {nav[1]:.0f}, drawn {done:.0f}"
    )
    for name, start, end in entries:
        print(f"  {start:7.0f} -> {end:7.0f}  {name[:90]}")


def measure(
    browser: Any, base: str, state: Any, runs: int, ranges: list[str], shoot: Path | None
) -> None:
    print(f"navigation -> overview (median of {runs}, ms): 'shown' = tiles, pool, balances and")
    print("feed on screen; 'drawn' = data-ready and every chart drawn (the stats answered too)")
    print(
        f"  {'range':>5} {'cold shown':>11} {'cold drawn':>11} {'warm drawn':>11}   cold drawn runs"
    )
    for name in ranges:
        url = base + "/admin" + ("" if name == "24h" else f"?range={name}")
        cold: list[tuple[float, float]] = []
        warm: list[tuple[float, float]] = []
        for n in range(runs + 1):
            context = browser.new_context(
                viewport={"width": 1440, "height": 900}, storage_state=state
            )
            page = context.new_page()
            value = drawn_after(page, url)
            if n:
                cold.append(value)
            elif shoot is not None:
                shoot.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shoot / f"overview-bench-{name}.png"), full_page=True)
            if n == runs:
                warm = [drawn_after(page, url, reload=True) for _ in range(runs)]
            context.close()
        print(
            f"  {name:>5} {statistics.median(v[0] for v in cold):11.0f}"
            f" {statistics.median(v[1] for v in cold):11.0f}"
            f" {statistics.median(v[1] for v in warm):11.0f}   "
            + " ".join(f"{v[1]:.0f}" for v in cold)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--credentials", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shoot", type=Path, help="a folder for a screenshot of each range")
    parser.add_argument("--ranges", default=",".join(RANGES), help="of 24h,1h,7d,30d")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        data = root / "data"
        home = root / "home"
        home.mkdir()
        seed(data, args.rows, args.credentials)
        creds = root / "credentials.json"
        credentials_file(creds, args.credentials)
        env = clean_env(home)
        emu_port, gw_port = free_port(), free_port()
        emulator = f"http://127.0.0.1:{emu_port}"
        base = f"http://127.0.0.1:{gw_port}"
        stack.enter_context(
            running(["emulator", "--port", str(emu_port)], f"{emulator}/_emulator/stats", env)
        )
        serve = [
            "serve", "--port", str(gw_port), "--api-key", CLIENT_KEY, "--admin-key", ADMIN_KEY,
            "--credentials", str(creds), "--upstream-url", emulator, "--data-dir", str(data),
            "--log-level", "warning", "--set", "upstream.usage_interval=0",
        ]  # fmt: skip
        stack.enter_context(running(serve, f"{base}/health", env))
        listed = admin_get(base, "/api/admin/credentials")
        print(f"gateway up: {listed['total']} credentials")
        fetch_balances(base, listed["total"])
        print("load average: " + ", ".join(f"{value:.1f}" for value in os.getloadavg()))
        stats_times(base, args.ranges.split(","))
        driver = stack.enter_context(sync_playwright())
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        stack.callback(browser.close)
        state = sign_in(browser, base)
        transfer(browser, base, state)
        waterfall(browser, base, state)
        measure(browser, base, state, args.runs, args.ranges.split(","), args.shoot)
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(
            f"load average at the end: {load} ({os.cpu_count()} CPUs): compare runs at a like load"
        )


if __name__ == "__main__":
    main()
