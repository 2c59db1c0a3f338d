"""kill -9 of a serving gateway (SQLite) mid-traffic, and a restart on the same data dir.

The file stays intact, credentials and pool state (disabled flags, priorities) survive, and
the counters lose at most the write-behind interval of traffic (docs/storage.md, "Crashes").
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from kirogate.cluster import SQLITE_COUNTER_INTERVAL
from tests.live import API_KEY, REFRESH_TOKEN, clean_env, free_port, running, wait_ready

pytestmark = pytest.mark.timeout(120)

SECOND_TOKEN = "aorAAAAAGkillnine" + "k" * 120
ADMIN_KEY = "kill9-admin-key-" + "a" * 24
# Requests that finished this long before the kill must be in the file (the write-behind
# interval, plus slack for a loaded machine).
PERSISTED_AFTER = SQLITE_COUNTER_INTERVAL + 2.0


@contextmanager
def gateway(args: list[str], env: dict[str, str], url: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kirogate", "serve", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(url + "/health", proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)


def admin(base: str, path: str, body: object | None = None) -> dict[str, Any]:
    method = "GET" if body is None else "POST"
    response = httpx.request(
        method, base + path, json=body, headers={"x-api-key": ADMIN_KEY}, timeout=10
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert isinstance(result, dict)
    return result


def ask(http: httpx.Client, base: str, text: str) -> str:
    response = http.post(
        base + "/v1/messages",
        json={
            "model": "claude-sonnet-4-6",
            "max_tokens": 32,
            "messages": [{"role": "user", "content": text}],
        },
        headers={"x-api-key": API_KEY},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["content"][0]["text"])


class Traffic:
    """Clients asking in a loop; records when each successful answer arrived."""

    def __init__(self, base: str, clients: int = 4) -> None:
        self.base = base
        self.done: list[float] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(clients)]

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=10) as http:
            count = 0
            while not self.stop.is_set():
                count += 1
                try:
                    text = ask(http, self.base, f"client {n} request {count}")
                except (httpx.HTTPError, AssertionError):
                    continue  # the gateway is gone: in-flight requests fail
                if text == f"Echo: client {n} request {count}":
                    self.done.append(time.monotonic())

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def wait_until(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_kill9_mid_traffic_keeps_the_file_and_the_pool_state(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    creds = tmp_path / "credentials.json"
    creds.write_text(
        json.dumps(
            [
                {"refreshToken": REFRESH_TOKEN, "authMethod": "social", "priority": 0},
                {"refreshToken": SECOND_TOKEN, "authMethod": "social", "priority": 1},
            ]
        ),
        encoding="utf-8",
    )
    data_dir = tmp_path / "data"
    emu_port, port = free_port(), free_port()
    emulator = f"http://127.0.0.1:{emu_port}"
    base = f"http://127.0.0.1:{port}"
    args = [
        *("--port", str(port), "--api-key", API_KEY, "--admin-key", ADMIN_KEY),
        *("--credentials", str(creds), "--upstream-url", emulator),
        *("--data-dir", str(data_dir), "--log-level", "warning"),
        *("--set", "upstream.usage_interval=0"),
    ]
    with running(["emulator", "--port", str(emu_port)], f"{emulator}/_emulator/stats", env):
        with gateway(args, env, base) as proc:
            admin(base, "/api/admin/credentials/1/disabled", {"disabled": True})
            admin(base, "/api/admin/credentials/2/priority", {"priority": 7})
            with Traffic(base) as traffic:
                wait_until(lambda: len(traffic.done) >= 40)
                # Some time past the write-behind interval, so the file holds counters.
                first = traffic.done[0]
                wait_until(lambda: traffic.done[-1] - first > PERSISTED_AFTER + 1)
                proc.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                proc.wait(timeout=10)
            served = len(traffic.done)
            settled = sum(1 for at in traffic.done if at < killed_at - PERSISTED_AFTER)
        assert proc.returncode == -signal.SIGKILL

        database = data_dir / "kirogate.db"
        with sqlite3.connect(database) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

        # Same data dir again: it starts (the OS dropped the file lock), nothing is reset.
        with gateway(args, env, base):
            listing = admin(base, "/api/admin/credentials")
            rows = {row["id"]: row for row in listing["credentials"]}
            assert set(rows) == {1, 2}
            assert rows[1]["disabled"] and rows[1]["disabledReason"] == "manual"
            assert rows[2]["priority"] == 7 and not rows[2]["disabled"]
            kept = rows[2]["successCount"]
            # No success is invented; what was lost is at most the last interval's.
            assert settled <= kept <= served
            with httpx.Client(timeout=10) as http:
                assert ask(http, base, "after the crash") == "Echo: after the crash"
            after = {row["id"]: row for row in admin(base, "/api/admin/credentials")["credentials"]}
            assert after[2]["successCount"] == kept + 1
