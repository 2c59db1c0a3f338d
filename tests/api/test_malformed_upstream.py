"""A malformed upstream answer through a real Gateway, on all three client APIs, streamed and
not: an empty 200 body, frames that do not decode, tool arguments that are not JSON, and the
cut-off tool call. Never a silent empty answer, never a call with made-up arguments."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from kirogate.api.app import create_app
from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential
from tests.emulated_gateway import CLIENT_KEY, REFRESH

FAST_RETRIES = {"pool.backoff_base": 0, "pool.backoff_jitter": 0}
API = ["messages", "chat", "responses"]
TOOL_SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}}


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[httpx2.AsyncClient, RunningEmulator]]:
    async with _running(tmp_path, 1) as started:
        yield started


@contextlib.asynccontextmanager
async def _running(
    tmp_path: Path, count: int, scenario: str | None = None
) -> AsyncIterator[tuple[httpx2.AsyncClient, RunningEmulator]]:
    """A gateway on the emulator with ``count`` credentials; the first one answers with
    ``scenario`` whatever the request says."""
    emulator = await start_emulator(EmulatorConfig(port=0))
    credentials = []
    for index in range(count):
        token = f"{REFRESH}-{index}"
        plan = scenario if index == 0 else None
        emulator.state.register_credential(refresh_token=token, auth_method="social", scenario=plan)
        credentials.append(Credential(AuthMethod.SOCIAL, refresh_token=token, id=index + 1))
    overrides = {
        "upstream.url": emulator.url,
        "upstream.usage_interval": 0,
        "server.api_keys": (CLIENT_KEY,),
        "data_dir": tmp_path,
        **FAST_RETRIES,
    }
    gateway = Gateway(load_settings({}, overrides), credentials)
    await gateway.start()
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, emulator
    finally:
        await gateway.close()
        await emulator.close()


def _request(api: str, text: str, *, stream: bool, tools: bool = False) -> tuple[str, Any]:
    model = "claude-sonnet-4-5"
    if api == "messages":
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": 1000,
            "messages": [{"role": "user", "content": text}],
        }
        if tools:
            body["tools"] = [{"name": "Bash", "input_schema": TOOL_SCHEMA}]
        path = "/v1/messages"
    elif api == "chat":
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        if tools:
            function = {"name": "Bash", "parameters": TOOL_SCHEMA}
            body["tools"] = [{"type": "function", "function": function}]
        path = "/v1/chat/completions"
    else:
        body = {"model": model, "input": text}
        if tools:
            body["tools"] = [{"type": "function", "name": "Bash", "parameters": TOOL_SCHEMA}]
        path = "/v1/responses"
    body["stream"] = stream
    return path, body


async def _ask(
    http: httpx2.AsyncClient, api: str, text: str, *, stream: bool, tools: bool = False
) -> httpx2.Response:
    path, body = _request(api, text, stream=stream, tools=tools)
    headers = {"x-api-key": CLIENT_KEY, "authorization": f"Bearer {CLIENT_KEY}"}
    return await http.post(path, json=body, headers=headers)


def _error_message(api: str, reply: httpx2.Response) -> str:
    """The message of a dialect-shaped error answer (checks the shape)."""
    body = reply.json()
    if api == "messages":
        assert body["type"] == "error"
        assert body["error"]["type"] == "api_error"
    else:
        assert body["error"]["type"] == "api_error"
    message: str = body["error"]["message"]
    return message


def _stream_error(api: str, text: str) -> str:
    """The message of the error event a started stream ends with (checks the dialect's end)."""
    if api == "messages":
        assert "event: error\n" in text
        assert "message_stop" not in text
        data = text.split("event: error\ndata: ", 1)[1].split("\n", 1)[0]
        return str(orjson.loads(data)["error"]["message"])
    if api == "chat":
        errors = [line for line in text.splitlines() if line.startswith('data: {"error"')]
        assert len(errors) == 1
        assert '"finish_reason":"stop"' not in text
        return str(orjson.loads(errors[0].removeprefix("data: "))["error"]["message"])
    assert "event: response.failed" in text
    assert "response.completed" not in text
    data = text.split("event: response.failed\ndata: ", 1)[1].split("\n", 1)[0]
    return str(orjson.loads(data)["response"]["error"]["message"])


# ---------------------------------------------------------------- an empty 200 body


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", API)
async def test_an_empty_body_is_a_502_not_an_empty_answer(
    gateway: tuple[httpx2.AsyncClient, RunningEmulator],
    api: str,
    stream: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    http, emulator = gateway
    reply = await _ask(http, api, "[[emu:empty-body]] hi", stream=stream)
    assert reply.status_code == 502, reply.text
    assert "empty body" in _error_message(api, reply)
    # A transient upstream fault: tried again before the client saw a byte.
    assert len(emulator.state.requests.entries("/generateAssistantResponse")) > 1
    assert "upstream answered 200 with an empty body" in caplog.text


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", API)
async def test_an_empty_body_fails_over_to_another_credential(
    tmp_path: Path, api: str, stream: bool
) -> None:
    async with _running(tmp_path, 2, scenario="empty-body") as (http, emulator):
        for _ in range(3):  # whichever credential the pool picks first
            reply = await _ask(http, api, "hello there", stream=stream)
            assert reply.status_code == 200, reply.text
            if stream:  # the text comes in pieces; the stream ends as a good one does
                assert '"error":{' not in reply.text and "event: error" not in reply.text
                assert any(end in reply.text for end in ("message_stop", "[DONE]", "completed"))
            else:
                assert "Echo: hello there" in reply.text
        served = emulator.state.requests.entries("/generateAssistantResponse")
        assert len(served) > 3  # the empty answers were tried, then left


# ---------------------------------------------------------------- frames that do not decode


@pytest.mark.parametrize("scenario", ["bad-json-frame", "wrong-type-frame"])
@pytest.mark.parametrize("api", API)
async def test_a_frame_that_does_not_decode_ends_a_stream_with_an_error_event(
    gateway: tuple[httpx2.AsyncClient, RunningEmulator],
    api: str,
    scenario: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    http, _ = gateway
    with caplog.at_level(logging.WARNING):
        reply = await _ask(http, api, f"[[emu:{scenario}]] abcdefghijklmnopqrstuvwxyz", stream=True)
    assert reply.status_code == 200
    assert "Echo" in reply.text  # the good text before the bad frame reached the client
    message = _stream_error(api, reply.text)
    assert "assistantResponseEvent that does not decode" in message
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("does not decode" in line for line in warnings)
    assert not any("unterminated" in line or "42" in line for line in warnings)  # no payload


@pytest.mark.parametrize(
    ("scenario", "problem"),
    [
        ("bad-json-frame", "the payload is not JSON"),
        ("wrong-type-frame", "content is a number, not a string"),
    ],
)
@pytest.mark.parametrize("api", API)
async def test_a_frame_that_does_not_decode_fails_an_answer_not_streamed(
    gateway: tuple[httpx2.AsyncClient, RunningEmulator], api: str, scenario: str, problem: str
) -> None:
    http, _ = gateway
    reply = await _ask(http, api, f"[[emu:{scenario}]] abcdefghijklmnop", stream=False)
    assert reply.status_code == 502, reply.text
    assert _error_message(api, reply).endswith(problem)


@pytest.mark.parametrize("event", ["toolUseEvent", "contextUsageEvent", "meteringEvent"])
async def test_every_known_event_kind_is_checked(
    gateway: tuple[httpx2.AsyncClient, RunningEmulator], event: str
) -> None:
    http, _ = gateway
    reply = await _ask(http, "messages", f"[[emu:wrong-type-frame event={event}]] hi", stream=False)
    assert reply.status_code == 502, reply.text
    assert f"{event} that does not decode" in _error_message("messages", reply)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", API)
async def test_a_first_frame_that_does_not_decode_is_a_502_before_the_stream(
    gateway: tuple[httpx2.AsyncClient, RunningEmulator],
    api: str,
    stream: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    http, emulator = gateway
    reply = await _ask(http, api, "[[emu:bad-json-frame at=0]] hi", stream=stream)
    assert reply.status_code == 502, reply.text
    assert "does not decode" in _error_message(api, reply)
    assert len(emulator.state.requests.entries("/generateAssistantResponse")) > 1
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(r.getMessage().endswith("the payload is not JSON") for r in warned)


async def test_an_unknown_event_type_is_still_ignored(
    gateway: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = gateway
    reply = await _ask(http, "messages", "[[emu:tv10]]", stream=False)
    assert reply.status_code == 200, reply.text


# ---------------------------------------------------------------- tool arguments


@pytest.mark.parametrize("api", API)
async def test_tool_arguments_that_are_not_json_end_a_stream_with_an_error(
    gateway: tuple[httpx2.AsyncClient, RunningEmulator], api: str
) -> None:
    http, _ = gateway
    reply = await _ask(http, api, "[[emu:bad-tool-input]]", stream=True, tools=True)
    assert reply.status_code == 200
    message = _stream_error(api, reply.text)
    assert "arguments for tool call" in message and "malformed JSON (15 bytes)" in message


@pytest.mark.parametrize("api", API)
async def test_tool_arguments_that_are_not_json_fail_an_answer_not_streamed(
    gateway: tuple[httpx2.AsyncClient, RunningEmulator], api: str
) -> None:
    http, _ = gateway
    reply = await _ask(http, api, "[[emu:bad-tool-input]]", stream=False, tools=True)
    assert reply.status_code == 502, reply.text
    assert "malformed JSON" in _error_message(api, reply)
    assert "tool_use" not in reply.text and "tool_calls" not in reply.text


@pytest.mark.parametrize("api", API)
async def test_a_cut_off_tool_call_is_left_out_of_an_answer_not_streamed(
    gateway: tuple[httpx2.AsyncClient, RunningEmulator], api: str
) -> None:
    http, _ = gateway
    reply = await _ask(http, api, "write it [[emu:tv7]]", stream=False, tools=True)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    if api == "messages":
        assert [block["type"] for block in body["content"]] == ["text"]
        assert body["stop_reason"] == "max_tokens"
    elif api == "chat":
        assert "tool_calls" not in body["choices"][0]["message"]
        assert body["choices"][0]["finish_reason"] == "length"
    else:
        assert body["status"] == "incomplete"
        [call] = [item for item in body["output"] if item["type"] == "function_call"]
        assert call["status"] == "incomplete"
        assert call["arguments"].startswith('{"file_path":"/src/big.py"')  # the model's own


@pytest.mark.parametrize("api", API)
async def test_a_cut_off_tool_call_stops_a_stream_at_max_tokens(
    gateway: tuple[httpx2.AsyncClient, RunningEmulator], api: str
) -> None:
    http, _ = gateway
    reply = await _ask(http, api, "write it [[emu:tv7]]", stream=True, tools=True)
    assert reply.status_code == 200
    text = reply.text
    if api == "messages":
        assert '"stop_reason":"max_tokens"' in text
        assert '"stop_reason":"tool_use"' not in text
    elif api == "chat":
        assert '"finish_reason":"length"' in text
        assert '"finish_reason":"tool_calls"' not in text
    else:
        assert "event: response.incomplete" in text
        assert '"arguments":"{}"' not in text
