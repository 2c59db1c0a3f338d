"""``/api/admin/logs``, ``/api/admin/stats`` and ``/api/admin/live`` over a persistent gateway
on the emulator (SQLite and PostgreSQL): real requests make the rows, refused ones too."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn

from kirogate.admin import logs as admin_logs
from kirogate.api.app import create_app
from kirogate.emulator.app import start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.service.logs import RequestLogEntry
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.store.conftest import pg_database, pg_url, reset_pg_schema

__all__ = ["pg_database"]  # the fixture, for the PostgreSQL runs

ADMIN_KEY = "admin-key-for-log-tests"
CLIENT_KEY = "sk-client-log-tests"
REFRESH = "aorAAAA-refresh-token-logs-" + "r" * 100
ADMIN = {"x-api-key": ADMIN_KEY}
CLIENT = {"x-api-key": CLIENT_KEY}
T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
MESSAGE = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "hello"}],
}
LIVE_PORTS = iter(range(21400, 21500))
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


class Served:
    def __init__(self, gateway: Gateway, http: httpx2.AsyncClient, app: Any) -> None:
        self.gateway = gateway
        self.http = http
        self.app = app

    @property
    def store(self) -> Any:
        assert self.gateway.store is not None
        return self.gateway.store

    async def rows(self, **params: Any) -> list[dict[str, Any]]:
        await self.store.flush_request_logs()
        reply = await self.http.get("/api/admin/logs", params=params, headers=ADMIN)
        assert reply.status_code == 200, reply.text
        rows: list[dict[str, Any]] = reply.json()["rows"]
        return rows


@pytest.fixture(params=["sqlite", "postgresql"])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Served]:
    emulator = await start_emulator(EmulatorConfig(port=0))
    emulator.state.register_credential(refresh_token=REFRESH, auth_method="social")
    overrides: dict[str, Any] = {
        "upstream.url": emulator.url,
        "upstream.usage_interval": 0,
        "server.api_keys": (CLIENT_KEY,),
        "server.admin_key": ADMIN_KEY,
        "data_dir": tmp_path,
    }
    if request.param == "postgresql":
        database = request.getfixturevalue("pg_database")
        await reset_pg_schema(database)
        overrides["database_url"] = pg_url(database)
    credential = Credential(AuthMethod.SOCIAL, refresh_token=REFRESH, id=1)
    gateway = Gateway(load_settings({}, overrides), [credential], persistent=True)
    await gateway.start()
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("10.1.2.3", 4567))
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Served(gateway, http, app)
    finally:
        await gateway.close()
        await emulator.close()


def entry(n: int, **fields: Any) -> RequestLogEntry:
    values: dict[str, Any] = {
        "at": T0 + timedelta(minutes=n),
        "request_id": f"req-{n}",
        "endpoint": "/v1/messages",
        "model": "claude-sonnet-4",
        "status": 200,
    }
    values.update(fields)
    return RequestLogEntry(**values)


def bodies_on(served: Served, limit: int = 64 * 1024) -> None:
    settings = served.gateway.settings
    served.gateway.settings = replace(
        settings, log=replace(settings.log, bodies=True, body_limit=limit)
    )


# ---------------------------------------------------------------- rows from real requests


async def test_an_answer_gets_a_row_naming_key_address_model_and_tokens(served: Served) -> None:
    reply = await served.http.post("/v1/messages", json=MESSAGE, headers=CLIENT)
    assert reply.status_code == 200
    streamed = await served.http.post(
        "/v1/messages", json={**MESSAGE, "stream": True}, headers=CLIENT
    )
    assert streamed.status_code == 200
    stream_row, plain_row = await served.rows()
    assert plain_row["status"] == 200
    assert plain_row["endpoint"] == "/v1/messages"
    assert plain_row["model"] == "claude-sonnet-4-5"
    assert plain_row["model_sent"]
    assert plain_row["key_name"] == "default" and plain_row["key_id"] is None
    assert plain_row["client_address"] == "10.1.2.3"
    assert plain_row["credential_id"] == 1
    assert plain_row["streamed"] is False and stream_row["streamed"] is True
    assert plain_row["input_tokens"] > 0 and plain_row["output_tokens"] > 0
    assert plain_row["latency_ms"] >= plain_row["ttft_ms"] >= 0
    assert plain_row["request_id"] == reply.headers["x-request-id"]


async def test_the_callers_key_and_address_are_taken_from_the_access_check(
    served: Served,
) -> None:
    record, plaintext = await served.gateway.operations.create_key("alice")
    reply = await served.http.post("/v1/messages", json=MESSAGE, headers={"x-api-key": plaintext})
    assert reply.is_success
    (row,) = await served.rows()
    assert (row["key_id"], row["key_name"], row["client_address"]) == (
        record.id,
        "alice",
        "10.1.2.3",
    )


async def test_refused_requests_get_rows_too(served: Served) -> None:
    assert (await served.http.post("/v1/messages", json=MESSAGE)).status_code == 401
    bad = await served.http.post("/v1/chat/completions", content=b"{", headers=CLIENT)
    assert bad.status_code == 400
    unknown = await served.http.post(
        "/v1/messages", json={**MESSAGE, "model": "no-such-model-x"}, headers=CLIENT
    )
    assert unknown.status_code == 404
    rows = await served.rows()
    assert [(r["endpoint"], r["status"]) for r in rows] == [
        ("/v1/messages", 404),
        ("/v1/chat/completions", 400),
        ("/v1/messages", 401),
    ]
    refused = rows[-1]
    assert refused["error_type"] == "authentication_error"
    assert "missing API key" in refused["error"]
    assert refused["key_name"] is None and refused["client_address"] == "10.1.2.3"
    assert refused["latency_ms"] is not None
    assert (await served.rows(status="4xx")) == rows


async def test_a_rate_limited_request_gets_its_429_row(served: Served) -> None:
    settings = served.gateway.settings
    served.gateway.settings = replace(settings, server=replace(settings.server, rate_limit_rpm=1))
    assert (await served.http.post("/v1/messages", json=MESSAGE, headers=CLIENT)).is_success
    limited = await served.http.post("/v1/messages", json=MESSAGE, headers=CLIENT)
    assert limited.status_code == 429
    newest, answered = await served.rows()
    assert (newest["status"], newest["error_type"]) == (429, "rate_limit_error")
    assert newest["key_name"] is None or newest["key_name"] == "default"
    assert answered["status"] == 200


async def test_a_failure_after_the_answer_adds_no_second_row(served: Served) -> None:
    assert (await served.http.post("/v1/messages", json=MESSAGE, headers=CLIENT)).is_success
    assert len(await served.rows()) == 1


# ---------------------------------------------------------------- filters and pages


async def seed(served: Served) -> None:
    for n in range(30):
        served.store.log_request(
            entry(
                n,
                status=200 if n % 3 else 429,
                model="claude-opus-4" if n % 5 == 0 else "claude-sonnet-4",
                api_key_id=n % 2,
                credential_id=n % 4,
                client_address="10.0.0.1" if n < 10 else "10.0.0.2",
                endpoint="/v1/chat/completions" if n >= 25 else "/v1/messages",
                duration_ms=float(n),
            )
        )
    await served.store.flush_request_logs()


async def test_filters_narrow_the_listing(served: Served) -> None:
    await seed(served)
    assert len(await served.rows(limit=100)) == 30
    assert {r["status"] for r in await served.rows(status="429", limit=100)} == {429}
    assert len(await served.rows(status="4xx", limit=100)) == 10
    assert len(await served.rows(status="5xx", limit=100)) == 0
    assert len(await served.rows(model="claude-opus-4", limit=100)) == 6
    assert len(await served.rows(key_id="1", limit=100)) == 15
    assert len(await served.rows(credential_id="3", limit=100)) == 7
    assert len(await served.rows(client="10.0.0.1", limit=100)) == 10
    assert len(await served.rows(endpoint="/v1/chat/completions", limit=100)) == 5
    window = {"since": "2030-01-01T10:05:00Z", "until": "2030-01-01T10:10:00Z"}
    assert [r["request_id"] for r in await served.rows(**window)] == [
        f"req-{n}" for n in (9, 8, 7, 6, 5)
    ]
    epoch = str(int((T0 + timedelta(minutes=28)).timestamp()))
    assert len(await served.rows(since=epoch)) == 2


async def test_the_cursor_walks_every_page_once(served: Served) -> None:
    await seed(served)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 7, "status": "2xx"}
        if cursor:
            params["cursor"] = cursor
        reply = await served.http.get("/api/admin/logs", params=params, headers=ADMIN)
        body = reply.json()
        seen += [row["request_id"] for row in body["rows"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 20


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/admin/logs", {"limit": "0"}, "limit"),
        ("/api/admin/logs", {"limit": "x"}, "limit"),
        ("/api/admin/logs", {"status": "abc"}, "status"),
        ("/api/admin/logs", {"status": "6xx"}, "status"),
        ("/api/admin/logs", {"since": "yesterday"}, "since"),
        ("/api/admin/logs", {"until": "2030-13-01"}, "until"),
        ("/api/admin/logs", {"since": "2030-01-02", "until": "2030-01-01"}, "until"),
        ("/api/admin/logs", {"key_id": "-1"}, "key_id"),
        ("/api/admin/logs", {"credential_id": "one"}, "credential_id"),
        ("/api/admin/logs", {"cursor": "not-a-cursor"}, "cursor"),
        ("/api/admin/logs/export", {"status": "9"}, "status"),
        ("/api/admin/logs/abc", {}, "id"),
        ("/api/admin/stats", {"bucket": "week"}, "bucket"),
        ("/api/admin/stats", {"since": "2020-01-01T00:00:00Z", "bucket": "minute"}, "bucket"),
        ("/api/admin/stats", {"since": "soon"}, "since"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    served: Served, path: str, params: dict[str, str], field: str
) -> None:
    reply = await served.http.get(path, params=params, headers=ADMIN)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request"
    assert error["message"].startswith(field + ":"), error


async def test_delete_needs_a_valid_before(served: Served) -> None:
    missing = await served.http.delete("/api/admin/logs", headers=ADMIN)
    assert missing.status_code == 400 and missing.json()["error"]["message"].startswith("before:")
    wrong = await served.http.delete("/api/admin/logs", params={"before": "x"}, headers=ADMIN)
    assert wrong.status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/admin/logs"),
        ("GET", "/api/admin/logs/1"),
        ("GET", "/api/admin/logs/export"),
        ("DELETE", "/api/admin/logs?before=2030-01-01"),
        ("GET", "/api/admin/stats"),
        ("GET", "/api/admin/live"),
    ],
)
async def test_every_route_needs_the_admin_key(served: Served, method: str, path: str) -> None:
    for headers in ({}, CLIENT, {"x-api-key": "wrong"}):
        reply = await served.http.request(method, path, headers=headers)
        assert reply.status_code == 401, (headers, reply.text)
        assert reply.json()["error"]["type"] == "authentication_error"


# ---------------------------------------------------------------- one row, deletion, export


async def test_detail_shows_one_row_and_404s_for_others(served: Served) -> None:
    await seed(served)
    newest = (await served.rows(limit=1))[0]
    reply = await served.http.get(f"/api/admin/logs/{newest['id']}", headers=ADMIN)
    assert reply.status_code == 200
    detail = reply.json()
    assert detail["request_id"] == "req-29"
    assert detail["request_body"] is None and detail["response_body"] is None
    missing = await served.http.get("/api/admin/logs/999999999", headers=ADMIN)
    assert missing.status_code == 404


async def test_bodies_are_recorded_redacted_and_capped_when_switched_on(served: Served) -> None:
    assert (await served.http.post("/v1/messages", json=MESSAGE, headers=CLIENT)).is_success
    assert (await served.rows())[0]["id"]
    bodies_on(served, limit=2048)
    picture = PNG
    body = {
        **MESSAGE,
        "metadata": {"user_id": "u1", "api_key": "sk-very-secret-value-123"},
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "see Bearer abcdefghijklmnop1234 and this"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": picture},
                    },
                ],
            }
        ],
    }
    headers = {**CLIENT, "authorization": "Bearer sk-client-log-tests"}
    reply = await served.http.post("/v1/messages", json=body, headers=headers)
    assert reply.status_code == 200, reply.text
    newest = (await served.rows())[0]
    detail = (await served.http.get(f"/api/admin/logs/{newest['id']}", headers=ADMIN)).json()
    recorded = detail["request_body"]
    assert "sk-very-secret-value-123" not in recorded and "[redacted]" in recorded
    assert "abcdefghijklmnop1234" not in recorded
    assert picture not in recorded and f"[image: {len(PNG)} base64 characters]" in recorded
    assert len(recorded.encode()) <= 2048 + 40
    assert detail["response_body"] and "content" in detail["response_body"]
    # A big answer is cut at the limit.
    bodies_on(served, limit=64)
    assert (await served.http.post("/v1/messages", json=MESSAGE, headers=CLIENT)).is_success
    newest = (await served.rows())[0]
    detail = (await served.http.get(f"/api/admin/logs/{newest['id']}", headers=ADMIN)).json()
    assert "[cut:" in detail["response_body"] and "[cut:" in detail["request_body"]
    # The listing never carries bodies.
    assert "request_body" not in newest


async def test_a_refused_request_is_recorded_with_its_body(served: Served) -> None:
    bodies_on(served)
    reply = await served.http.post("/v1/chat/completions", content=b"{oops", headers=CLIENT)
    assert reply.status_code == 400
    (row,) = await served.rows()
    detail = (await served.http.get(f"/api/admin/logs/{row['id']}", headers=ADMIN)).json()
    assert detail["request_body"] == "{oops"
    assert "invalid_request_error" in detail["response_body"]


async def test_delete_before_answers_how_many_went(served: Served) -> None:
    await seed(served)
    reply = await served.http.delete(
        "/api/admin/logs", params={"before": "2030-01-01T10:10:00Z"}, headers=ADMIN
    )
    assert reply.status_code == 200 and reply.json() == {"deleted": 10}
    assert len(await served.rows(limit=100)) == 20


async def test_export_is_csv_with_the_filters(served: Served) -> None:
    await seed(served)
    reply = await served.http.get("/api/admin/logs/export", params={"status": "429"}, headers=ADMIN)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert len(rows) == 10 and {row["status"] for row in rows} == {"429"}
    assert rows[0]["request_id"] == "req-27"


# ---------------------------------------------------------------- stats


async def test_stats_answer_buckets_and_totals(served: Served) -> None:
    await seed(served)
    params = {"since": "2030-01-01T10:00:00Z", "until": "2030-01-01T11:00:00Z", "bucket": "minute"}
    reply = await served.http.get("/api/admin/stats", params=params, headers=ADMIN)
    assert reply.status_code == 200, reply.text
    stats = reply.json()
    assert stats["bucket"] == "minute" and len(stats["buckets"]) == 30
    assert stats["buckets"][0]["start"] == "2030-01-01T10:00:00Z"
    assert stats["total"]["requests"] == 30
    assert stats["total"]["errors"] == {"4xx": 10, "5xx": 0}
    assert stats["total"]["latency_ms"]["p50"] == 14.0  # 15th of 0..29
    assert {row["model"]: row["requests"] for row in stats["per_model"]} == {
        "claude-sonnet-4": 24,
        "claude-opus-4": 6,
    }
    hourly = await served.http.get(
        "/api/admin/stats", params={**params, "status": "4xx", "bucket": "hour"}, headers=ADMIN
    )
    (bucket,) = hourly.json()["buckets"]
    assert bucket["requests"] == 10 and bucket["start"] == "2030-01-01T10:00:00Z"


async def test_stats_default_to_the_last_day(served: Served) -> None:
    assert (await served.http.post("/v1/messages", json=MESSAGE, headers=CLIENT)).is_success
    await served.store.flush_request_logs()
    reply = await served.http.get("/api/admin/stats", headers=ADMIN)
    assert reply.status_code == 200
    assert reply.json()["total"]["requests"] == 1


# ---------------------------------------------------------------- the live feed


@contextlib.asynccontextmanager
async def live_server(served: Served) -> AsyncIterator[str]:
    """The app on a real socket (an SSE stream needs one), in this event loop."""
    port = next(LIVE_PORTS)
    config = uvicorn.Config(
        served.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def next_event(lines: AsyncIterator[str]) -> tuple[str, dict[str, Any]]:
    kind = ""
    async for line in lines:
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            return kind, json.loads(line.removeprefix("data: "))
    raise AssertionError("the feed ended")


async def test_live_feed_sends_finished_requests_and_credential_states(served: Served) -> None:
    events = served.gateway.events
    async with live_server(served) as base, httpx2.AsyncClient(base_url=base) as http:
        feed = await http.send(
            http.build_request("GET", "/api/admin/live", headers=ADMIN), stream=True
        )
        try:
            assert feed.status_code == 200
            assert feed.headers["content-type"].startswith("text/event-stream")
            lines = feed.aiter_lines()
            for _ in range(100):
                if events.watched:
                    break
                await asyncio.sleep(0.02)
            answer = await http.post("/v1/messages", json=MESSAGE, headers=CLIENT)
            assert answer.status_code == 200
            kind, event = await asyncio.wait_for(next_event(lines), 10)
            assert kind == "request.finished"
            data = event["data"]
            assert data["id"] == answer.headers["x-request-id"]
            assert data["status"] == 200 and data["endpoint"] == "/v1/messages"
            assert data["model"] == "claude-sonnet-4-5" and data["key_name"] == "default"
            assert data["credential_id"] == 1 and data["output_tokens"] > 0
            assert CLIENT_KEY not in json.dumps(event) and "content" not in data
            events.publish("credential.state", credential_id=1, state="cooling", reason="x")
            events.publish("key.limit", key_id=3)  # not a kind the feed forwards
            kind, event = await asyncio.wait_for(next_event(lines), 10)
            assert kind == "credential.state" and event["data"]["state"] == "cooling"
        finally:
            await feed.aclose()  # the client goes away, the server still runs
        for _ in range(100):
            if not events.watched:
                break
            await asyncio.sleep(0.05)
        assert not events.watched  # the feed's subscription was closed


async def test_live_feed_beats_and_ends_at_shutdown(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_logs, "HEARTBEAT", 0.2)
    monkeypatch.setattr(admin_logs, "_CHECK_EVERY", 0.05)
    async with (
        live_server(served) as base,
        httpx2.AsyncClient(base_url=base) as http,
        http.stream("GET", "/api/admin/live", headers=ADMIN) as feed,
    ):
        lines = feed.aiter_lines()
        seen: list[str] = []
        async with asyncio.timeout(5):
            async for line in lines:
                seen.append(line)
                if line == ": heartbeat":
                    break
        served.gateway.shutdown.begin()
        async with asyncio.timeout(5):
            rest = [line async for line in lines]  # the stream ends
        assert ": connected" in seen
        assert isinstance(rest, list)
    assert not served.gateway.events.watched
