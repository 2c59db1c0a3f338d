"""The stop through the whole app: a real Gateway on the in-process emulator, cut mid-answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.emulator.app import start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.emulated_gateway import CLIENT_KEY, REFRESH

HANG_GUARD = 30.0
STALLED = "[[emu:stall seconds=300 after=1]] hello"
HEADERS = {"x-api-key": CLIENT_KEY, "authorization": f"Bearer {CLIENT_KEY}"}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[httpx2.AsyncClient, Gateway]]:
    emulator = await start_emulator(EmulatorConfig(port=0))
    emulator.state.register_credential(refresh_token=REFRESH, auth_method="social")
    overrides = {
        "upstream.url": emulator.url,
        "upstream.usage_interval": 0,
        "server.api_keys": (CLIENT_KEY,),
        "server.shutdown_grace": 0,
        "data_dir": tmp_path,
    }
    credential = Credential(AuthMethod.SOCIAL, refresh_token=REFRESH, id=1)
    gateway = Gateway(load_settings({}, overrides), [credential])
    await gateway.start()
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, gateway
    finally:
        await gateway.close()
        await emulator.close()


async def _cut_mid_answer(
    http: httpx2.AsyncClient, gateway: Gateway, path: str, body: dict[str, Any]
) -> httpx2.Response:
    sent = asyncio.ensure_future(http.post(path, json=body, headers=HEADERS))
    for _ in range(int(HANG_GUARD * 100)):
        if gateway.shutdown.streaming or sent.done():
            break
        await asyncio.sleep(0.01)
    gateway.shutdown.begin()
    return await asyncio.wait_for(sent, HANG_GUARD)


def _data(text: str) -> list[Any]:
    return [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]


async def test_an_anthropic_stream_ends_with_an_overloaded_error_event(
    stack: tuple[httpx2.AsyncClient, Gateway],
) -> None:
    http, gateway = stack
    body = {"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": True}
    body["messages"] = [{"role": "user", "content": STALLED}]
    response = await _cut_mid_answer(http, gateway, "/v1/messages", body)
    assert response.status_code == 200
    events = response.text.strip().split("\n\n")
    assert events[-1].startswith("event: error\n")
    error = json.loads(_data(events[-1])[0])
    assert error["error"]["type"] == "overloaded_error"
    assert "message_stop" not in response.text


async def test_a_chat_stream_ends_with_an_error_chunk_and_done(
    stack: tuple[httpx2.AsyncClient, Gateway],
) -> None:
    http, gateway = stack
    body = {"model": "claude-sonnet-4-6", "stream": True}
    body["messages"] = [{"role": "user", "content": STALLED}]
    response = await _cut_mid_answer(http, gateway, "/v1/chat/completions", body)
    data = _data(response.text)
    assert data[-1] == "[DONE]"
    assert json.loads(data[-2])["error"]["code"] == "shutting_down"


async def test_a_responses_stream_ends_with_response_failed(
    stack: tuple[httpx2.AsyncClient, Gateway],
) -> None:
    http, gateway = stack
    body = {"model": "claude-sonnet-4-6", "stream": True, "input": STALLED}
    response = await _cut_mid_answer(http, gateway, "/v1/responses", body)
    last = json.loads(_data(response.text)[-1])
    assert last["type"] == "response.failed"
    assert last["response"]["status"] == "failed"


async def test_an_answer_not_yet_sent_gets_503(
    stack: tuple[httpx2.AsyncClient, Gateway],
) -> None:
    http, gateway = stack
    body = {"model": "claude-sonnet-4-6", "max_tokens": 64}
    body["messages"] = [{"role": "user", "content": STALLED}]
    response = await _cut_mid_answer(http, gateway, "/v1/messages", body)
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "overloaded_error"


async def test_new_requests_during_the_stop_get_503(
    stack: tuple[httpx2.AsyncClient, Gateway],
) -> None:
    http, gateway = stack
    gateway.shutdown.begin()
    response = await http.get("/v1/models", headers=HEADERS)
    assert response.status_code == 503


async def test_an_answer_waiting_for_its_first_event_gets_503_and_blames_no_credential(
    stack: tuple[httpx2.AsyncClient, Gateway],
) -> None:
    http, gateway = stack
    body = {"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": True}
    body["messages"] = [{"role": "user", "content": "[[emu:stall seconds=300 after=0]] hi"}]
    response = await _cut_mid_answer(http, gateway, "/v1/messages", body)
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "overloaded_error"
    (status,) = gateway.pool.snapshot()
    assert status.state.value == "ready"
    assert gateway.pool.state_of(1).error_count == 0
