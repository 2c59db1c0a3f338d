"""Several real ``kirogate serve`` processes sharing one pool on PostgreSQL (+ Redis).

One emulator, three gateways on a fresh PostgreSQL database (and a flushed Redis database,
or none), three social credentials from one kiro.rs credentials.json. Proves, in order:

1. concurrent load through every process refreshes each expired credential exactly once;
2. access tokens the upstream stops accepting are force-refreshed once, not once per process;
3. a credential disabled through one process's admin API is not used by the others a second
   later;
4. the success counters, read from any process, add up to the requests made;
5. a restarted process loses nothing: counters, the disable, and the current tokens;
6. a Responses API conversation started on one process continues on another.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cluster.conftest import flushed_redis, throwaway_database
from tests.live import clean_env, free_port, wait_ready

pytestmark = pytest.mark.timeout(600)

REDIS_DB = 14  # flushed by these tests; nothing else should live there
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
API_KEY = "mp-client-key"
ADMIN_KEY = "mp-admin-key-0123456789"
SECRET_KEY = "mp-shared-secret-key"  # every process must decrypt what the others stored
MODEL = "claude-sonnet-4-6"
CREDENTIALS = 3
GATEWAYS = 3
BURST = 30  # requests per phase, spread over the gateways
SEEN_WITHIN = 1.0  # seconds: the "seen by all within a second"


@dataclass
class Gateway:
    name: str
    port: int
    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kirogate", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_ready(f"{self.url}/health", self.proc, timeout=90.0)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def tail(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"--- {self.name} ---\n{text[-4000:]}"


@dataclass
class Deployment:
    emulator_url: str
    gateways: list[Gateway]
    accounts: dict[str, str]  # email -> emulator account id
    http: aiohttp.ClientSession
    processes: list[Gateway]
    made: int = 0  # successful client requests so far
    failures: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- emulator

    async def emulator(self, path: str, body: object | None = None) -> Any:
        url = self.emulator_url + path
        if body is None:
            async with self.http.get(url) as response:
                return await response.json()
        async with self.http.post(url, json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def refreshes(self) -> int:
        stats = await self.emulator("/_emulator/stats")
        return int(stats["byPath"].get("/refreshToken", 0))

    async def account_requests(self) -> dict[str, int]:
        listing = await self.emulator("/_emulator/credentials")
        return {row["email"]: row["requests"] for row in listing["credentials"]}

    async def expire_access_tokens(self) -> int:
        recorded = await self.emulator("/_emulator/requests?path=/generateAssistantResponse")
        tokens = set()
        for entry in recorded["requests"]:
            headers = {k.lower(): v for k, v in entry["headers"].items()}
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and token:
                tokens.add(token)
        for token in tokens:
            await self.emulator("/_emulator/expire", {"accessToken": token})
        return len(tokens)

    # ---------------------------------------------------------------- gateways

    async def ask(self, gateway: Gateway, text: str) -> None:
        body = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": text}]}
        headers = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
        async with self.http.post(
            f"{gateway.url}/v1/messages", json=body, headers=headers
        ) as response:
            payload = await response.text()
            if response.status != 200:
                self.failures.append(f"{gateway.name}: HTTP {response.status} {payload[:300]}")
                return
        self.made += 1

    async def respond(self, gateway: Gateway, body: dict[str, Any]) -> Any:
        async with self.http.post(
            f"{gateway.url}/v1/responses",
            json={"model": MODEL, "max_output_tokens": 64, **body},
            headers={"authorization": f"Bearer {API_KEY}"},
        ) as response:
            text = await response.text()
            assert response.status == 200, f"{gateway.name}: {text}"
            return json.loads(text)

    async def burst(self, gateways: list[Gateway], count: int = BURST) -> None:
        await asyncio.gather(
            *(self.ask(gateways[i % len(gateways)], f"request {i}") for i in range(count))
        )
        assert not self.failures, "\n".join(self.failures)

    async def admin(self, gateway: Gateway, method: str, path: str, body: object = None) -> Any:
        async with self.http.request(
            method,
            f"{gateway.url}/api/admin{path}",
            json=body,
            headers={"x-api-key": ADMIN_KEY},
        ) as response:
            text = await response.text()
            assert response.status == 200, f"{method} {path} on {gateway.name}: {text}"
            return json.loads(text)

    async def listing(self, gateway: Gateway) -> dict[str, dict[str, Any]]:
        rows = (await self.admin(gateway, "GET", "/credentials"))["credentials"]
        return {row["email"]: row for row in rows}

    async def time_until_disabled(self, gateways: list[Gateway], email: str) -> float:
        """Seconds until every one of ``gateways`` lists ``email`` as disabled (polled)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiting = list(gateways)
        while waiting and loop.time() - started < 5 * SEEN_WITHIN:
            waiting = [g for g in waiting if not (await self.listing(g))[email]["disabled"]]
            if waiting:
                await asyncio.sleep(0.05)
        return loop.time() - started

    async def wait_for_total(self, gateway: Gateway, expected: int, within: float = 10.0) -> int:
        """Poll one process's listing until its success counters add up to ``expected``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            total = sum(row["successCount"] for row in (await self.listing(gateway)).values())
            if total == expected or loop.time() > deadline:
                return total
            await asyncio.sleep(0.2)


# -------------------------------------------------------------------- fixtures


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with throwaway_database("kg_mp") as url:
        yield url


@contextmanager
def processes(gateways: list[Gateway], emulator: Gateway) -> Iterator[None]:
    try:
        yield
    except BaseException:
        for gateway in [emulator, *gateways]:
            print(gateway.tail(), file=sys.stderr)
        raise
    finally:
        for gateway in gateways:
            gateway.stop()
        emulator.stop()


@pytest.fixture(params=["postgres+redis", "postgres-only"])
async def deployment(
    request: pytest.FixtureRequest, database: str, tmp_path: Path
) -> AsyncIterator[Deployment]:
    with_redis = request.param == "postgres+redis"
    if with_redis:
        await flushed_redis(REDIS_URL)
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home) | {"KIROGATE_SECRET_KEY": SECRET_KEY}
    run = uuid.uuid4().hex[:8]
    entries = [
        {
            "refreshToken": f"aorAAAAAGmp{run}{index}" + "r" * 100,
            "authMethod": "social",
            "email": f"mp{index}@example.com",
        }
        for index in range(1, CREDENTIALS + 1)
    ]
    credentials_file = tmp_path / "credentials.json"
    credentials_file.write_text(json.dumps(entries), encoding="utf-8")
    credentials_file.chmod(0o600)

    emu_port = free_port()
    emulator = Gateway(
        "emulator",
        emu_port,
        ["emulator", "--port", str(emu_port)],
        env,
        tmp_path / "emulator.log",
    )
    emulator_url = emulator.url
    gateways = []
    for index in range(GATEWAYS):
        port = free_port()
        args = [
            "serve",
            "--port",
            str(port),
            "--api-key",
            API_KEY,
            "--admin-key",
            ADMIN_KEY,
            "--credentials",
            str(credentials_file),
            "--upstream-url",
            emulator_url,
            "--data-dir",
            str(tmp_path / f"data{index}"),
            "--database-url",
            database,
            "--pool-mode",
            "round_robin",
            "--log-level",
            "warning",
        ]
        if with_redis:
            args += ["--redis-url", REDIS_URL]
        gateways.append(Gateway(f"gateway{index}", port, args, env, tmp_path / f"gw{index}.log"))

    with processes(gateways, emulator):
        await asyncio.to_thread(emulator.start)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            accounts = {}
            for entry in entries:
                async with http.post(
                    f"{emulator_url}/_emulator/credentials",
                    json={k: entry[k] for k in ("refreshToken", "authMethod", "email")},
                ) as response:
                    assert response.status == 200, await response.text()
                    accounts[str(entry["email"])] = (await response.json())["id"]
            # All started before any traffic, so none imports the file after a rotation.
            for gateway in gateways:
                await asyncio.to_thread(gateway.start)
            yield Deployment(emulator_url, gateways, accounts, http, [emulator, *gateways])


# -------------------------------------------------------------------- the test


async def test_processes_share_one_pool(deployment: Deployment) -> None:
    try:
        await share_one_pool(deployment)
    except BaseException:
        for process in deployment.processes:
            print(process.tail(), file=sys.stderr)
        raise


async def share_one_pool(d: Deployment) -> None:
    gateways = d.gateways
    first, others = gateways[0], gateways[1:]

    # 1. Every credential starts without an access token: one refresh each, for everyone.
    await d.burst(gateways)
    assert await d.refreshes() == CREDENTIALS, "one refresh per credential across processes"
    used = await d.account_requests()
    assert all(count > 0 for count in used.values()), f"round robin used only {used}"

    # 2. The upstream stops accepting the access tokens: each is refreshed once more.
    assert await d.expire_access_tokens() == CREDENTIALS
    await d.burst(gateways)
    assert await d.refreshes() == 2 * CREDENTIALS, "one forced refresh per credential"

    # 3. Disabled through one process, unused by the others a second later.
    rows = await d.listing(first)
    victim = rows["mp2@example.com"]
    await d.admin(first, "POST", f"/credentials/{victim['id']}/disabled", {"disabled": True})
    took = await d.time_until_disabled(others, "mp2@example.com")
    assert took <= SEEN_WITHIN, f"the others saw the disable after {took:.2f}s"
    before = (await d.account_requests())["mp2@example.com"]
    await d.burst(others)
    used_after = (await d.account_requests())["mp2@example.com"] - before
    assert used_after == 0, f"the disabled credential served {used_after} requests"
    for gateway in others:
        assert (await d.listing(gateway))["mp2@example.com"]["disabled"] is True, gateway.name

    # 4. No lost counter updates: any process reports every success of every process.
    for gateway in gateways:
        assert await d.wait_for_total(gateway, d.made) == d.made, gateway.name

    # 5. A restarted process loses nothing.
    restarted = gateways[-1]
    await asyncio.to_thread(restarted.stop)
    await asyncio.to_thread(restarted.start)
    after = await d.listing(restarted)
    assert sum(row["successCount"] for row in after.values()) == d.made, "counters restored"
    assert after["mp2@example.com"]["disabled"] is True, "disable restored"
    refreshes = await d.refreshes()
    await d.burst([restarted], count=9)
    assert await d.refreshes() == refreshes, "the restarted process reuses the stored tokens"
    assert (await d.account_requests())["mp2@example.com"] == before
    final = await d.listing(first)
    assert [row["email"] for row in final.values() if row["disabled"]] == ["mp2@example.com"]
    assert await d.wait_for_total(first, d.made) == d.made

    # 6. A Responses API conversation answered by one process continues on another, and a
    #    third one serves the stored response.
    opened = await d.respond(first, {"input": "first turn"})
    continued = await d.respond(
        gateways[1], {"input": "second turn", "previous_response_id": opened["id"]}
    )
    assert continued["status"] == "completed"
    async with d.http.get(
        f"{gateways[2].url}/v1/responses/{continued['id']}",
        headers={"authorization": f"Bearer {API_KEY}"},
    ) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["id"] == continued["id"]
