"""Chat Completions and Responses on a real Gateway over the emulator: prompt-cache fields."""

from __future__ import annotations

from typing import Any

import httpx2

from kirogate.emulator.app import RunningEmulator
from tests.emulated_gateway import CLIENT_KEY

KEY = {"authorization": f"Bearer {CLIENT_KEY}"}
LONG_SYSTEM = "You are Codex, a coding agent in a large repository. " * 300


def chat(*texts: str, **fields: Any) -> dict[str, Any]:
    roles = ["user", "assistant"]
    messages = [{"role": roles[i % 2], "content": text} for i, text in enumerate(texts)]
    return {
        "model": "claude-sonnet-4-6",
        "messages": [{"role": "system", "content": LONG_SYSTEM}, *messages],
        **fields,
    }


def responses(*texts: str, **fields: Any) -> dict[str, Any]:
    roles = ["user", "assistant"]
    items = [{"role": roles[i % 2], "content": text} for i, text in enumerate(texts)]
    return {"model": "claude-sonnet-4-6", "instructions": LONG_SYSTEM, "input": items, **fields}


async def cached_tokens(http: httpx2.AsyncClient, body: dict[str, Any]) -> int:
    reply = await http.post("/v1/chat/completions", json=body, headers=KEY)
    assert reply.status_code == 200, reply.text
    value: int = reply.json()["usage"]["prompt_tokens_details"]["cached_tokens"]
    return value


async def test_prompt_cache_fields_are_accepted_and_report_no_cache(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    body = chat("hi", prompt_cache_key="conv-1", prompt_cache_retention="24h")
    assert await cached_tokens(http, body) == 0
    assert await cached_tokens(http, body) == 0


async def test_responses_prompt_cache_key_is_accepted(
    live: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = live
    reply = await http.post(
        "/v1/responses", json=responses("hi", prompt_cache_key="c"), headers=KEY
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["usage"]["input_tokens_details"]["cached_tokens"] == 0


async def test_estimate_reads_the_previous_prompt_for_the_same_key(
    estimating: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = estimating
    assert await cached_tokens(http, chat("hi", prompt_cache_key="conv-1")) == 0
    later = chat("hi", "Hello!", "go on", prompt_cache_key="conv-1")
    assert await cached_tokens(http, later) > 1000
    assert await cached_tokens(http, chat("hi", "Hello!", prompt_cache_key="conv-2")) == 0


async def test_estimate_needs_a_prompt_cache_key(
    estimating: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = estimating
    await cached_tokens(http, chat("hi"))
    assert await cached_tokens(http, chat("hi", "Hello!", "go on")) == 0


async def test_responses_estimate_reads_the_previous_prompt(
    estimating: tuple[httpx2.AsyncClient, RunningEmulator],
) -> None:
    http, _ = estimating
    await http.post("/v1/responses", json=responses("hi", prompt_cache_key="codex"), headers=KEY)
    body = responses("hi", "Hello!", "go on", prompt_cache_key="codex", stream=True)
    reply = await http.post("/v1/responses", json=body, headers=KEY)
    assert '"cached_tokens":0' not in reply.text
    assert '"cached_tokens":' in reply.text
