"""Failed admin sign-ins are counted per client address across instances sharing a Redis.

Two real ``kirogate serve`` processes (each on its own SQLite data directory) share a private
``redis-server``; wrong admin keys sent to either one add up, so the address is refused with
429 and ``retry-after`` on both, even with the right key, while a fresh Redis would have let
it in.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.live import clean_env, free_port, running

pytestmark = pytest.mark.timeout(180)

REDIS_PORT = 56386  # this module's private redis-server
ADMIN_KEY = "throttle-admin-key-0123456789"
FAILURES = 4


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    proc = subprocess.Popen(
        [server, "--port", str(REDIS_PORT), "--save", "", "--appendonly", "no",
         "--bind", "127.0.0.1", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"private redis-server on port {REDIS_PORT} did not start")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{REDIS_PORT}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def admin_get(base_url: str, key: str) -> tuple[int, dict[str, str], dict[str, object]]:
    request = urllib.request.Request(
        f"{base_url}/api/admin/credentials", headers={"x-api-key": key}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


def test_wrong_admin_keys_add_up_across_two_instances(tmp_path: Path, private_redis: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home) | {"KIROGATE_ADMIN_AUTH_FAILURES": str(FAILURES)}
    urls = []
    with ExitStack() as stack:
        for name in ("one", "two"):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            args = ["serve", "--port", str(port), "--data-dir", str(tmp_path / name),
                    "--upstream-url", "http://127.0.0.1:9", "--admin-key", ADMIN_KEY,
                    "--api-key", "throttle-client-key", "--redis-url", private_redis]  # fmt: skip
            stack.enter_context(running(args, f"{url}/health", env))
            urls.append(url)
        one, two = urls
        assert admin_get(one, ADMIN_KEY)[0] == 200
        statuses = [admin_get(urls[n % 2], "wrong-key")[0] for n in range(FAILURES)]
        assert statuses == [401] * FAILURES
        for url in (one, two):
            status, headers, body = admin_get(url, ADMIN_KEY)
            assert status == 429, body
            assert body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
            assert 1 <= int(headers["retry-after"]) <= 60


def test_a_forwarded_address_does_not_buy_a_fresh_count(tmp_path: Path) -> None:
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told not to; kirogate serve does.
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home) | {"KIROGATE_ADMIN_AUTH_FAILURES": str(FAILURES)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["serve", "--port", str(port), "--data-dir", str(tmp_path / "data"),
            "--upstream-url", "http://127.0.0.1:9", "--admin-key", ADMIN_KEY,
            "--api-key", "throttle-client-key"]  # fmt: skip
    with running(args, f"{url}/health", env):
        statuses = []
        for n in range(FAILURES + 1):
            request = urllib.request.Request(
                f"{url}/api/admin/credentials",
                headers={"x-api-key": "wrong-key", "x-forwarded-for": f"203.0.113.{n + 1}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as error:
                with error:
                    statuses.append(error.code)
        assert statuses == [401] * FAILURES + [429]
