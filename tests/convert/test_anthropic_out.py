from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import orjson
import pytest
from anthropic.types import ErrorResponse, Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from kirogate.convert.anthropic_out import (
    AnthropicAggregator,
    AnthropicStreamRenderer,
    BufferedAnthropicRenderer,
)
from kirogate.convert.ir import (
    CacheUsage,
    Finish,
    OutEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingStop,
    ToolCallDelta,
    ToolCallStart,
    ToolCallStop,
    UsageUpdate,
)
from kirogate.errors import RateLimited, UpstreamStreamException
from tests.convert.vectors import (
    ERROR_VECTORS,
    MESSAGE_ID,
    MODEL,
    VECTORS,
    anthropic_body,
    check_golden,
    transcript,
)

STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
FINISH = Finish("end_turn", input_tokens=10, output_tokens=3)


def parse_sse(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    assert data.endswith(b"\n\n")
    for block in data.decode().split("\n\n")[:-1]:
        name_line, data_line = block.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        events.append((name_line[7:], orjson.loads(data_line[6:])))
    return events


def check_sequence(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Validate every event with the SDK types and the Anthropic event grammar."""
    allowed = {
        "text": {"text_delta"},
        "thinking": {"thinking_delta", "signature_delta"},
        "tool_use": {"input_json_delta"},
    }
    # A buffered (/cc) stream that fails before its flush is a lone error event.
    assert events[0][0] in ("message_start", "error")
    open_kind: str | None = None
    next_index = 0
    ended = False
    for i, (name, data) in enumerate(events):
        assert not ended, "nothing may follow message_stop or error"
        assert data["type"] == name
        if name == "error":
            ErrorResponse.model_validate(data)
            ended = True
            continue
        STREAM_EVENT.validate_python(data)
        if name == "message_start":
            assert i == 0
        elif name == "content_block_start":
            assert open_kind is None and data["index"] == next_index
            open_kind = data["content_block"]["type"]
        elif name == "content_block_delta":
            assert open_kind is not None and data["index"] == next_index
            assert data["delta"]["type"] in allowed[open_kind]
        elif name == "content_block_stop":
            assert open_kind is not None and data["index"] == next_index
            open_kind = None
            next_index += 1
        elif name == "message_delta":
            assert open_kind is None and next_index > 0
        elif name == "message_stop":
            assert events[i - 1][0] == "message_delta"
            ended = True
    assert ended


def sdk_message(body: bytes) -> Message:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = anthropic.Anthropic(
        api_key="test",
        base_url="http://gateway.test",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )
    with client.messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        return stream.get_final_message()


def render(events: list[OutEvent], thinking: bool = True) -> list[tuple[str, dict[str, Any]]]:
    renderer = AnthropicStreamRenderer(MODEL, MESSAGE_ID, 10, thinking)
    data = renderer.start() + renderer.render(events)
    parsed = parse_sse(data)
    check_sequence(parsed)
    return parsed


def blocks(events: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    return [d["content_block"] for n, d in events if n == "content_block_start"]


# ---------------------------------------------------------------- golden transcripts


@pytest.mark.parametrize("name", sorted(VECTORS))
@pytest.mark.parametrize("dialect", ["anthropic", "anthropic-cc"])
def test_golden_transcript(name: str, dialect: str) -> None:
    data = transcript(VECTORS[name], dialect)  # type: ignore[arg-type]
    check_golden(f"{name}.{dialect}.sse", data)
    check_sequence(parse_sse(data))


@pytest.mark.parametrize("name", sorted(VECTORS.keys() - ERROR_VECTORS))
def test_golden_body(name: str) -> None:
    body = anthropic_body(VECTORS[name])
    Message.model_validate(body)
    check_golden(f"{name}.anthropic.json", orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")


@pytest.mark.parametrize("name", sorted(VECTORS.keys() - ERROR_VECTORS - {"tv7"}))
def test_sdk_stream_accumulates_to_the_non_stream_body(name: str) -> None:
    vector = VECTORS[name]
    message = sdk_message(transcript(vector, "anthropic"))
    body = anthropic_body(vector)
    expected = {key: value for key, value in body.items() if value is not None}
    assert message.model_dump(exclude_none=True, include=set(body)) == expected


def test_sdk_sees_the_truncated_call_as_incomplete() -> None:
    # The client's partial-JSON parser drops the unterminated "content": Write fails loudly.
    message = sdk_message(transcript(VECTORS["tv7"], "anthropic"))
    assert message.content[1].model_dump()["input"] == {"file_path": "/src/big.py"}
    assert message.stop_reason == "max_tokens"  # not tool_use: nothing to run
    # Not streamed, the cut-off call is left out: no tool_use with arguments made up.
    body = anthropic_body(VECTORS["tv7"])
    assert [block["type"] for block in body["content"]] == ["text"]
    assert body["stop_reason"] == "max_tokens"


def test_sdk_raises_on_an_error_event() -> None:
    with pytest.raises(anthropic.APIStatusError, match="ThrottlingException"):
        sdk_message(transcript(VECTORS["tv6_throttle"], "anthropic"))


def test_cc_mode_rewrites_message_start_input_tokens() -> None:
    start = parse_sse(transcript(VECTORS["tv1"], "anthropic-cc"))[0][1]
    assert start["message"]["usage"]["input_tokens"] == 2468
    start = parse_sse(transcript(VECTORS["tv1"], "anthropic"))[0][1]
    assert start["message"]["usage"]["input_tokens"] == 42


# ---------------------------------------------------------------- stream renderer


def test_text_block_opens_lazily_so_a_tool_can_be_first() -> None:
    events = render(
        [ToolCallStart("t", "Read"), ToolCallDelta("{}"), ToolCallStop("t", {}), FINISH]
    )
    assert blocks(events) == [{"type": "tool_use", "id": "t", "name": "Read", "input": {}}]


def test_text_after_a_tool_opens_a_new_block() -> None:
    events = render(
        [TextDelta("a"), ToolCallStart("t", "Read"), ToolCallStop("t", {}), TextDelta("b"), FINISH]
    )
    assert [b["type"] for b in blocks(events)] == ["text", "tool_use", "text"]


def test_empty_response_still_has_one_text_block() -> None:
    events = render([UsageUpdate(5), FINISH])
    assert blocks(events) == [{"type": "text", "text": ""}]


def test_empty_deltas_send_nothing() -> None:
    renderer = AnthropicStreamRenderer(MODEL, MESSAGE_ID, 10, True)
    assert renderer.feed(TextDelta("")) == b""
    assert renderer.feed(ToolCallDelta("x")) == b""  # no tool block is open
    assert renderer.feed(ToolCallStop("t", {})) == b""


def test_thinking_block_ends_with_empty_delta_and_signature() -> None:
    events = render([ThinkingDelta("hm"), ThinkingDelta(""), ThinkingStop("sig"), FINISH])
    deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "hm"},
        {"type": "thinking_delta", "thinking": ""},
        {"type": "signature_delta", "signature": "sig"},
    ]


def test_thinking_stop_alone_is_an_empty_block() -> None:
    events = render([ThinkingStop(), TextDelta("a"), FINISH])
    assert blocks(events)[0] == {"type": "thinking", "thinking": "", "signature": ""}


def test_thinking_is_dropped_when_the_client_did_not_ask() -> None:
    events = render([ThinkingDelta("x"), ThinkingStop("s"), TextDelta("a"), FINISH], thinking=False)
    assert [b["type"] for b in blocks(events)] == ["text"]


def test_message_delta_carries_stop_sequence_and_usage() -> None:
    finish = Finish("stop_sequence", input_tokens=9, output_tokens=4, stop_sequence="END")
    events = render([TextDelta("a"), finish])
    assert events[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"},
        "usage": {
            "input_tokens": 9,
            "output_tokens": 4,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def test_text_is_json_escaped() -> None:
    events = render([TextDelta('a"\n\\ä\u2028'), FINISH])
    assert events[2][1]["delta"]["text"] == 'a"\n\\ä\u2028'


def test_ping_and_error() -> None:
    renderer = AnthropicStreamRenderer(MODEL, MESSAGE_ID, 10, False)
    assert renderer.ping() == b'event: ping\ndata: {"type": "ping"}\n\n'
    error = parse_sse(renderer.error(RateLimited("slow down")))
    assert error == [
        ("error", {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    ]


# ---------------------------------------------------------------- buffered mode


def test_buffered_renderer_holds_everything_until_finish() -> None:
    renderer = BufferedAnthropicRenderer(MODEL, MESSAGE_ID, 10, False)
    assert renderer.start() == b""
    assert renderer.feed(TextDelta("a")) == b""
    assert renderer.feed(UsageUpdate(77)) == b""
    assert renderer.ping() == b'event: ping\ndata: {"type": "ping"}\n\n'
    data = renderer.render([Finish("end_turn", 77, 1)])
    events = parse_sse(data)
    check_sequence(events)
    assert events[0][1]["message"]["usage"]["input_tokens"] == 77


def test_buffered_renderer_error_discards_the_buffer() -> None:
    renderer = BufferedAnthropicRenderer(MODEL, MESSAGE_ID, 10, False)
    renderer.feed(TextDelta("a"))
    error = renderer.error(UpstreamStreamException("ThrottlingException", "Rate exceeded"))
    assert [name for name, _ in parse_sse(error)] == ["error"]
    data = renderer.feed(FINISH)
    assert b"text_delta" not in data


# ---------------------------------------------------------------- aggregator


def test_aggregator_merges_deltas_into_blocks() -> None:
    agg = AnthropicAggregator(MODEL, MESSAGE_ID)
    agg.feed_all(
        [
            ThinkingDelta("a"),
            ThinkingDelta("b"),
            ThinkingStop("sig"),
            TextDelta("x"),
            TextDelta(""),
            TextDelta("y"),
            ToolCallStart("t", "Read"),
            ToolCallDelta('{"p":1}'),
            ToolCallStop("t", {"p": 1}),
            TextDelta("z"),
            UsageUpdate(3),
            FINISH,
        ]
    )
    body = agg.body()
    Message.model_validate(body)
    assert body["content"] == [
        {"type": "thinking", "thinking": "ab", "signature": "sig"},
        {"type": "text", "text": "xy"},
        {"type": "tool_use", "id": "t", "name": "Read", "input": {"p": 1}},
        {"type": "text", "text": "z"},
    ]
    assert body["usage"]["input_tokens"] == 10


def test_aggregator_drops_thinking_when_not_asked() -> None:
    agg = AnthropicAggregator(MODEL, MESSAGE_ID, thinking_enabled=False)
    agg.feed_all([ThinkingDelta("a"), ThinkingStop(), ToolCallStop("x", {}), FINISH])
    assert agg.body()["content"] == [{"type": "text", "text": ""}]


def test_aggregator_body_needs_finish() -> None:
    with pytest.raises(RuntimeError):
        AnthropicAggregator(MODEL, MESSAGE_ID).body()


# ---------------------------------------------------------------- served web search

SEARCH_BLOCKS = [
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
]


def test_blocks_take_the_next_indexes_between_text_blocks() -> None:
    renderer = AnthropicStreamRenderer(MODEL, MESSAGE_ID, 10, False)
    data = renderer.start() + renderer.render([TextDelta("Searching.")])
    data += renderer.blocks(SEARCH_BLOCKS)
    data += renderer.render([TextDelta("Found."), Finish("end_turn", 10, 3)])
    parsed = parse_sse(data)
    check_sequence(parsed)
    assert [block["type"] for block in blocks(parsed)] == [
        "text",
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    final = sdk_message(data)
    assert [block.type for block in final.content] == [
        "text",
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    assert final.usage.server_tool_use is not None
    assert final.usage.server_tool_use.web_search_requests == 1


def test_usage_counts_only_searches_that_ran() -> None:
    failed = [SEARCH_BLOCKS[0], {**SEARCH_BLOCKS[1], "content": {"type": "x", "error_code": "e"}}]
    renderer = AnthropicStreamRenderer(MODEL, MESSAGE_ID, 10, False)
    renderer.blocks(failed)
    parsed = parse_sse(renderer.render([Finish("end_turn", 10, 3)]))
    delta = next(data for name, data in parsed if name == "message_delta")
    assert "server_tool_use" not in delta["usage"]


def test_buffered_renderer_holds_blocks_until_the_finish() -> None:
    renderer = BufferedAnthropicRenderer(MODEL, MESSAGE_ID, 10, False)
    assert renderer.blocks(SEARCH_BLOCKS) == b""
    parsed = parse_sse(renderer.render([Finish("end_turn", 42, 3)]))
    assert [block["type"] for block in blocks(parsed)][:2] == [
        "server_tool_use",
        "web_search_tool_result",
    ]


def test_aggregator_takes_blocks_in_order() -> None:
    aggregator = AnthropicAggregator(MODEL, MESSAGE_ID)
    aggregator.feed(TextDelta("Searching."))
    assert aggregator.blocks(SEARCH_BLOCKS) == b""
    aggregator.feed_all([TextDelta("Found."), Finish("end_turn", 10, 3)])
    body = aggregator.body()
    assert [block["type"] for block in body["content"]] == [
        "text",
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    assert body["content"][0]["text"] == "Searching."
    assert body["usage"]["server_tool_use"]["web_search_requests"] == 1


# ---------------------------------------------------------------- estimated cache usage


def test_estimated_cache_usage_splits_the_input_tokens() -> None:
    renderer = AnthropicStreamRenderer(MODEL, MESSAGE_ID, 100, True, CacheUsage(60, 30))
    events = parse_sse(renderer.start() + renderer.render([Finish("end_turn", 100, 4)]))
    expected = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 60,
    }
    assert events[0][1]["message"]["usage"] == {**expected, "output_tokens": 1}
    assert events[-2][1]["usage"] == {**expected, "output_tokens": 4}


def test_estimated_cache_usage_never_exceeds_the_input_tokens() -> None:
    agg = AnthropicAggregator(MODEL, MESSAGE_ID, cache=CacheUsage(80, 50))
    agg.feed_all([TextDelta("a"), Finish("end_turn", 100, 4)])
    usage = agg.body()["usage"]
    assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (80, 20)
    assert usage["input_tokens"] == 0


def test_buffered_renderer_reports_the_estimate_with_the_exact_input() -> None:
    renderer = BufferedAnthropicRenderer(MODEL, MESSAGE_ID, 10, True, CacheUsage(500))
    renderer.start()
    body = renderer.render([TextDelta("a"), Finish("end_turn", 2000, 4)])
    usage = parse_sse(body)[0][1]["message"]["usage"]
    assert (usage["input_tokens"], usage["cache_read_input_tokens"]) == (1500, 500)
