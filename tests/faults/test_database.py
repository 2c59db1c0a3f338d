"""A real gateway on a private PostgreSQL that is stopped, then frozen (SIGSTOP), mid-traffic.

While the database is away every client request is still answered from what the process
knows (settings key, a stored key seen before, pool state), without waiting on the database;
``/ready`` stays 200 and says the database is away; no body names the database; the request
logs and pool counters written meanwhile reach the database once it is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.faults.conftest import PG_DATABASE, PG_PORT, PG_USER, PrivatePostgres
from tests.live import LiveStack, live_stack

STORED_KEY = "kg-fault-test-stored-key-0123456789"
# Generous hang guards: an answer from memory takes milliseconds; a request that waited on a
# frozen database took 10 s before the fix.
REQUEST_GUARD = 8.0
POLL_GUARD = 30.0
# Long enough for the access checks' 5 s reload to have run (and failed) during the outage.
OUTAGE_TRAFFIC_SECONDS = 7.0
# The port as an address would show it: bare, its digits can turn up in a random message id.
DB_DETAILS = (PG_USER, PG_DATABASE, f":{PG_PORT}", "asyncpg", "psycopg", "127.0.0.1:")


async def _add_stored_key(url: str, data_dir: Path) -> None:
    from kirogate.store import Store

    store = await Store.open(database_url=url, data_dir=data_dir)
    try:
        await store.add_api_key("fault test", STORED_KEY)
    finally:
        await store.close()


async def _query(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(url.replace("postgresql://", "postgres://"), timeout=5)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def query(pg: PrivatePostgres, sql: str) -> Any:
    return asyncio.run(_query(pg.url, sql))


@pytest.fixture(scope="module")
def stack(
    private_pg: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    tmp = tmp_path_factory.mktemp("dbfault")
    asyncio.run(_add_stored_key(private_pg.url, tmp / "data"))
    with live_stack(tmp, serve_args=["--database-url", private_pg.url]) as running:
        yield running


class Client:
    """Client requests through both dialects, every body kept for the leak check."""

    def __init__(self, stack: LiveStack) -> None:
        self.http = httpx.Client(base_url=stack.base_url, timeout=REQUEST_GUARD)
        # /metrics takes the admin key kirogate serve generated into the data dir.
        self.admin_key = (stack.data_dir / "admin_key").read_text(encoding="utf-8").strip()
        self.bodies: list[str] = []
        self.request_ids: list[str] = []

    def close(self) -> None:
        self.http.close()

    def _keep(self, response: httpx.Response) -> httpx.Response:
        self.bodies.append(response.text)
        return response

    def anthropic(self, key: str) -> httpx.Response:
        response = self._keep(
            self.http.post(
                "/v1/messages",
                headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                json={
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 64,
                    "messages": [{"role": "user", "content": "hello"}],
                },
            )
        )
        if response.status_code == 200:
            self.request_ids.append(response.headers["x-request-id"])
        return response

    def anthropic_stream(self, key: str) -> httpx.Response:
        response = self._keep(
            self.http.post(
                "/v1/messages",
                headers={"x-api-key": key, "anthropic-version": "2023-06-01"},
                json={
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 64,
                    "stream": True,
                    "messages": [{"role": "user", "content": "hello"}],
                },
            )
        )
        if response.status_code == 200:
            assert "event: message_stop" in response.text, response.text
            self.request_ids.append(response.headers["x-request-id"])
        return response

    def openai(self, key: str) -> httpx.Response:
        response = self._keep(
            self.http.post(
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {key}"},
                json={
                    "model": "claude-sonnet-4-5",
                    "messages": [{"role": "user", "content": "hello"}],
                },
            )
        )
        if response.status_code == 200:
            self.request_ids.append(response.headers["x-request-id"])
        return response

    def ready(self) -> dict[str, Any]:
        response = self._keep(self.http.get("/ready"))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def metrics(self) -> str:
        response = self.http.get("/metrics", headers={"x-api-key": self.admin_key})
        assert response.status_code == 200, response.text
        return response.text


def poll(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + POLL_GUARD
    while not check():
        assert time.monotonic() < deadline, f"{what} within {POLL_GUARD}s"
        time.sleep(0.1)


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def successes(pg: PrivatePostgres) -> int:
    return int(query(pg, "SELECT COALESCE(SUM(success_count), 0) AS n FROM credentials")[0]["n"])


def logged_ids(pg: PrivatePostgres) -> set[str]:
    return {row["request_id"] for row in query(pg, "SELECT request_id FROM request_logs")}


def serve_through_outage(client: Client, stack: LiveStack) -> int:
    """Requests of both dialects and both kinds of key until the outage is well established;
    every one answered 200. Returns how many were made."""
    poll(lambda: client.ready()["database"] == "unreachable", "/ready reports the database away")
    body = client.ready()
    assert body["ready"] is True and body["degraded"] is True
    assert "database" in body["database_reason"]
    made = 0
    started = time.monotonic()
    while time.monotonic() - started < OUTAGE_TRAFFIC_SECONDS:
        answered = (
            client.anthropic(stack.api_key),
            client.openai(STORED_KEY),
            client.anthropic_stream(STORED_KEY),
        )
        for response in answered:
            assert response.status_code == 200, response.text
            made += 1
    return made


def check_unknown_key_is_a_plain_503(client: Client) -> None:
    response = client.anthropic("kg-a-key-this-gateway-never-saw-0000")
    assert response.status_code == 503
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "overloaded_error"
    assert "database is unavailable" in response.json()["error"]["message"]
    response = client.openai("kg-another-key-never-seen-000000000")
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "server_error"


def check_recovery(client: Client, pg: PrivatePostgres, before: int, made: int) -> None:
    poll(lambda: client.ready()["database"] == "ok", "/ready reports the database back")
    assert client.ready()["degraded"] is False
    wanted = set(client.request_ids)
    poll(lambda: wanted <= logged_ids(pg), "the outage's request logs written")
    poll(lambda: successes(pg) >= before + made, "the outage's pool counters written")
    assert metric(client.metrics(), 'kirogate_store_writes_dropped_total{kind="request_log"}') == 0
    for body in client.bodies:
        for detail in DB_DETAILS:
            assert detail not in body, (detail, body)


def warm_up(client: Client, stack: LiveStack) -> None:
    assert client.anthropic(stack.api_key).status_code == 200
    assert client.openai(STORED_KEY).status_code == 200
    assert client.ready()["database"] == "ok"


def test_a_stopped_database_does_not_stop_client_traffic(
    stack: LiveStack, private_pg: PrivatePostgres
) -> None:
    client = Client(stack)
    try:
        warm_up(client, stack)
        before = successes(private_pg)
        private_pg.stop()
        try:
            made = serve_through_outage(client, stack)
            check_unknown_key_is_a_plain_503(client)
            numbers = client.metrics()
            assert metric(numbers, "kirogate_database_up") == 0
            assert metric(numbers, 'kirogate_store_writes_queued{kind="request_log"}') > 0
        finally:
            private_pg.start()
        check_recovery(client, private_pg, before, made)
    finally:
        client.close()


def test_a_frozen_database_does_not_hold_client_requests(
    stack: LiveStack, private_pg: PrivatePostgres
) -> None:
    client = Client(stack)
    try:
        warm_up(client, stack)
        before = successes(private_pg)
        private_pg.freeze()
        try:
            made = serve_through_outage(client, stack)
            check_unknown_key_is_a_plain_503(client)
            assert metric(client.metrics(), "kirogate_database_up") == 0
        finally:
            private_pg.thaw()
        check_recovery(client, private_pg, before, made)
    finally:
        client.close()
