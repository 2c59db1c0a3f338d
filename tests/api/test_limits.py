"""The request body bound: 413 in the caller's error shape, before the body is read whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from kirogate.api.direct import DirectRoutes
from kirogate.api.limits import bounded_receive, declared_length
from kirogate.emulator.app import RunningEmulator
from kirogate.errors import BodyTooLarge
from tests.emulated_gateway import CLIENT_KEY, running

LIMIT = 4096
ADMIN_KEY = "admin-key-for-limits"
HEADERS = {"x-api-key": CLIENT_KEY, "authorization": f"Bearer {CLIENT_KEY}"}


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[httpx2.AsyncClient, RunningEmulator]]:
    async with running(tmp_path, **{"server.max_body_size": LIMIT}) as started:
        yield started


def big_messages_body() -> bytes:
    text = "x" * (LIMIT * 2)
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [user(text)]}
    return orjson.dumps(body)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_declared_body_over_the_limit_is_413_in_anthropic_shape(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, emulator = live
    reply = await http.post("/v1/messages", content=big_messages_body(), headers=HEADERS)
    assert reply.status_code == 413
    assert reply.json()["type"] == "error"
    assert reply.json()["error"]["type"] == "request_too_large"
    assert "server.max_body_size" in reply.json()["error"]["message"]
    assert not emulator.state.requests.entries("/generateAssistantResponse")


async def test_declared_body_over_the_limit_is_413_in_openai_shape(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    reply = await http.post("/v1/chat/completions", content=big_messages_body(), headers=HEADERS)
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "request_too_large"


async def test_chunked_body_over_the_limit_is_413_in_the_dialect(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    for path, shape in (("/v1/messages/count_tokens", "type"), ("/v1/responses", "error")):
        reply = await http.post(path, content=chunks(big_messages_body()), headers=HEADERS)
        assert reply.status_code == 413, path
        assert shape in reply.json()


async def test_body_over_the_limit_is_413_in_the_admin_envelope(tmp_path: Path) -> None:
    settings = {"server.max_body_size": LIMIT, "server.admin_key": ADMIN_KEY}
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    async with running(tmp_path, **settings) as (http, _):
        for content in (big_messages_body(), chunks(big_messages_body())):
            reply = await http.post("/api/admin/credentials", content=content, headers=admin)
            assert reply.status_code == 413
            assert "server.max_body_size" in reply.json()["error"]["message"]
            assert "type" not in reply.json()  # not the Anthropic envelope


async def test_body_under_the_limit_is_served(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    body = {"model": "claude-sonnet-4-5", "messages": [user("hi")]}
    reply = await http.post("/v1/messages/count_tokens", json=body, headers=HEADERS)
    assert reply.status_code == 200, reply.text
    streamed = await http.post(
        "/v1/messages/count_tokens", content=chunks(orjson.dumps(body), 5), headers=HEADERS
    )
    assert streamed.status_code == 200, streamed.text


async def test_declared_length_over_the_limit_is_refused_without_reading_the_body() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app must not be called")

    async def receive() -> Message:
        raise AssertionError("the body must not be read")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/messages",
        "headers": [(b"content-length", b"100000000")],
    }
    await DirectRoutes(app, [], max_body_size=LIMIT)(scope, receive, send)
    assert sent[0]["status"] == 413
    assert orjson.loads(sent[1]["body"])["error"]["type"] == "request_too_large"


def test_declared_length_reads_the_header() -> None:
    assert declared_length({"headers": [(b"content-length", b"12")]}) == 12
    assert declared_length({"headers": [(b"host", b"x")]}) is None
    assert declared_length({"headers": [(b"content-length", b"x")]}) is None


async def test_bounded_receive_raises_once_the_count_passes_the_limit() -> None:
    messages = iter([{"type": "http.request", "body": b"a" * 6, "more_body": True}] * 2)

    async def receive() -> Message:
        return next(messages)

    bounded = bounded_receive(receive, 10)
    await bounded()
    with pytest.raises(BodyTooLarge):
        await bounded()
