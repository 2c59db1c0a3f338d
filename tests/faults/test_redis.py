"""Redis killed mid-traffic under a PostgreSQL gateway, and brought back.

Requests keep being served while Redis is away, ``/ready`` and the log say so, and the
gateway uses Redis again once it returns, without a restart. The Redis is a private one
(``redis-server`` on a port of its own), never the shared instance.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.stack import fresh_database

from tests.live import API_KEY, REFRESH_TOKEN, clean_env, free_port, running, wait_ready

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed"),
]

REDIS_PORT = 56382
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@contextlib.contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_open(port), timeout=10)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def ready(base: str) -> dict[str, Any]:
    body = httpx.get(base + "/ready", timeout=10).json()
    assert isinstance(body, dict)
    return body


class Traffic:
    """Streaming clients in a loop, counting answers and failures."""

    def __init__(self, base: str, clients: int = 3) -> None:
        self.base = base
        self.ok = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(clients)]

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=30) as http:
            count = 0
            while not self.stop.is_set():
                count += 1
                text = f"client {n} request {count}"
                openai = n % 2 == 1
                try:
                    if openai:
                        response = http.post(
                            self.base + "/v1/chat/completions",
                            json={
                                "model": "claude-sonnet-4-6",
                                "messages": [{"role": "user", "content": text}],
                            },
                            headers={"authorization": f"Bearer {API_KEY}"},
                        )
                        said = response.json()["choices"][0]["message"]["content"]
                    else:
                        response = http.post(
                            self.base + "/v1/messages",
                            json={
                                "model": "claude-sonnet-4-6",
                                "max_tokens": 32,
                                "messages": [{"role": "user", "content": text}],
                            },
                            headers={"x-api-key": API_KEY},
                        )
                        said = response.json()["content"][0]["text"]
                except (httpx.HTTPError, KeyError, ValueError) as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code == 200 and said == f"Echo: {text}":
                    self.ok += 1
                else:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def test_redis_killed_mid_traffic_then_back(tmp_path: Path) -> None:
    if port_open(REDIS_PORT):
        pytest.skip(f"port {REDIS_PORT} is taken")
    if not port_open(5432):
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps([{"refreshToken": REFRESH_TOKEN, "authMethod": "social"}]))
    emu_port, port = free_port(), free_port()
    emulator, base = f"http://127.0.0.1:{emu_port}", f"http://127.0.0.1:{port}"
    log_path = tmp_path / "gateway.log"
    database = f"kirogate_faults_redis_{port}"
    with (
        fresh_database(PG_URL, database) as database_url,
        running(["emulator", "--port", str(emu_port)], f"{emulator}/_emulator/stats", env),
        redis_server(REDIS_PORT) as redis,
        open(log_path, "wb") as log_file,
    ):
        args = [
            *("serve", "--port", str(port), "--api-key", API_KEY),
            *("--credentials", str(creds), "--upstream-url", emulator),
            *("--database-url", database_url, "--redis-url", f"redis://127.0.0.1:{REDIS_PORT}/0"),
            *("--data-dir", str(tmp_path / "data"), "--log-level", "info"),
            *("--set", "upstream.usage_interval=0"),
        ]
        proc = subprocess.Popen(
            [sys.executable, "-m", "kirogate", *args], env=env, stdout=log_file, stderr=log_file
        )
        try:
            wait_ready(base + "/health", proc)
            assert ready(base)["redis"] == "ok"
            with Traffic(base) as traffic:
                wait_until(lambda: traffic.ok >= 10)
                redis.send_signal(signal.SIGKILL)
                redis.wait(timeout=10)
                during = traffic.ok
                wait_until(lambda: traffic.ok >= during + 10)
                # The access token dies now: its refresh needs the cross-process lock,
                # which lives in Redis.
                clock = httpx.post(emulator + "/_emulator/clock", json={"advance": 7200})
                assert clock.status_code == 200
                refreshed = traffic.ok
                wait_until(lambda: traffic.ok >= refreshed + 10)
                away = ready(base)
                assert away["ready"] is True
                assert away["redis"] == "unreachable"
                with redis_server(REDIS_PORT):
                    wait_until(lambda: ready(base)["redis"] == "ok")
                    back = traffic.ok
                    wait_until(lambda: traffic.ok >= back + 10)
                    # Change notices listen again (their retry backs off up to a few seconds).
                    wait_until(lambda: "Redis notices: working again" in log_path.read_text())
            assert traffic.failures == []
        finally:
            proc.terminate()
            proc.wait(timeout=15)

    log = log_path.read_text(errors="replace")
    assert "Redis is unreachable" in log
    assert "taking the fallback lock instead" in log  # the refresh during the outage
    assert "Traceback" not in log
