"""What one turn of each background timer of a SQLite gateway costs, in instructions.

    python bench/timers.py [--workloads poll,flush-log,...] [--repeat N] [--src DIR]

Each workload opens a fresh SQLite store in a temporary directory and runs one timer's turn
``--repeat`` times on uvloop, as the gateway's background tasks do:

- ``poll``: :meth:`ChangeFeed.poll` when nothing changed (the idle gateway, twice a second);
- ``poll-moved``: another connection commits a change (a raw ``sqlite3`` write, as
  ``kirogate keys create`` would), then one poll; less ``commit`` gives the poll's own cost;
- ``commit``: that other connection's commit alone;
- ``flush-log``: ten request-log entries queued, then the request-log flush (no prune);
- ``flush-usage``: one key's usage counted, then the key-usage flush;
- ``flush-visitors``: one address seen, then the visitor flush;
- ``flush-state``: one credential's pool state written (``apply_state``, one counter);
- ``log+usage``: ten log entries and one key's usage, then both flushes (the request-log
  writer's turn, then the key-usage writer's: one transaction since the usage rides along);
- ``tick``: a busy gateway's second: ``log+usage``, the visitor and pool-state flushes and
  one poll.

Under ``valgrind --tool=callgrind`` each workload runs with ``--repeat`` N and with 0 turns;
the difference divided by N is the exact cost of one turn (start-up and imports cancel).
``--src`` puts another source tree first on ``PYTHONPATH`` to compare with a base tree.
``--database-url`` runs the workloads on that database instead (say a throwaway PostgreSQL
database; ``poll-moved`` and ``commit`` then need SQLite).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
WORKLOADS = (
    "poll",
    "poll-moved",
    "commit",
    "flush-log",
    "flush-usage",
    "flush-visitors",
    "flush-state",
    "log+usage",
    "tick",
)
_REFS = re.compile(r"Collected : (\d+)")
LOG_ENTRIES = 10


async def _setup(name: str, tmp: Path) -> tuple[Callable[[], Awaitable[None]], Any]:
    from kirogate.service.addresses import VisitorLog
    from kirogate.service.changes import ChangeFeed
    from kirogate.store import Store
    from kirogate.store.requestlog import RequestLogEntry
    from kirogate.upstream.credentials import AuthMethod, Credential

    url = os.environ.get("KIROGATE_BENCH_DATABASE_URL") or None
    # The request-log writer at its default interval, as a gateway runs it: its background
    # turns find the queue empty (each turn here flushes), and key usage rides along with it.
    store = await Store.open(database_url=url, data_dir=tmp, secret_key="bench-timers")
    feed = ChangeFeed(lambda: store)
    await store.bump_revision("keys")
    await feed.poll()  # the first poll learns where things stand
    path = tmp / "kirogate.db"
    other = sqlite3.connect(path if url is None else ":memory:", isolation_level=None)
    visitors = VisitorLog(lambda: store)
    credential_id = 0
    if name in ("flush-state", "tick"):
        stored, _ = await store.add_credential(
            Credential(auth_method=AuthMethod.SOCIAL, refresh_token="bench-refresh-token")
        )
        assert stored.id is not None
        credential_id = stored.id

    def commit() -> None:
        other.execute("UPDATE revisions SET revision = revision + 1 WHERE topic = 'keys'")

    async def poll() -> None:
        await feed.poll()

    async def poll_moved() -> None:
        commit()
        await feed.poll()

    async def only_commit() -> None:
        commit()

    async def flush_log() -> None:
        now = datetime.now(UTC)
        for i in range(LOG_ENTRIES):
            store.log_request(
                RequestLogEntry(
                    at=now,
                    request_id=f"req-{i}",
                    endpoint="/v1/messages",
                    model="claude-sonnet-4",
                    status=200,
                    api_key_id=1,
                    input_tokens=1200,
                    output_tokens=350,
                    duration_ms=420.0,
                    ttft_ms=55.0,
                    client_address="127.0.0.1",
                    streamed=True,
                )
            )
        await store.flush_request_logs(prune=False)

    async def flush_usage() -> None:
        store.count_key_usage(0, requests=1, input_tokens=1200, output_tokens=350)
        await store.flush_key_usage()

    async def flush_visitors() -> None:
        visitors.seen("127.0.0.1")
        await visitors.flush()

    async def flush_state() -> None:
        await store.apply_state(credential_id, {}, {"success_count": 1})

    async def log_and_usage() -> None:
        store.count_key_usage(0, requests=1, input_tokens=1200, output_tokens=350)
        await flush_log()
        await store.flush_key_usage()

    async def tick() -> None:
        await log_and_usage()
        await flush_visitors()
        await flush_state()
        await feed.poll()

    turns: dict[str, Callable[[], Awaitable[None]]] = {
        "poll": poll,
        "poll-moved": poll_moved,
        "commit": only_commit,
        "flush-log": flush_log,
        "flush-usage": flush_usage,
        "flush-visitors": flush_visitors,
        "flush-state": flush_state,
        "log+usage": log_and_usage,
        "tick": tick,
    }
    turn = turns[name]
    await turn()  # warm: first statements compile and cache
    await visitors.flush()
    return turn, (store, other)


async def _work(name: str, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kirogate-timers-") as tmp:
        turn, (store, other) = await _setup(name, Path(tmp))
        for _ in range(repeat):
            await turn()
        other.close()
        await store.close()


def _run(coro: Any) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the gateway's own loop when installed
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def instructions(name: str, repeat: int, src: str | None, database_url: str | None) -> float:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = str(Path(src).resolve())
    if database_url:
        env["KIROGATE_BENCH_DATABASE_URL"] = database_url
    counts = []
    for n in (0, repeat):
        with tempfile.TemporaryDirectory(prefix="kirogate-timers-cg-") as tmp:
            command = [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/cg",
                sys.executable,
                str(HERE),
                "--child",
                name,
                "--repeat",
                str(n),
            ]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        found = _REFS.search(done.stderr)
        if found is None:
            raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
        counts.append(int(found.group(1)))
    return (counts[1] - counts[0]) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=500)
    parser.add_argument("--src", help="source tree to put first on PYTHONPATH")
    parser.add_argument("--database-url", help="another database than a SQLite file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _run(_work(args.child, args.repeat))
        return
    for name in args.workloads.split(","):
        per_turn = instructions(name, args.repeat, args.src, args.database_url)
        print(f"{name:<16} {per_turn:>12,.0f} instructions per turn", flush=True)


if __name__ == "__main__":
    main()
