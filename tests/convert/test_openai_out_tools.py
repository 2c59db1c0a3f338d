"""Chat Completions tool calls drawn the way the request asked: custom tools and legacy functions."""

from __future__ import annotations

from typing import Any

import orjson
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.chat_completion_message_custom_tool_call import (
    ChatCompletionMessageCustomToolCall,
)

from kirogate.convert.ir import (
    Finish,
    OutEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    ToolCallStop,
)
from kirogate.convert.openai_in import chat_to_ir
from kirogate.convert.openai_out import ChatAggregator, ChatStreamRenderer
from tests.convert.test_openai_out import deltas, parse_chunks, sdk_chunks
from tests.convert.vectors import COMPLETION_ID, CREATED, MODEL

PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
TOOL_USE = Finish("tool_use", 10, 5)


def custom_call(call_id: str = "c1", raw: str = PATCH) -> list[OutEvent]:
    wrapped = orjson.dumps({"input": raw}).decode()
    return [
        ToolCallStart(call_id, "apply_patch"),
        ToolCallDelta(wrapped[:10]),
        ToolCallDelta(wrapped[10:]),
        ToolCallStop(call_id, {"input": raw}),
    ]


def function_call(call_id: str, name: str, arguments: dict[str, Any]) -> list[OutEvent]:
    raw = orjson.dumps(arguments).decode()
    return [
        ToolCallStart(call_id, name),
        ToolCallDelta(raw[:3]),
        ToolCallDelta(raw[3:]),
        ToolCallStop(call_id, arguments),
    ]


def stream(events: list[OutEvent], **style: Any) -> bytes:
    renderer = ChatStreamRenderer(MODEL, COMPLETION_ID, CREATED, False, **style)
    return renderer.start() + renderer.render(events)


def body(events: list[OutEvent], **style: Any) -> dict[str, Any]:
    aggregator = ChatAggregator(MODEL, COMPLETION_ID, CREATED, **style)
    aggregator.feed_all(events)
    return aggregator.body()


# ---------------------------------------------------------------- custom tools


def test_custom_call_streams_its_raw_input_once() -> None:
    events = [TextDelta("Patching."), *custom_call(), TOOL_USE]
    chunks = parse_chunks(stream(events, custom_tools=["apply_patch"]))
    assert deltas(chunks)[1:] == [
        {"content": "Patching."},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "c1",
                    "type": "custom",
                    "custom": {"name": "apply_patch", "input": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "custom": {"input": PATCH}}]},
        {},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_the_sdk_reads_a_streamed_custom_call() -> None:
    events = [*custom_call(), TOOL_USE]
    chunks = sdk_chunks(stream(events, custom_tools=["apply_patch"]))
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert calls[0].type == "custom" and calls[0].id == "c1"
    assert "".join(call.model_extra["custom"]["input"] for call in calls) == PATCH


def test_custom_and_function_calls_share_the_index_sequence() -> None:
    events = [
        *function_call("f1", "Read", {"path": "a"}),
        *custom_call("c2"),
        TOOL_USE,
    ]
    chunks = parse_chunks(stream(events, custom_tools=["apply_patch"]))
    calls = [call for delta in deltas(chunks) for call in delta.get("tool_calls", [])]
    assert [call["index"] for call in calls] == [0, 0, 0, 1, 1]
    assert calls[0]["type"] == "function" and calls[3]["type"] == "custom"


def test_custom_input_named_differently_is_still_unwrapped() -> None:
    events = [ToolCallStart("c1", "apply_patch"), ToolCallStop("c1", {"patch": "raw"}), TOOL_USE]
    chunks = parse_chunks(stream(events, custom_tools=["apply_patch"]))
    assert deltas(chunks)[2] == {"tool_calls": [{"index": 0, "custom": {"input": "raw"}}]}


def test_empty_custom_input_sends_no_second_delta() -> None:
    events = [ToolCallStart("c1", "apply_patch"), ToolCallStop("c1", {}), TOOL_USE]
    chunks = parse_chunks(stream(events, custom_tools=["apply_patch"]))
    assert len(deltas(chunks)) == 3  # role, the call's start, the finish


def test_custom_call_body_validates_as_the_sdk_type() -> None:
    result = body([*custom_call(), TOOL_USE], custom_tools=["apply_patch"])
    assert result["choices"][0]["message"]["tool_calls"] == [
        {"id": "c1", "type": "custom", "custom": {"name": "apply_patch", "input": PATCH}}
    ]
    call = ChatCompletion.model_validate(result).choices[0].message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageCustomToolCall)
    assert call.custom.input == PATCH


def test_function_tools_stay_functions_next_to_custom_tools() -> None:
    result = body(
        [*function_call("f1", "Read", {"p": 1}), *custom_call("c2"), TOOL_USE],
        custom_tools=["apply_patch"],
    )
    calls = result["choices"][0]["message"]["tool_calls"]
    assert calls[0] == {
        "id": "f1",
        "type": "function",
        "function": {"name": "Read", "arguments": '{"p":1}'},
    }
    assert calls[1]["custom"] == {"name": "apply_patch", "input": PATCH}


# ---------------------------------------------------------------- legacy functions


def test_legacy_functions_stream_a_function_call() -> None:
    events = [*function_call("f1", "get_weather", {"city": "Paris"}), TOOL_USE]
    chunks = parse_chunks(stream(events, legacy_functions=True))
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert deltas(chunks)[1:] == [
        {"function_call": {"name": "get_weather", "arguments": ""}},
        {"function_call": {"arguments": '{"c'}},
        {"function_call": {"arguments": 'ity":"Paris"}'}},
        {},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "function_call"


def test_legacy_functions_drop_calls_after_the_first() -> None:
    events = [
        *function_call("f1", "a", {"x": 1}),
        *function_call("f2", "b", {"y": 2}),
        TOOL_USE,
    ]
    chunks = parse_chunks(stream(events, legacy_functions=True))
    names = [d["function_call"].get("name") for d in deltas(chunks) if "function_call" in d]
    assert names == ["a", None, None]
    result = body(events, legacy_functions=True)
    assert result["choices"][0]["message"]["function_call"] == {
        "name": "a",
        "arguments": '{"x":1}',
    }


def test_legacy_functions_body() -> None:
    result = body(
        [*function_call("f1", "get_weather", {"city": "Paris"}), TOOL_USE], legacy_functions=True
    )
    message = result["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": None,
        "function_call": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    assert result["choices"][0]["finish_reason"] == "function_call"
    parsed = ChatCompletion.model_validate(result).choices[0]
    assert parsed.message.function_call is not None and parsed.message.tool_calls is None


def test_legacy_text_answers_finish_with_stop() -> None:
    events = [TextDelta("hi"), Finish("end_turn", 1, 1)]
    assert body(events, legacy_functions=True)["choices"][0]["finish_reason"] == "stop"
    chunks = parse_chunks(stream(events, legacy_functions=True))
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_legacy_mode_ignores_custom_names() -> None:
    events = [*function_call("f1", "apply_patch", {"x": 1}), TOOL_USE]
    result = body(events, legacy_functions=True, custom_tools=["apply_patch"])
    assert "function_call" in result["choices"][0]["message"]


# ---------------------------------------------------------------- argument-less calls


def test_a_call_without_fragments_still_sends_its_arguments() -> None:
    events = [ToolCallStart("f1", "Now"), ToolCallStop("f1", {}), TOOL_USE]
    chunks = parse_chunks(stream(events))
    assert deltas(chunks)[2] == {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}
    legacy = parse_chunks(stream(events, legacy_functions=True))
    assert deltas(legacy)[2] == {"function_call": {"arguments": "{}"}}


# ---------------------------------------------------------------- from the request


def request(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **fields}


def test_renderers_follow_a_request_with_custom_tools() -> None:
    conv = chat_to_ir(
        request(
            stream=True,
            stream_options={"include_usage": True},
            tools=[
                {"type": "custom", "custom": {"name": "apply_patch"}},
                {"type": "function", "function": {"name": "Read"}},
            ],
        )
    )
    renderer = ChatStreamRenderer.for_conversation(conv, COMPLETION_ID, CREATED)
    chunks = parse_chunks(renderer.start() + renderer.render([*custom_call(), TOOL_USE]))
    assert deltas(chunks)[1]["tool_calls"][0]["type"] == "custom"
    assert chunks[-1]["usage"]["total_tokens"] == 15  # include_usage came along
    aggregator = ChatAggregator.for_conversation(conv, COMPLETION_ID, CREATED)
    aggregator.feed_all([*custom_call(), TOOL_USE])
    assert aggregator.body()["choices"][0]["message"]["tool_calls"][0]["type"] == "custom"


def test_renderers_follow_a_request_with_legacy_functions() -> None:
    conv = chat_to_ir(request(functions=[{"name": "get_weather"}]))
    assert conv.metadata["legacy_functions"] is True
    events = [*function_call("f1", "get_weather", {}), TOOL_USE]
    aggregator = ChatAggregator.for_conversation(conv, COMPLETION_ID, CREATED)
    aggregator.feed_all(events)
    assert aggregator.body()["choices"][0]["finish_reason"] == "function_call"
    renderer = ChatStreamRenderer.for_conversation(conv, COMPLETION_ID, CREATED)
    assert b'"function_call":{"name":"get_weather"' in renderer.render(events)


def test_functions_next_to_tools_answer_with_tool_calls() -> None:
    conv = chat_to_ir(
        request(
            functions=[{"name": "a"}],
            tools=[{"type": "function", "function": {"name": "b"}}],
        )
    )
    assert "legacy_functions" not in conv.metadata
