from __future__ import annotations

from typing import Any

import httpx2
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from kirogate.convert.ir import (
    CacheUsage,
    Finish,
    OutEvent,
    StopReason,
    TextDelta,
    ThinkingDelta,
    ThinkingStop,
    ToolCallDelta,
    ToolCallStart,
    ToolCallStop,
    UsageUpdate,
)
from kirogate.convert.openai_out import ChatAggregator, ChatStreamRenderer
from kirogate.errors import RateLimited, UpstreamStreamException
from tests.convert.vectors import (
    COMPLETION_ID,
    CREATED,
    ERROR_VECTORS,
    MODEL,
    VECTORS,
    check_golden,
    openai_body,
    transcript,
)

FINISH = Finish("end_turn", input_tokens=10, output_tokens=3, reasoning_tokens=1)


def parse_chunks(data: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a stream, checking the framing and the final ``[DONE]``."""
    assert data.endswith(b"data: [DONE]\n\n")
    lines = data.decode().split("\n\n")[:-1]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    return [orjson.loads(line[6:]) for line in lines[:-1]]


def render(events: list[OutEvent], include_usage: bool = False) -> list[dict[str, Any]]:
    renderer = ChatStreamRenderer(MODEL, COMPLETION_ID, CREATED, include_usage)
    chunks = parse_chunks(renderer.start() + renderer.render(events))
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        assert chunk["id"] == COMPLETION_ID and chunk["created"] == CREATED
    return chunks


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


def sdk_chunks(body: bytes) -> list[ChatCompletionChunk]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = openai.OpenAI(
        api_key="test",
        base_url="http://gateway.test/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    return list(stream)


def accumulate(chunks: list[ChatCompletionChunk]) -> dict[str, Any]:
    """What a client builds from the chunks, in the shape of the non-stream message."""
    text, reasoning, finish = "", "", None
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            delta = choice.model_dump(exclude_none=True)["delta"]
            text += delta.get("content", "")
            reasoning += delta.get("reasoning_content", "")
            for call in delta.get("tool_calls", []):
                slot = calls.setdefault(call["index"], {"function": {"arguments": ""}})
                slot.update({k: call[k] for k in ("id", "type") if k in call})
                fn = call.get("function", {})
                if "name" in fn:
                    slot["function"]["name"] = fn["name"]
                slot["function"]["arguments"] += fn.get("arguments", "")
            finish = choice.finish_reason or finish
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = [calls[k] for k in sorted(calls)]
    return {"message": message, "finish_reason": finish, "usage": chunks[-1].usage}


# ---------------------------------------------------------------- golden transcripts


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_golden_transcript(name: str) -> None:
    data = transcript(VECTORS[name], "openai")
    check_golden(f"{name}.openai.sse", data)
    if name in ERROR_VECTORS:
        *chunks, error = parse_chunks(data)
        assert set(error) == {"error"}
    else:
        chunks = parse_chunks(data)
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)


@pytest.mark.parametrize("name", sorted(VECTORS.keys() - ERROR_VECTORS))
def test_golden_body(name: str) -> None:
    body = openai_body(VECTORS[name])
    ChatCompletion.model_validate(body)
    check_golden(f"{name}.openai.json", orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")


@pytest.mark.parametrize("name", sorted(VECTORS.keys() - ERROR_VECTORS - {"tv7"}))
def test_sdk_stream_accumulates_to_the_non_stream_body(name: str) -> None:
    vector = VECTORS[name]
    streamed = accumulate(sdk_chunks(transcript(vector, "openai")))
    body = openai_body(vector)
    choice = body["choices"][0]
    message = choice["message"]
    for call in message.get("tool_calls", []):  # compare parsed arguments, not spacing
        call["function"]["arguments"] = orjson.loads(call["function"]["arguments"])
    for call in streamed["message"].get("tool_calls", []):
        call["function"]["arguments"] = orjson.loads(call["function"]["arguments"])
    assert streamed["message"] == message
    assert streamed["finish_reason"] == choice["finish_reason"]
    assert streamed["usage"].model_dump(exclude_none=True) == body["usage"]


def test_tv7_stream_arguments_are_the_raw_fragments() -> None:
    streamed = accumulate(sdk_chunks(transcript(VECTORS["tv7"], "openai")))
    arguments = streamed["message"]["tool_calls"][0]["function"]["arguments"]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(arguments)  # the client's json.loads fails loudly; nothing is executed
    assert streamed["finish_reason"] == "length"
    body = openai_body(VECTORS["tv7"])  # not streamed: the cut-off call is left out
    assert "tool_calls" not in body["choices"][0]["message"]
    assert body["choices"][0]["finish_reason"] == "length"


def test_sdk_raises_on_the_error_chunk() -> None:
    with pytest.raises(openai.APIError, match="ThrottlingException: Rate exceeded"):
        sdk_chunks(transcript(VECTORS["tv6_throttle"], "openai"))


# ---------------------------------------------------------------- stream renderer


def test_first_chunk_announces_the_assistant() -> None:
    chunks = render([FINISH])
    assert deltas(chunks)[0] == {"role": "assistant", "content": ""}
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[0]["choices"][0]["finish_reason"] is None


def test_text_and_reasoning_deltas() -> None:
    chunks = render(
        [ThinkingDelta("hm"), ThinkingDelta(""), ThinkingStop("s"), TextDelta("A"), FINISH]
    )
    assert deltas(chunks)[1:] == [{"reasoning_content": "hm"}, {"content": "A"}, {}]


def test_tool_calls_stream_incrementally_with_their_own_index() -> None:
    chunks = render(
        [
            ToolCallStart("a", "Read"),
            ToolCallDelta('{"p":'),
            ToolCallDelta(""),
            ToolCallDelta("1}"),
            ToolCallStop("a", {"p": 1}),
            ToolCallDelta("stray"),
            ToolCallStart("b", "Bash"),
            ToolCallStop("b", {}),
            UsageUpdate(4),
            Finish("tool_use", 10, 5),
        ]
    )
    assert deltas(chunks)[1:] == [
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "a",
                    "type": "function",
                    "function": {"name": "Read", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"p":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "b",
                    "type": "function",
                    "function": {"name": "Bash", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]},
        {},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_calls"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_finish_reasons(reason: StopReason, expected: str) -> None:
    chunks = render([Finish(reason, 1, 1)])
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": expected}


def test_usage_chunk_only_when_asked() -> None:
    assert all("usage" not in c for c in render([TextDelta("a"), FINISH]))
    last = render([TextDelta("a"), FINISH], include_usage=True)[-1]
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "total_tokens": 13,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }


def test_empty_text_sends_nothing() -> None:
    renderer = ChatStreamRenderer(MODEL, COMPLETION_ID, CREATED, False)
    assert renderer.feed(TextDelta("")) == b""


def test_error_chunk_then_done() -> None:
    renderer = ChatStreamRenderer(MODEL, COMPLETION_ID, CREATED, False)
    assert parse_chunks(renderer.error(RateLimited("slow down"))) == [
        {
            "error": {
                "message": "slow down",
                "type": "rate_limit_error",
                "code": "rate_limit_exceeded",
            }
        }
    ]
    error = parse_chunks(renderer.error(UpstreamStreamException("X", "y")))[0]["error"]
    assert error == {"message": "X: y", "type": "api_error", "code": None}


# ---------------------------------------------------------------- aggregator


def test_aggregator_body() -> None:
    agg = ChatAggregator(MODEL, COMPLETION_ID, CREATED)
    agg.feed_all(
        [
            ThinkingDelta("r"),
            ThinkingStop(),
            TextDelta("a"),
            ToolCallStart("t", "Read"),
            ToolCallDelta('{"p": 1}'),
            ToolCallStop("t", {"p": 1}),
            Finish("tool_use", 10, 3, reasoning_tokens=1),
        ]
    )
    body = agg.body()
    ChatCompletion.model_validate(body)
    assert body["object"] == "chat.completion"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "a",
                "reasoning_content": "r",
                "tool_calls": [
                    {
                        "id": "t",
                        "type": "function",
                        "function": {"name": "Read", "arguments": '{"p":1}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ]


def test_aggregator_without_text_has_null_content() -> None:
    agg = ChatAggregator(MODEL, COMPLETION_ID, CREATED)
    agg.feed_all([ToolCallStop("x", {}), FINISH])
    assert agg.body()["choices"][0]["message"] == {"role": "assistant", "content": None}


def test_aggregator_body_needs_finish() -> None:
    with pytest.raises(RuntimeError):
        ChatAggregator(MODEL, COMPLETION_ID, CREATED).body()


# ---------------------------------------------------------------- estimated cache usage


def test_estimated_cache_reads_are_cached_prompt_tokens() -> None:
    renderer = ChatStreamRenderer(MODEL, COMPLETION_ID, CREATED, True, cache=CacheUsage(6, 2))
    chunks = parse_chunks(renderer.start() + renderer.render([FINISH]))
    assert chunks[-1]["usage"]["prompt_tokens"] == 10
    assert chunks[-1]["usage"]["prompt_tokens_details"] == {"cached_tokens": 6}


def test_estimated_cache_reads_never_exceed_the_prompt() -> None:
    agg = ChatAggregator(MODEL, COMPLETION_ID, CREATED, cache=CacheUsage(60))
    agg.feed_all([TextDelta("a"), FINISH])
    assert agg.body()["usage"]["prompt_tokens_details"] == {"cached_tokens": 10}
