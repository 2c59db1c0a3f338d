"""Client keys across two real ``kirogate serve`` processes on PostgreSQL + Redis.

A key created through instance A works on B within a second; a limit changed on A is enforced
on B within a second (and an rpm limit is one budget for both, through Redis); a key revoked
on A is refused on B within a second.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.cluster.conftest import unavailable
from tests.live import clean_env, wait_ready

pytestmark = pytest.mark.timeout(300)

PG = "postgresql://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/3"  # the keys suite's own Redis database
ADMIN_KEY = "keys-mp-admin-key-0123456789"
API_KEY = "keys-mp-client-key"
SECRET_KEY = "keys-mp-shared-secret"
MODEL = "claude-sonnet-4-6"
SEEN_WITHIN = 1.0
PORTS = range(21050, 21100)  # this suite's private ports


def private_ports(count: int) -> list[int]:
    found = []
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError("not enough free ports in 21050-21099")


async def _create_database(name: str) -> None:
    conn = await asyncpg.connect(f"{PG}/test", timeout=3)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(name: str) -> None:
    conn = await asyncpg.connect(f"{PG}/test", timeout=3)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _flush_redis() -> None:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture
def database() -> Iterator[str]:
    name = f"kg_keys_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_create_database(name))
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {PG}", f"{type(exc).__name__}: {exc}")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_drop_database(name))


def start(args: list[str], env: dict[str, str], log: Path, ready: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kirogate", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    wait_ready(ready, proc, timeout=90.0)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def instances(database: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    try:
        asyncio.run(_flush_redis())
    except (RedisError, OSError) as exc:
        unavailable(f"Redis at {REDIS_URL}", f"{type(exc).__name__}: {exc}")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home) | {"KIROGATE_SECRET_KEY": SECRET_KEY}
    credentials = tmp_path / "credentials.json"
    token = f"aorAAAAAGkeys{uuid.uuid4().hex[:8]}" + "r" * 100
    credentials.write_text(json.dumps([{"refreshToken": token, "authMethod": "social"}]))
    credentials.chmod(0o600)
    emu_port, port_a, port_b = private_ports(3)
    procs: list[subprocess.Popen[bytes]] = []
    logs = [tmp_path / name for name in ("emulator.log", "a.log", "b.log")]
    try:
        emulator = f"http://127.0.0.1:{emu_port}"
        procs.append(
            start(
                ["emulator", "--port", str(emu_port)], env, logs[0], f"{emulator}/_emulator/stats"
            )
        )
        for index, port in enumerate((port_a, port_b)):
            args = [
                "serve",
                "--port",
                str(port),
                "--api-key",
                API_KEY,
                "--admin-key",
                ADMIN_KEY,
                "--credentials",
                str(credentials),
                "--upstream-url",
                emulator,
                "--data-dir",
                str(tmp_path / f"data{index}"),
                "--database-url",
                database,
                "--redis-url",
                REDIS_URL,
                "--log-level",
                "warning",
                "--set",
                "upstream.usage_interval=0",
            ]
            url = f"http://127.0.0.1:{port}"
            procs.append(start(args, env, logs[index + 1], f"{url}/health"))
        yield f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    except BaseException:
        for log in logs:
            if log.exists():
                print(f"--- {log.name} ---\n{log.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        for proc in reversed(procs):
            stop(proc)


def admin(http: httpx.Client, base: str, method: str, path: str, body: Any = None) -> Any:
    response = http.request(
        method, f"{base}/api/admin{path}", json=body, headers={"x-api-key": ADMIN_KEY}
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def ask(http: httpx.Client, base: str, key: str, model: str = MODEL) -> httpx.Response:
    return http.post(
        f"{base}/v1/messages",
        json={"model": model, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
    )


def seconds_until(check: Any, within: float = 5.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within:
            break
        time.sleep(0.02)
    return time.monotonic() - started


def test_keys_changed_on_one_instance_are_enforced_on_the_other(
    instances: tuple[str, str],
) -> None:
    a, b = instances
    with httpx.Client(timeout=30) as http:
        created = admin(http, a, "POST", "/keys", {"name": "team"})
        key, key_id = created["key"], created["id"]
        took = seconds_until(lambda: ask(http, b, key).status_code == 200)
        assert took <= SEEN_WITHIN, f"B accepted the new key after {took:.2f}s"

        admin(http, a, "PATCH", f"/keys/{key_id}", {"limits": {"models": ["claude-haiku-*"]}})
        took = seconds_until(lambda: ask(http, b, key).status_code == 403)
        assert took <= SEEN_WITHIN, f"B enforced the model limit after {took:.2f}s"
        assert ask(http, b, key, "claude-haiku-4-5").status_code == 200

        # One rpm budget for both instances (counted in Redis).
        admin(http, a, "PATCH", f"/keys/{key_id}", {"limits": {"rpm": 2}})
        time.sleep(SEEN_WITHIN)
        assert ask(http, a, key).status_code == 200
        assert ask(http, b, key).status_code == 200
        refused = ask(http, b, key)
        assert refused.status_code == 429 and float(refused.headers["retry-after"]) > 0
        assert ask(http, a, key).status_code == 429

        admin(http, a, "PATCH", f"/keys/{key_id}", {"limits": None})
        time.sleep(SEEN_WITHIN)
        assert ask(http, b, key).status_code == 200
        admin(http, a, "DELETE", f"/keys/{key_id}")
        took = seconds_until(lambda: ask(http, b, key).status_code == 401)
        assert took <= SEEN_WITHIN, f"B refused the revoked key after {took:.2f}s"
        assert "revoked" in ask(http, b, key).text
