"""The Anthropic routes on a real Gateway over the emulator, with what current clients send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential

REFRESH = "aorAAAA-refresh-token-compat-" + "r" * 100
CLIENT_KEY = "sk-client-compat-key"
# What Claude Code 2.1.197 sends for its default model (beta mid-conversation-system-2026-04-07).
BETA = {"anthropic-beta": "mid-conversation-system-2026-04-07", "x-api-key": CLIENT_KEY}


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[httpx2.AsyncClient, RunningEmulator]]:
    emulator = await start_emulator(EmulatorConfig(port=0))
    emulator.state.register_credential(refresh_token=REFRESH, auth_method="social")
    overrides = {
        "upstream.url": emulator.url,
        "upstream.usage_interval": 0,
        "server.api_keys": (CLIENT_KEY,),
        "data_dir": tmp_path,
    }
    credential = Credential(AuthMethod.SOCIAL, refresh_token=REFRESH, id=1)
    gateway = Gateway(load_settings({}, overrides), [credential])
    await gateway.start()
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, emulator
    finally:
        await gateway.close()
        await emulator.close()


def claude_code_body(**fields: Any) -> dict[str, Any]:
    return {
        "model": "claude-opus-4-8",
        "max_tokens": 32000,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": EPHEMERAL}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "system", "content": "The user switched output style to concise."},
        ],
        **fields,
    }


EPHEMERAL = {"type": "ephemeral"}


def upstream_current(emulator: RunningEmulator) -> str:
    (entry,) = emulator.state.requests.entries("/generateAssistantResponse")
    message = entry.body["conversationState"]["currentMessage"]["userInputMessage"]
    content: str = message["content"]
    return content


async def test_mid_conversation_system_message_is_answered(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, emulator = live
    reply = await http.post("/v1/messages", json=claude_code_body(), headers=BETA)
    assert reply.status_code == 200, reply.text
    assert upstream_current(emulator) == (
        "hi\n<system_instruction>\nThe user switched output style to concise.\n"
        "</system_instruction>"
    )


async def test_mid_conversation_system_message_is_answered_on_the_cc_route(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    reply = await http.post("/cc/v1/messages", json=claude_code_body(stream=True), headers=BETA)
    assert reply.status_code == 200, reply.text
    assert "event: message_stop" in reply.text


async def test_count_tokens_counts_a_mid_conversation_system_message(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    body = claude_code_body()
    del body["max_tokens"]
    with_system = await http.post("/v1/messages/count_tokens", json=body, headers=BETA)
    body["messages"] = body["messages"][:1]
    without = await http.post("/v1/messages/count_tokens", json=body, headers=BETA)
    assert with_system.status_code == 200, with_system.text
    assert with_system.json()["input_tokens"] > without.json()["input_tokens"]


@pytest.mark.parametrize("effort", ["low", "medium", "high", "xhigh", "max"])
async def test_every_effort_is_accepted(
    live: tuple[httpx2.AsyncClient, RunningEmulator], effort: str
) -> None:
    http, emulator = live
    body = claude_code_body(thinking={"type": "adaptive"}, output_config={"effort": effort})
    reply = await http.post("/v1/messages", json=body, headers=BETA)
    assert reply.status_code == 200, reply.text
    (entry,) = emulator.state.requests.entries("/generateAssistantResponse")
    assert "<thinking_mode>adaptive</thinking_mode>" in str(entry.body)


async def test_cache_control_everywhere_is_accepted_and_reports_no_cache(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    tool = {
        "name": "Read",
        "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
        "cache_control": {"type": "ephemeral", "ttl": "1h"},
    }
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": EPHEMERAL}]}
    ]
    body = claude_code_body(tools=[tool], messages=messages, cache_control=EPHEMERAL)
    reply = await http.post("/v1/messages", json=body, headers=BETA)
    assert reply.status_code == 200, reply.text
    usage = reply.json()["usage"]
    assert usage["cache_read_input_tokens"] == 0
    assert usage["cache_creation_input_tokens"] == 0
