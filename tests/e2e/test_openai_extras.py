"""Custom tools, legacy functions, mid-stream error types and error params, with the official SDKs."""

from __future__ import annotations

import base64
import json
from typing import Any

import anthropic
import openai
import pytest
from openai.types.chat.chat_completion_message_custom_tool_call import (
    ChatCompletionMessageCustomToolCall,
)

MODEL = "claude-sonnet-4-6"
PATCH = "*** Begin Patch *** Add File: hello.txt +hi *** End Patch"
CUSTOM_TOOLS: list[Any] = [
    {
        "type": "custom",
        "custom": {"name": "apply_patch", "description": "Apply a patch to the workspace"},
    }
]
FUNCTIONS: list[Any] = [
    {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]
CALL_PATCH = 'patch it [[emu:tool name=apply_patch input=\'{"input":"' + PATCH + "\"}']]"
CALL_WEATHER = 'weather? [[emu:tool name=get_weather input=\'{"city":"Paris"}\']]'
NOT_AN_IMAGE = "data:image/png;base64," + base64.b64encode(b"no picture in here").decode()


# ---------------------------------------------------------------- custom (freeform) tools


def test_custom_tool_call_comes_back_as_a_custom_call(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=MODEL, tools=CUSTOM_TOOLS, messages=[{"role": "user", "content": CALL_PATCH}]
    )
    choice = reply.choices[0]
    (call,) = choice.message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageCustomToolCall)
    assert (call.custom.name, call.custom.input) == ("apply_patch", PATCH)
    assert choice.finish_reason == "tool_calls"


def test_streamed_custom_tool_call_carries_the_raw_input(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model=MODEL,
            stream=True,
            tools=CUSTOM_TOOLS,
            messages=[{"role": "user", "content": CALL_PATCH}],
        )
    )
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert calls[0].type == "custom" and calls[0].id
    assert calls[0].model_extra["custom"]["name"] == "apply_patch"
    assert "".join(call.model_extra["custom"]["input"] for call in calls) == PATCH
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_custom_tool_round_trip(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(
        model=MODEL, tools=CUSTOM_TOOLS, messages=[{"role": "user", "content": CALL_PATCH}]
    )
    message = first.choices[0].message
    call = (message.tool_calls or [])[0]
    second = oai.chat.completions.create(
        model=MODEL,
        tools=CUSTOM_TOOLS,
        messages=[
            {"role": "user", "content": CALL_PATCH},
            message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": "Done: hello.txt"},
        ],
    )
    assert "Done: hello.txt" in (second.choices[0].message.content or "")


# ---------------------------------------------------------------- legacy functions


def test_legacy_functions_get_a_function_call(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=MODEL, functions=FUNCTIONS, messages=[{"role": "user", "content": CALL_WEATHER}]
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "function_call"
    assert choice.message.tool_calls is None
    call = choice.message.function_call
    assert call is not None and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}


def test_streamed_legacy_function_call(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model=MODEL,
            stream=True,
            functions=FUNCTIONS,
            messages=[{"role": "user", "content": CALL_WEATHER}],
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    calls = [d.function_call for d in deltas if d.function_call is not None]
    assert calls[0].name == "get_weather"
    assert json.loads("".join(call.arguments or "" for call in calls)) == {"city": "Paris"}
    assert all(d.tool_calls is None for d in deltas)
    assert chunks[-1].choices[0].finish_reason == "function_call"


def test_legacy_function_round_trip(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(
        model=MODEL, functions=FUNCTIONS, messages=[{"role": "user", "content": CALL_WEATHER}]
    )
    message = first.choices[0].message
    second = oai.chat.completions.create(
        model=MODEL,
        functions=FUNCTIONS,
        messages=[
            {"role": "user", "content": CALL_WEATHER},
            message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "function", "name": "get_weather", "content": "sunny, 21 C"},
        ],
    )
    assert "sunny, 21 C" in (second.choices[0].message.content or "")


# ---------------------------------------------------------------- errors after the first byte


def exception_marker(kind: str) -> str:
    return f"some words to echo here [[emu:exception type={kind} message='Rate exceeded']]"


def test_chat_stream_throttled_mid_way_is_a_rate_limit_error(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model=MODEL,
        stream=True,
        messages=[{"role": "user", "content": exception_marker("ThrottlingException")}],
    )
    with pytest.raises(openai.APIError) as raised:
        for _ in stream:
            pass
    assert (raised.value.type, raised.value.code) == ("rate_limit_error", "rate_limit_exceeded")


def test_anthropic_stream_throttled_mid_way_is_a_rate_limit_error(
    claude: anthropic.Anthropic,
) -> None:
    content = exception_marker("ThrottlingException")
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        claude.messages.stream(
            model=MODEL, max_tokens=50, messages=[{"role": "user", "content": content}]
        ) as stream,
    ):
        for _ in stream:
            pass
    body = raised.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "rate_limit_error"


def test_anthropic_stream_unavailable_mid_way_is_overloaded(claude: anthropic.Anthropic) -> None:
    content = exception_marker("ServiceUnavailableException")
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        claude.messages.stream(
            model=MODEL, max_tokens=50, messages=[{"role": "user", "content": content}]
        ) as stream,
    ):
        for _ in stream:
            pass
    body = raised.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "overloaded_error"


def test_responses_stream_throttled_mid_way_fails_with_the_rate_limit_code(
    oai: openai.OpenAI,
) -> None:
    with oai.responses.stream(model=MODEL, input=exception_marker("ThrottlingException")) as stream:
        events = list(stream)
    failed = [event for event in events if event.type == "response.failed"]
    assert failed and failed[0].response.error is not None
    assert failed[0].response.error.code == "rate_limit_exceeded"


def test_non_stream_throttled_mid_body_is_a_429(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        oai.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": exception_marker("ThrottlingException")}],
        )
    assert raised.value.response.headers["retry-after"] == "1"


# ---------------------------------------------------------------- error params


def test_bad_image_error_names_the_clients_message(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        oai.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hello"},
                {"role": "user", "content": "again"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": NOT_AN_IMAGE}},
                    ],
                },
            ],
        )
    assert raised.value.param == "messages[3].content[1].image_url.url"


def test_responses_bad_image_error_names_the_input_item(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        oai.responses.create(
            model=MODEL,
            input=[
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": "hello"},
                {"role": "user", "content": [{"type": "input_image", "image_url": NOT_AN_IMAGE}]},
            ],  # type: ignore[list-item]
        )
    assert raised.value.param == "input[2].content[0].image_url"
