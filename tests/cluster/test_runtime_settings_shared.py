"""A setting changed through one ``kirogate serve`` reaches another within a second
(PostgreSQL + Redis, two real processes, one emulator)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cluster.conftest import flushed_redis
from tests.cluster.test_multiprocess import Gateway, database
from tests.live import clean_env, free_port

__all__ = ["database"]

pytestmark = pytest.mark.timeout(300)

REDIS_URL = "redis://127.0.0.1:6379/9"  # this branch's database
API_KEY = "rs-client-key"
ADMIN_KEY = "rs-admin-key-0123456789"
SEEN_WITHIN = 1.0


@pytest.fixture
async def pair(database: str, tmp_path: Path) -> AsyncIterator[list[Gateway]]:
    await flushed_redis(REDIS_URL)
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home) | {"KIROGATE_SECRET_KEY": "rs-shared-secret"}
    refresh = f"aorAAAAAGrs{uuid.uuid4().hex[:8]}" + "r" * 100
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps([{"refreshToken": refresh, "authMethod": "social"}]))
    credentials.chmod(0o600)
    emu_port = free_port()
    emulator = Gateway("emulator", emu_port, ["emulator", "--port", str(emu_port)], env,
                       tmp_path / "emulator.log")  # fmt: skip
    gateways = []
    for index in range(2):
        port = free_port()
        args = ["serve", "--port", str(port), "--api-key", API_KEY, "--admin-key", ADMIN_KEY,
                "--credentials", str(credentials), "--upstream-url", emulator.url,
                "--data-dir", str(tmp_path / f"data{index}"), "--database-url", database,
                "--redis-url", REDIS_URL, "--pool-mode", "balanced", "--log-level", "warning"]  # fmt: skip
        gateways.append(Gateway(f"gateway{index}", port, args, env, tmp_path / f"gw{index}.log"))
    try:
        await asyncio.to_thread(emulator.start)
        async with aiohttp.ClientSession() as http:
            body = {"refreshToken": refresh, "authMethod": "social"}
            async with http.post(f"{emulator.url}/_emulator/credentials", json=body) as reply:
                assert reply.status == 200, await reply.text()
        for gateway in gateways:
            await asyncio.to_thread(gateway.start)
        yield gateways
    except BaseException:
        for process in [emulator, *gateways]:
            print(process.tail(), file=sys.stderr)
        raise
    finally:
        for gateway in gateways:
            gateway.stop()
        emulator.stop()


async def _get(http: aiohttp.ClientSession, url: str, key: str) -> Any:
    async with http.get(url, headers={"x-api-key": key}) as reply:
        assert reply.status == 200, await reply.text()
        return await reply.json()


async def _within(check: Any) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await check():
        assert loop.time() - started < 5 * SEEN_WITHIN, "never seen"
        await asyncio.sleep(0.05)
    return loop.time() - started


async def test_a_setting_changed_on_one_instance_applies_on_the_other(pair: list[Gateway]) -> None:
    a, b = pair
    async with aiohttp.ClientSession() as http:
        assert await _listed(http, b)
        body = {"models.hidden": ["claude-sonnet-4-6"], "pool.mode": "round_robin"}
        async with http.patch(
            f"{a.url}/api/admin/settings", json=body, headers={"x-api-key": ADMIN_KEY}
        ) as reply:
            assert reply.status == 200, await reply.text()

        async def hidden_on_b() -> bool:
            listed = await _get(http, f"{b.url}/v1/models", API_KEY)
            return "claude-sonnet-4-6" not in [row["id"] for row in listed["data"]]

        assert await _within(hidden_on_b) < SEEN_WITHIN
        mode = await _get(http, f"{b.url}/api/admin/config/load-balancing", ADMIN_KEY)
        assert mode == {"mode": "round_robin"}
        rows = await _get(http, f"{b.url}/api/admin/settings", ADMIN_KEY)
        row = {r["key"]: r for r in rows["settings"]}["pool.mode"]
        assert (row["origin"], row["overrides"]["origin"]) == ("runtime", "flag")

        async with http.delete(
            f"{b.url}/api/admin/settings/models.hidden", headers={"x-api-key": ADMIN_KEY}
        ) as reply:
            assert reply.status == 200, await reply.text()

        assert await _within(lambda: _listed(http, a)) < SEEN_WITHIN

        # kiro.rs's route sets the same runtime setting: B takes A's mode too.
        async with http.put(
            f"{a.url}/api/admin/config/load-balancing",
            json={"mode": "random"},
            headers={"x-api-key": ADMIN_KEY},
        ) as reply:
            assert reply.status == 200, await reply.text()

        async def random_on_b() -> bool:
            mode = await _get(http, f"{b.url}/api/admin/config/load-balancing", ADMIN_KEY)
            return bool(mode == {"mode": "random"})

        assert await _within(random_on_b) < SEEN_WITHIN


async def _listed(http: aiohttp.ClientSession, gateway: Gateway) -> bool:
    listed = await _get(http, f"{gateway.url}/v1/models", API_KEY)
    return "claude-sonnet-4-6" in [row["id"] for row in listed["data"]]
