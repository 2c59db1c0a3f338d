"""The Anthropic routes on a real Gateway over the emulator, with what current clients send."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx2
import orjson
import pytest

from kirogate.emulator.app import RunningEmulator
from tests.emulated_gateway import CLIENT_KEY, OTHER_KEY

# What Claude Code 2.1.197 sends for its default model (beta mid-conversation-system-2026-04-07).
BETA = {"anthropic-beta": "mid-conversation-system-2026-04-07", "x-api-key": CLIENT_KEY}


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


# ---------------------------------------------------------------- prompt-cache estimates

LONG_SYSTEM = "You are Claude Code, working in a large repository. " * 300


def cached_turn(body: dict[str, Any], *texts: str) -> dict[str, Any]:
    """``body`` with a conversation whose last message carries the breakpoint (as Claude Code)."""
    roles = ["user", "assistant"]
    messages = [{"role": roles[i % 2], "content": text} for i, text in enumerate(texts)]
    last = {"type": "text", "text": texts[-1], "cache_control": EPHEMERAL}
    messages[-1] = {"role": messages[-1]["role"], "content": [last]}
    system = [{"type": "text", "text": LONG_SYSTEM, "cache_control": EPHEMERAL}]
    return {**body, "system": system, "messages": messages}


async def test_cache_usage_is_zero_by_default_even_for_a_repeated_prefix(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    body = cached_turn(claude_code_body(), "hi")
    for _ in range(2):
        reply = await http.post("/v1/messages", json=body, headers=BETA)
        usage = reply.json()["usage"]
        assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (0, 0)


async def test_estimated_cache_reads_the_prefix_of_the_previous_turn(
    estimating: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = estimating
    first = await http.post(
        "/v1/messages", json=cached_turn(claude_code_body(), "hi"), headers=BETA
    )
    usage = first.json()["usage"]
    assert usage["cache_read_input_tokens"] == 0
    assert usage["cache_creation_input_tokens"] > 1000
    body = cached_turn(claude_code_body(stream=True), "hi", "Hello!", "go on")
    second = await http.post("/v1/messages", json=body, headers=BETA)
    delta = [line for line in second.text.splitlines() if '"message_delta"' in line]
    read = orjson.loads(delta[0].removeprefix("data: "))["usage"]["cache_read_input_tokens"]
    assert read == usage["cache_creation_input_tokens"]


async def test_estimated_cache_is_kept_apart_per_client_key(
    estimating: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = estimating
    body = cached_turn(claude_code_body(), "hi")
    await http.post("/v1/messages", json=body, headers=BETA)
    other = await http.post("/v1/messages", json=body, headers={**BETA, "x-api-key": OTHER_KEY})
    assert other.json()["usage"]["cache_read_input_tokens"] == 0


def upstream_models(emulator: RunningEmulator) -> list[str]:
    return [
        entry.body["conversationState"]["currentMessage"]["userInputMessage"]["modelId"]
        for entry in emulator.state.requests.entries("/generateAssistantResponse")
    ]


async def test_a_model_newer_than_the_upstream_serves_falls_back_to_its_family(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    # Claude Code 2.1.332's default model; the upstream (emulator) has no opus 5.5.
    http, emulator = live
    for _ in range(2):
        reply = await http.post(
            "/v1/messages", json=claude_code_body(model="claude-opus-5-5"), headers=BETA
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["model"] == "claude-opus-5-5"
    # The guessed id is tried once; the family's newest model answers from then on.
    assert upstream_models(emulator) == ["claude-opus-5.5", "claude-opus-4.8", "claude-opus-4.8"]


async def test_large_count_tokens_request_does_not_stall_the_event_loop(
    live: tuple[httpx2.AsyncClient, RunningEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before the work moved to a worker thread, this 8 MB body held the loop ~0.9 s, and
    # every stream with it. What is checked is where the parsing runs; the wall-clock gap
    # between ticks is only a loose bound (a loaded machine stretches it).
    import threading

    from kirogate.api import request_gate

    parsed_in: list[int] = []
    real_json_object = request_gate.json_object

    def recording_json_object(raw: bytes) -> dict[str, Any]:
        parsed_in.append(threading.get_ident())
        return real_json_object(raw)

    monkeypatch.setattr(request_gate, "json_object", recording_json_object)
    http, _ = live
    text = "hello world " * (8_000_000 // 12)
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": text}]}
    raw = orjson.dumps(body)
    done, worst = False, 0.0

    async def tick() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            worst, last = max(worst, now - last), now

    async def count() -> httpx2.Response:
        nonlocal done
        try:
            return await http.post("/v1/messages/count_tokens", content=raw, headers=BETA)
        finally:
            done = True

    _, reply = await asyncio.gather(tick(), count())
    assert reply.status_code == 200, reply.text
    assert reply.json()["input_tokens"] > 1_000_000
    assert parsed_in and threading.get_ident() not in parsed_in
    assert worst < 0.6


async def test_non_ascii_image_data_and_deep_tool_schema_are_400_on_count_tokens(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(300):
        schema = {"type": "object", "properties": {"a": schema}}
    image = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoé"}
    bodies = (
        {"messages": [{"role": "user", "content": [{"type": "image", "source": image}]}]},
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "t", "input_schema": schema}],
        },
    )
    for fields in bodies:
        body = {"model": "claude-sonnet-4-5", **fields}
        reply = await http.post("/v1/messages/count_tokens", json=body, headers=BETA)
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["type"] == "invalid_request_error"


async def test_client_answers_carry_the_security_headers(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    for stream in (False, True):
        reply = await http.post("/v1/messages", json=claude_code_body(stream=stream), headers=BETA)
        assert reply.status_code == 200, reply.text
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["x-frame-options"] == "DENY"
