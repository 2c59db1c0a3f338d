"""Property at the wire: generated client requests sent to a real gateway on the emulator
are answered 200, or 4xx in the dialect's own error shape naming a field; never 5xx.

The bodies come from :mod:`tests.convert.strategies`; one gateway serves every example of
a test (the health check against function-scoped fixtures is off on purpose).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kirogate.emulator.app import RunningEmulator
from tests.convert.strategies import (
    Body,
    anthropic_bodies,
    chat_bodies,
    mutated,
    responses_bodies,
)
from tests.emulated_gateway import CLIENT_KEY

KEY = {"authorization": f"Bearer {CLIENT_KEY}"}
WIRE = settings(
    max_examples=int(os.environ.get("HYPO_WIRE_EXAMPLES", "25")),
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FIELD = re.compile(r"[A-Za-z_][\w.\[\]]*(: |>)")
Live = tuple[httpx2.AsyncClient, RunningEmulator]


def either(bodies: st.SearchStrategy[Body]) -> st.SearchStrategy[Body]:
    return st.one_of(bodies, mutated(bodies))


async def post(http: httpx2.AsyncClient, path: str, body: Body) -> httpx2.Response:
    # Sent as bytes: a mutation may have made the body something httpx would re-encode.
    raw = json.dumps(body).encode()  # deeper than orjson writes
    return await http.post(path, content=raw, headers={**KEY, "content-type": "application/json"})


# The emulator answers prose; a request that asked for a JSON answer gets the documented
# 502 (OutputFormatMismatch), which is the gateway working as designed.
NOT_JSON = "answer is not JSON, though the request asked for a JSON answer"


def assert_answered(reply: httpx2.Response, dialect: str) -> None:
    if reply.status_code == 502 and NOT_JSON in reply.text:
        return
    assert reply.status_code < 500, reply.text
    if reply.status_code == 200:
        # A stream carries a failure as an error event: none may be the gateway's own.
        if NOT_JSON not in reply.text:
            assert "api_error" not in reply.text and "server_error" not in reply.text, reply.text
        return
    assert 400 <= reply.status_code < 500
    error: dict[str, Any] = reply.json()["error"]
    message = error["message"]
    if dialect == "anthropic":
        assert reply.json()["type"] == "error"
        assert isinstance(error["type"], str)
    else:
        assert set(error) >= {"message", "type", "param", "code"}
    if reply.status_code in (404, 413):  # an unknown model; the whole request too large
        return
    # The message starts with the field (an Anthropic client sees nothing else), and the
    # OpenAI envelope's param is that field.
    assert FIELD.match(message), message
    if dialect == "openai":
        assert error["param"] and message.startswith(error["param"]), error


@WIRE
@given(body=either(anthropic_bodies()))
async def test_generated_anthropic_requests_are_answered_or_refused_naming_a_field(
    live: Live, body: Body
) -> None:
    http, _ = live
    assert_answered(await post(http, "/v1/messages", body), "anthropic")


@WIRE
@given(body=either(chat_bodies()))
async def test_generated_chat_requests_are_answered_or_refused_naming_a_field(
    live: Live, body: Body
) -> None:
    http, _ = live
    assert_answered(await post(http, "/v1/chat/completions", body), "openai")


@WIRE
@given(body=either(responses_bodies()))
async def test_generated_responses_requests_are_answered_or_refused_naming_a_field(
    live: Live, body: Body
) -> None:
    http, _ = live
    assert_answered(await post(http, "/v1/responses", body), "openai")


@WIRE
@given(body=either(anthropic_bodies()))
async def test_generated_count_tokens_requests_are_counted_or_refused_naming_a_field(
    live: Live, body: Body
) -> None:
    http, _ = live
    reply = await post(http, "/v1/messages/count_tokens", body)
    assert_answered(reply, "anthropic")
    if reply.status_code == 200:
        assert reply.json()["input_tokens"] >= 1


# A value nested 1,000 levels deep (the body parser takes 1,024), put where each dialect
# reads, formats or repeats a client's value. Written by hand: no serialiser goes this deep.
DEEP = "[" * 1000 + "1" + "]" * 1000
M = '"model": "claude-sonnet-4-5"'
DEEP_BODIES = [
    (
        "anthropic",
        "/v1/messages",
        '"max_tokens": 9, "messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": @}]}}]}]',
    ),
    (
        "anthropic",
        "/v1/messages",
        '"max_tokens": 9, "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "web_search_tool_result", "tool_use_id": "s", "content": [{"url": "https://x", "title": @}]}]}, {"role": "user", "content": "hi"}]',
    ),
    (
        "anthropic",
        "/v1/messages",
        '"max_tokens": 9, "messages": [{"role": "user", "content": [{"type": @}]}]',
    ),
    (  # just under the Anthropic body's depth limit: pydantic must not choke on it either
        "anthropic",
        "/v1/messages",
        '"max_tokens": 9, "messages": [{"role": "user", "content": [{"type": %}]}]',
    ),
    (
        "anthropic",
        "/v1/messages",
        '"max_tokens": 9, "messages": [{"role": "user", "content": "x"}], "cache_control": @',
    ),
    (
        "openai",
        "/v1/chat/completions",
        '"messages": [{"role": "user", "content": "x"}], "response_format": {"type": @}',
    ),
    (
        "openai",
        "/v1/chat/completions",
        '"messages": [{"role": "user", "content": "x"}], "metadata": @',
    ),
    ("openai", "/v1/responses", '"input": [{"type": @}]'),
    ("openai", "/v1/responses", '"input": "x", "previous_response_id": @'),
    ("openai", "/v1/responses", '"input": "x", "truncation": @'),
]


@pytest.mark.parametrize(("dialect", "path", "fields"), DEEP_BODIES)
async def test_a_value_nested_1000_deep_is_never_a_500(
    live: Live, dialect: str, path: str, fields: str
) -> None:
    http, _ = live
    fields = fields.replace("@", DEEP).replace("%", "[" * 760 + "1" + "]" * 760)
    raw = ("{" + M + ", " + fields + "}").encode()
    reply = await http.post(path, content=raw, headers={**KEY, "content-type": "application/json"})
    assert_answered(reply, dialect)
