"""Real ``kirogate serve`` processes: an address blocked through one instance is refused by
another within a second (PostgreSQL + Redis), and the standard proxy variables of a gateway's
environment carry its upstream calls unless NO_PROXY names the upstream."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import flushed_redis, throwaway_database
from tests.live import REFRESH_TOKEN, clean_env, running
from tests.loopback_proxy import loopback_proxy

pytestmark = pytest.mark.timeout(300)

REDIS_URL = "redis://127.0.0.1:6379/8"  # this feature's own Redis database
API_KEY = "addrs-client-key-0123"
ADMIN_KEY = "addrs-admin-key-0123456789"
SECRET_KEY = "addrs-shared-secret-key"
PORTS = range(21500, 21600)
MESSAGE = {"model": "claude-sonnet-4-5", "max_tokens": 16,
           "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip


def private_port() -> int:
    """A free port of this feature's private range."""
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 21500-21599")


def http(
    url: str, body: object = None, headers: dict[str, str] | None = None, method: str | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method or ("POST" if data is not None else "GET"),
        headers={"content-type": "application/json", **(headers or {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def ask(base: str) -> int:
    return http(f"{base}/v1/messages", MESSAGE, {"x-api-key": API_KEY})[0]


def write_credentials(tmp: Path, token: str = REFRESH_TOKEN) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "credentials.json"
    entry = {"refreshToken": token, "authMethod": "social"}
    path.write_text(json.dumps([entry]), encoding="utf-8")
    path.chmod(0o600)
    return path


def serve_args(port: int, emulator: str, credentials: Path, data: Path) -> list[str]:
    return ["serve", "--port", str(port), "--api-key", API_KEY, "--admin-key", ADMIN_KEY,
            "--credentials", str(credentials), "--upstream-url", emulator,
            "--data-dir", str(data), "--log-level", "warning",
            "--set", "upstream.usage_interval=0"]  # fmt: skip


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with throwaway_database("kg_addrs") as url:
        yield url


def emulator(stack: ExitStack, env: dict[str, str], *tokens: str) -> str:
    port = private_port()
    url = f"http://127.0.0.1:{port}"
    stack.enter_context(running(["emulator", "--port", str(port)], f"{url}/_emulator/stats", env))
    for token in tokens or (REFRESH_TOKEN,):
        http(f"{url}/_emulator/credentials", {"refreshToken": token, "authMethod": "social"})
    return url


async def test_an_address_blocked_through_one_instance_is_refused_by_another(
    database: str, tmp_path: Path
) -> None:
    await flushed_redis(REDIS_URL)
    await asyncio.to_thread(two_instances, database, tmp_path)


def two_instances(database: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home) | {"KIROGATE_SECRET_KEY": SECRET_KEY}
    credentials = write_credentials(tmp_path)
    with ExitStack() as stack:
        upstream = emulator(stack, env)
        bases = []
        for name in ("a", "b"):
            port = private_port()
            args = serve_args(port, upstream, credentials, tmp_path / name)
            args += ["--database-url", database, "--redis-url", REDIS_URL]
            base = f"http://127.0.0.1:{port}"
            stack.enter_context(running(args, f"{base}/health", env))
            bases.append(base)
        a, b = bases
        assert ask(b) == 200  # B has loaded its (empty) blocked list
        admin = {"x-api-key": ADMIN_KEY}
        status, _ = http(f"{a}/api/admin/ips", {"ip": "127.0.0.0/8", "reason": "test"}, admin)
        assert status == 201
        blocked_at = time.monotonic()
        while ask(b) != 403:
            assert time.monotonic() - blocked_at < 1.0, "B still serves the blocked address"
            time.sleep(0.05)
        status, _ = http(f"{a}/api/admin/ips?ip=127.0.0.0/8", headers=admin, method="DELETE")
        assert status == 200
        freed_at = time.monotonic()
        while ask(b) != 200:
            assert time.monotonic() - freed_at < 1.0, "B still refuses the unblocked address"
            time.sleep(0.05)
        # Visitors counted by both instances are listed by either.
        deadline = time.monotonic() + 10
        while True:
            _, listed = http(f"{a}/api/admin/ips/visitors", headers=admin)
            if listed["visitors"] and listed["visitors"][0]["requests"] >= 3:
                break
            assert time.monotonic() < deadline, listed
            time.sleep(0.2)
        assert listed["visitors"][0]["address"] == "127.0.0.1"


def gateway_with(env: dict[str, str], tmp: Path, upstream: str, token: str) -> Iterator[str]:
    port = private_port()
    base = f"http://127.0.0.1:{port}"
    args = serve_args(port, upstream, write_credentials(tmp, token), tmp / "data")
    with running(args, f"{base}/health", env):
        yield base


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_the_environments_proxy_carries_upstream_calls_and_no_proxy_bypasses_it(
    tmp_path: Path, variable: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        env.pop(name, None)
        env.pop(name.lower(), None)
    with ExitStack() as stack, loopback_proxy() as proxy:
        second = REFRESH_TOKEN + "two"
        upstream = emulator(stack, env, REFRESH_TOKEN, second)
        through = env | {variable: proxy.url}
        for base in gateway_with(through, tmp_path / "through", upstream, REFRESH_TOKEN):
            assert ask(base) == 200
        assert any("generateAssistantResponse" in seen for seen in proxy.record.passed)
        assert any("refreshToken" in seen for seen in proxy.record.passed)  # token calls too
        before = len(proxy.record.passed)
        bypass = through | {"NO_PROXY": "127.0.0.1,localhost"}
        for base in gateway_with(bypass, tmp_path / "bypass", upstream, second):
            assert ask(base) == 200
        assert len(proxy.record.passed) == before
