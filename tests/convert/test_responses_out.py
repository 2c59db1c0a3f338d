import itertools
from typing import Any

import orjson
import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from kirogate.convert.ir import (
    CacheUsage,
    Finish,
    OutEvent,
    Text,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ThinkingStop,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolCallStop,
    Turn,
    UsageUpdate,
)
from kirogate.convert.responses_in import continue_conversation, responses_to_ir
from kirogate.convert.responses_out import ResponsesStreamRenderer, response_echo
from kirogate.errors import (
    InvalidRequest,
    KirogateError,
    QuotaExhausted,
    UpstreamInputTooLong,
    UpstreamThrottled,
    UpstreamUnavailable,
)

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
TOOLS = [
    {"type": "function", "name": "shell", "parameters": {"type": "object"}, "strict": False},
    {"type": "custom", "name": "apply_patch", "description": "Edit files"},
]


def renderer(**kwargs: Any) -> ResponsesStreamRenderer:
    counter = itertools.count(1)
    defaults: dict[str, Any] = {
        "custom_tools": {"apply_patch"},
        "echo": response_echo({"tools": TOOLS}),
        "new_id": lambda: f"{next(counter):02d}",
        "now": lambda: 1_700_000_100,
    }
    return ResponsesStreamRenderer(
        "claude-sonnet-4-5", "resp_1", 1_700_000_000, **{**defaults, **kwargs}
    )


def parse(sse: bytes) -> list[dict[str, Any]]:
    """SSE bytes as event payloads; checks the framing and that `event:` matches `type`."""
    events = []
    for block in sse.split(b"\n\n"):
        if not block:
            continue
        head, data = block.split(b"\n")
        payload = orjson.loads(data.removeprefix(b"data: "))
        assert head == b"event: " + payload["type"].encode()
        events.append(payload)
    assert sse.endswith(b"\n\n") or not sse
    return events


def run(
    events: list[OutEvent], **kwargs: Any
) -> tuple[ResponsesStreamRenderer, list[dict[str, Any]]]:
    r = renderer(**kwargs)
    sse = r.start() + b"".join(r.feed(event) for event in events)
    return r, parse(sse)


def shape(payloads: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """A compact golden form: type plus the fields that matter for each event."""
    out: list[tuple[Any, ...]] = []
    for p in payloads:
        kind = p["type"]
        if "delta" in p:
            out.append((kind, p["output_index"], p["delta"]))
        elif kind.startswith("response.output_item."):
            out.append((kind, p["output_index"], p["item"]["type"], p["item"]["id"]))
        elif kind in (
            "response.created",
            "response.in_progress",
            "response.completed",
            "response.incomplete",
            "response.failed",
        ):
            out.append((kind, p["response"]["status"]))
        elif "text" in p:
            out.append((kind, p["output_index"], p["text"]))
        elif "arguments" in p:
            out.append((kind, p["output_index"], p["arguments"]))
        elif "input" in p:
            out.append((kind, p["output_index"], p["input"]))
        else:
            out.append((kind, p["output_index"]))
    return out


def sdk_check(payloads: list[dict[str, Any]]) -> ResponseStreamState[Any]:
    """Every event parses as the SDK's type and the SDK's own stream accumulator accepts them."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    for payload in payloads:
        state.handle_event(EVENTS.validate_python(payload))
    return state


FINISH = Finish("end_turn", input_tokens=100, output_tokens=20)


# ---------------------------------------------------------------- golden sequences


def test_start_emits_created_then_in_progress() -> None:
    _, payloads = run([])
    assert shape(payloads) == [
        ("response.created", "in_progress"),
        ("response.in_progress", "in_progress"),
    ]
    assert [p["sequence_number"] for p in payloads] == [0, 1]
    assert payloads[0]["response"]["output"] == []
    assert payloads[0]["response"]["usage"] is None


def test_text_stream_golden() -> None:
    _, payloads = run([TextDelta("Hel"), TextDelta("lo"), FINISH])
    assert shape(payloads) == [
        ("response.created", "in_progress"),
        ("response.in_progress", "in_progress"),
        ("response.output_item.added", 0, "message", "msg_01"),
        ("response.content_part.added", 0),
        ("response.output_text.delta", 0, "Hel"),
        ("response.output_text.delta", 0, "lo"),
        ("response.output_text.done", 0, "Hello"),
        ("response.content_part.done", 0),
        ("response.output_item.done", 0, "message", "msg_01"),
        ("response.completed", "completed"),
    ]
    assert [p["sequence_number"] for p in payloads] == list(range(10))
    sdk_check(payloads)


def test_thinking_then_text_golden() -> None:
    _, payloads = run(
        [
            ThinkingDelta("Let me "),
            ThinkingDelta("think."),
            ThinkingStop(),
            TextDelta("Done."),
            FINISH,
        ]
    )
    assert shape(payloads)[2:] == [
        ("response.output_item.added", 0, "reasoning", "rs_01"),
        ("response.reasoning_summary_part.added", 0),
        ("response.reasoning_summary_text.delta", 0, "Let me "),
        ("response.reasoning_summary_text.delta", 0, "think."),
        ("response.reasoning_summary_text.done", 0, "Let me think."),
        ("response.reasoning_summary_part.done", 0),
        ("response.output_item.done", 0, "reasoning", "rs_01"),
        ("response.output_item.added", 1, "message", "msg_02"),
        ("response.content_part.added", 1),
        ("response.output_text.delta", 1, "Done."),
        ("response.output_text.done", 1, "Done."),
        ("response.content_part.done", 1),
        ("response.output_item.done", 1, "message", "msg_02"),
        ("response.completed", "completed"),
    ]
    done = payloads[8]["item"]
    assert done == {
        "id": "rs_01",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Let me think."}],
    }
    sdk_check(payloads)


def test_function_call_golden() -> None:
    r, payloads = run(
        [
            TextDelta("Listing."),
            ToolCallStart("tooluse_a", "shell"),
            ToolCallDelta('{"command":'),
            ToolCallDelta('["ls"]}'),
            ToolCallStop("tooluse_a", {"command": ["ls"]}),
            Finish("tool_use", input_tokens=100, output_tokens=30),
        ]
    )
    assert shape(payloads)[-9:] == [
        ("response.output_text.done", 0, "Listing."),
        ("response.content_part.done", 0),
        ("response.output_item.done", 0, "message", "msg_01"),
        ("response.output_item.added", 1, "function_call", "fc_02"),
        ("response.function_call_arguments.delta", 1, '{"command":'),
        ("response.function_call_arguments.delta", 1, '["ls"]}'),
        ("response.function_call_arguments.done", 1, '{"command":["ls"]}'),
        ("response.output_item.done", 1, "function_call", "fc_02"),
        ("response.completed", "completed"),
    ]
    assert payloads[-2]["item"] == {
        "id": "fc_02",
        "type": "function_call",
        "status": "completed",
        "arguments": '{"command":["ls"]}',
        "call_id": "tooluse_a",
        "name": "shell",
    }
    state = sdk_check(payloads)
    assert state.handle_event is not None
    assert Response.model_validate(r.final_response()).output[1].type == "function_call"


def test_custom_tool_call_is_buffered_and_unwrapped_golden() -> None:
    _, payloads = run(
        [
            ToolCallStart("tooluse_p", "apply_patch"),
            ToolCallDelta('{"input":"*** Begin'),
            ToolCallDelta(' Patch\\n"}'),
            ToolCallStop("tooluse_p", {"input": "*** Begin Patch\n"}),
            Finish("tool_use", input_tokens=10, output_tokens=5),
        ]
    )
    assert shape(payloads)[2:] == [
        ("response.output_item.added", 0, "custom_tool_call", "ctc_01"),
        ("response.custom_tool_call_input.delta", 0, "*** Begin Patch\n"),
        ("response.custom_tool_call_input.done", 0, "*** Begin Patch\n"),
        ("response.output_item.done", 0, "custom_tool_call", "ctc_01"),
        ("response.completed", "completed"),
    ]
    assert payloads[5]["item"] == {
        "id": "ctc_01",
        "type": "custom_tool_call",
        "call_id": "tooluse_p",
        "name": "apply_patch",
        "input": "*** Begin Patch\n",
    }
    sdk_check(payloads)


def test_text_after_a_tool_call_opens_a_new_message() -> None:
    _, payloads = run(
        [
            ToolCallStart("t1", "shell"),
            ToolCallStop("t1", {}),
            TextDelta("after"),
            FINISH,
        ]
    )
    added = [p for p in payloads if p["type"] == "response.output_item.added"]
    assert [(p["output_index"], p["item"]["type"]) for p in added] == [
        (0, "function_call"),
        (1, "message"),
    ]
    sdk_check(payloads)


def test_two_tool_calls_in_a_row() -> None:
    r, payloads = run(
        [
            ToolCallStart("t1", "shell"),
            ToolCallDelta("{}"),
            ToolCallStart("t2", "shell"),
            ToolCallDelta('{"a":1}'),
            ToolCallStop("t2", {"a": 1}),
            Finish("tool_use", input_tokens=1, output_tokens=1),
        ]
    )
    output = r.final_response()["output"]
    assert [(o["call_id"], o["arguments"]) for o in output] == [("t1", "{}"), ("t2", '{"a":1}')]
    sdk_check(payloads)


# ---------------------------------------------------------------- tool argument edge cases


def test_function_call_without_deltas_sends_the_arguments_once() -> None:
    _, payloads = run([ToolCallStart("t", "shell"), ToolCallStop("t", {"x": 1}), FINISH])
    kinds = [(p["type"], p.get("delta") or p.get("arguments")) for p in payloads[3:5]]
    assert kinds == [
        ("response.function_call_arguments.delta", '{"x":1}'),
        ("response.function_call_arguments.done", '{"x":1}'),
    ]


def test_function_call_closed_without_arguments_reports_an_empty_object() -> None:
    r, payloads = run([ToolCallStart("t", "shell"), FINISH])
    assert [(p["type"], p.get("delta") or p.get("arguments")) for p in payloads[3:5]] == [
        ("response.function_call_arguments.delta", "{}"),
        ("response.function_call_arguments.done", "{}"),
    ]
    assert r.final_response()["output"][0]["arguments"] == "{}"


def test_truncated_function_call_reports_the_model_arguments_as_incomplete() -> None:
    r, payloads = run(
        [
            ToolCallStart("t", "shell"),
            ToolCallDelta('{"command": ["l'),
            ToolCallStop("t", {}, truncated=True, truncation_reason="unterminated string"),
            FINISH,
        ]
    )
    done = next(p for p in payloads if p["type"] == "response.function_call_arguments.done")
    assert done["arguments"] == '{"command": ["l'  # what was streamed, never a made-up "{}"
    assert r.final_response()["output"][0]["status"] == "incomplete"
    assert r.final_response()["output"][0]["arguments"] == '{"command": ["l'


@pytest.mark.parametrize(
    ("tool_input", "expected"),
    [
        ({"input": "raw"}, "raw"),
        ({"patch": "raw"}, "raw"),
        ({"input": 3}, '{"input":3}'),
        ({"a": "x", "b": "y"}, '{"a":"x","b":"y"}'),
        ({}, ""),
    ],
)
def test_custom_tool_input_is_unwrapped(tool_input: dict[str, Any], expected: str) -> None:
    r, _ = run([ToolCallStart("t", "apply_patch"), ToolCallStop("t", tool_input), FINISH])
    assert r.final_response()["output"][0]["input"] == expected


def test_custom_tool_with_empty_input_sends_only_done() -> None:
    _, payloads = run([ToolCallStart("t", "apply_patch"), ToolCallStop("t", {}), FINISH])
    assert [p["type"] for p in payloads[3:5]] == [
        "response.custom_tool_call_input.done",
        "response.output_item.done",
    ]


def test_custom_tool_call_still_open_at_finish_uses_no_input() -> None:
    r, _ = run([ToolCallStart("t", "apply_patch"), ToolCallDelta('{"input":"x"}'), FINISH])
    assert r.final_response()["output"][0]["input"] == ""


def test_function_call_still_open_at_finish_keeps_the_streamed_arguments() -> None:
    r, _ = run([ToolCallStart("t", "shell"), ToolCallDelta('{"a":1}'), FINISH])
    assert r.final_response()["output"][0]["arguments"] == '{"a":1}'


# ---------------------------------------------------------------- ignored events


@pytest.mark.parametrize(
    "event",
    [
        TextDelta(""),
        ThinkingDelta(""),
        ThinkingStop(),
        ToolCallDelta('{"a"'),
        ToolCallStop("nobody", {}),
        UsageUpdate(1234),
    ],
)
def test_events_without_an_effect_render_nothing(event: OutEvent) -> None:
    r = renderer()
    r.start()
    assert r.feed(event) == b""


def test_tool_stop_for_another_id_leaves_the_call_open() -> None:
    r = renderer()
    r.start()
    r.feed(ToolCallStart("t1", "shell"))
    assert r.feed(ToolCallStop("t2", {})) == b""
    assert r.final_response()["output"][0]["status"] == "in_progress"


def test_thinking_stop_while_text_is_open_is_ignored() -> None:
    r = renderer()
    r.start()
    r.feed(TextDelta("x"))
    assert r.feed(ThinkingStop()) == b""


def test_empty_tool_delta_is_ignored() -> None:
    r = renderer()
    r.start()
    r.feed(ToolCallStart("t", "shell"))
    assert r.feed(ToolCallDelta("")) == b""


def test_events_after_finish_render_nothing() -> None:
    r, _ = run([FINISH])
    assert r.feed(TextDelta("late")) == b""


# ---------------------------------------------------------------- completion


def test_completed_response_has_usage_and_completed_at() -> None:
    r, payloads = run([TextDelta("Hi"), Finish("end_turn", 100, 20, reasoning_tokens=5)])
    final = payloads[-1]["response"]
    assert final["usage"] == {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": 120,
    }
    assert final["completed_at"] == 1_700_000_100
    assert final == r.final_response()
    response = Response.model_validate(final)
    assert (response.output_text, response.status) == ("Hi", "completed")


def test_reasoning_tokens_never_exceed_output_tokens() -> None:
    r, _ = run([Finish("end_turn", 1, 3, reasoning_tokens=9)])
    assert r.final_response()["usage"]["output_tokens_details"]["reasoning_tokens"] == 3


@pytest.mark.parametrize("reason", ["max_tokens", "model_context_window_exceeded"])
def test_cut_output_ends_with_response_incomplete(reason: Any) -> None:
    r, payloads = run([TextDelta("partial"), Finish(reason, 10, 64000)])
    assert shape(payloads)[-1] == ("response.incomplete", "incomplete")
    final = r.final_response()
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["completed_at"] is None
    assert final["output"][0]["status"] == "incomplete"
    sdk_check(payloads)
    Response.model_validate(final)


def test_echo_fields_appear_in_the_response() -> None:
    echo = response_echo(
        {
            "instructions": "Be terse.",
            "max_output_tokens": 99,
            "tool_choice": "required",
            "store": False,
        }
    )
    r, _ = run([FINISH], echo=echo)
    final = r.final_response()
    assert (
        final["instructions"],
        final["max_output_tokens"],
        final["tool_choice"],
        final["store"],
    ) == (
        "Be terse.",
        99,
        "required",
        False,
    )
    Response.model_validate(final)


def test_response_echo_replaces_nulls_with_defaults() -> None:
    echo = response_echo({"tools": None, "reasoning": None, "text": None, "metadata": None})
    assert (echo["tools"], echo["reasoning"], echo["text"], echo["metadata"]) == (
        [],
        {"effort": None, "summary": None},
        {"format": {"type": "text"}},
        {},
    )


def test_default_echo_is_valid() -> None:
    r = ResponsesStreamRenderer("m", "resp_x", 1)
    r.start()
    r.feed(TextDelta("a"))
    r.feed(FINISH)
    final = r.final_response()
    assert final["output"][0]["id"].startswith("msg_")
    Response.model_validate(final)


def test_final_response_mid_stream_shows_the_open_item_in_progress() -> None:
    r = renderer()
    r.start()
    r.feed(TextDelta("so far"))
    assert r.final_response()["output"] == [
        {
            "id": "msg_01",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
    ]


def test_full_conversation_parses_with_the_sdk() -> None:
    r, payloads = run(
        [
            ThinkingDelta("plan"),
            ThinkingStop("sig"),
            TextDelta("I will edit."),
            ToolCallStart("tooluse_1", "shell"),
            ToolCallDelta('{"command":["cat","a"]}'),
            ToolCallStop("tooluse_1", {"command": ["cat", "a"]}),
            ToolCallStart("tooluse_2", "apply_patch"),
            ToolCallDelta('{"input":"*** Begin Patch"}'),
            ToolCallStop("tooluse_2", {"input": "*** Begin Patch"}),
            UsageUpdate(150),
            Finish("tool_use", 150, 40, reasoning_tokens=2),
        ]
    )
    state = sdk_check(payloads)
    response = Response.model_validate(r.final_response())
    assert [o.type for o in response.output] == [
        "reasoning",
        "message",
        "function_call",
        "custom_tool_call",
    ]
    assert response.output_text == "I will edit."
    assert state is not None


# ---------------------------------------------------------------- errors


def error_payloads(exc: KirogateError, *, started: bool = True) -> list[dict[str, Any]]:
    r = renderer()
    if started:
        r.start()
        r.feed(TextDelta("partial"))
    return parse(r.error(exc))


def test_error_before_start_is_a_bare_error_event() -> None:
    (payload,) = error_payloads(InvalidRequest("bad field", param="input[0]"), started=False)
    assert payload == {
        "type": "error",
        "sequence_number": 0,
        "code": "invalid_prompt",
        "message": "bad field",
        "param": "input[0]",
    }
    EVENTS.validate_python(payload)


def test_error_after_start_is_response_failed_with_the_partial_output() -> None:
    r = renderer()
    r.start()
    r.feed(TextDelta("partial"))
    (payload,) = parse(r.error(UpstreamUnavailable("upstream is overloaded")))
    assert payload["type"] == "response.failed"
    response = payload["response"]
    assert (response["status"], response["error"]) == (
        "failed",
        {"code": "server_error", "message": "upstream is overloaded"},
    )
    assert response["output"][0]["status"] == "incomplete"
    assert response["output"][0]["content"][0]["text"] == "partial"
    EVENTS.validate_python(payload)
    Response.model_validate(r.final_response())


def test_error_between_items_fails_with_the_finished_output() -> None:
    r = renderer()
    r.start()
    r.feed(ToolCallStart("t", "shell"))
    r.feed(ToolCallStop("t", {}))
    (payload,) = parse(r.error(UpstreamUnavailable("gone")))
    assert [o["status"] for o in payload["response"]["output"]] == ["completed"]


def test_rate_limit_error_carries_codex_retry_wording() -> None:
    (payload,) = error_payloads(UpstreamThrottled("Too many requests", retry_after=1.5))
    assert payload["response"]["error"] == {
        "code": "rate_limit_exceeded",
        "message": "Too many requests. Please try again in 1.5s.",
    }


def test_retry_wording_keeps_existing_punctuation() -> None:
    (payload,) = error_payloads(UpstreamThrottled("Slow down!", retry_after=2))
    assert payload["response"]["error"]["message"] == "Slow down! Please try again in 2s."


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (UpstreamInputTooLong("Input is too long."), "context_length_exceeded"),
        (QuotaExhausted("monthly quota"), "insufficient_quota"),
        (KirogateError("boom"), "server_error"),
        (UpstreamThrottled("slow"), "rate_limit_exceeded"),
    ],
)
def test_error_codes_follow_the_error_class(exc: KirogateError, code: str) -> None:
    (payload,) = error_payloads(exc)
    assert payload["response"]["error"]["code"] == code


def test_plain_429_without_a_code_is_a_rate_limit() -> None:
    class Limited(KirogateError):
        status = 429

    (payload,) = error_payloads(Limited("limited"))
    assert payload["response"]["error"]["code"] == "rate_limit_exceeded"


def test_error_after_finish_renders_nothing() -> None:
    r, _ = run([FINISH])
    assert r.error(KirogateError("late")) == b""


def test_second_error_renders_nothing() -> None:
    r = renderer()
    r.error(KirogateError("first"))
    assert r.error(KirogateError("second")) == b""


# ---------------------------------------------------------------- round trip


def test_final_response_round_trips_through_continue_conversation() -> None:
    request = {"model": "m", "input": "fix", "tools": TOOLS}
    conv = responses_to_ir(request)
    r, _ = run(
        [
            ThinkingDelta("think"),
            ThinkingStop(),
            TextDelta("ok"),
            ToolCallStart("tooluse_p", "apply_patch"),
            ToolCallStop("tooluse_p", {"input": "*** Begin Patch"}),
            Finish("tool_use", 5, 5),
        ]
    )
    stored = continue_conversation(conv, r.final_response())
    assert stored.turns[1] == Turn(
        "assistant",
        (
            Thinking("think"),
            Text("ok"),
            ToolCall("tooluse_p", "apply_patch", {"input": "*** Begin Patch"}),
        ),
    )


# ---------------------------------------------------------------- gateway-served tools


def test_web_search_call_is_a_completed_item_between_messages() -> None:
    r = renderer()
    sse = r.start() + r.feed(TextDelta("Let me look.")) + r.web_search_call("rust", item_id="ws_1")
    sse += r.feed(TextDelta("Found it.")) + r.feed(FINISH)
    payloads = parse(sse)
    sdk_check(payloads)
    kinds = [p["type"] for p in payloads]
    start = kinds.index("response.web_search_call.in_progress")
    assert kinds[start - 1] == "response.output_item.added"
    assert kinds[start : start + 4] == [
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
    ]
    output = r.final_response()["output"]
    assert [item["type"] for item in output] == ["message", "web_search_call", "message"]
    assert output[1] == {
        "id": "ws_1",
        "type": "web_search_call",
        "status": "completed",
        "action": {"type": "search", "query": "rust"},
    }


def test_web_search_call_after_the_end_sends_nothing() -> None:
    r = renderer()
    r.start()
    r.feed(FINISH)
    assert r.web_search_call("rust") == b""


def test_namespaced_function_calls_carry_their_namespace() -> None:
    events: list[OutEvent] = [
        ToolCallStart("c1", "agents__spawn"),
        ToolCallDelta("{}"),
        ToolCallStop("c1", {}),
        Finish("tool_use", 10, 5),
    ]
    r, _ = run(events, namespaces={"agents__spawn": ("agents", "spawn")})
    call = r.final_response()["output"][0]
    assert (call["name"], call["namespace"], call["call_id"]) == ("spawn", "agents", "c1")


def test_namespaced_custom_tool_calls_carry_their_namespace() -> None:
    events: list[OutEvent] = [
        ToolCallStart("c1", "tools__note"),
        ToolCallDelta('{"input": "hi"}'),
        ToolCallStop("c1", {"input": "hi"}),
        Finish("tool_use", 10, 5),
    ]
    namespaces = {"tools__note": ("tools", "note")}
    r, _ = run(events, custom_tools={"tools__note"}, namespaces=namespaces)
    call = r.final_response()["output"][0]
    assert (call["type"], call["name"], call["namespace"]) == ("custom_tool_call", "note", "tools")


def test_estimated_cache_reads_are_cached_input_tokens() -> None:
    _, payloads = run([TextDelta("Hi"), Finish("end_turn", 100, 20)], cache=CacheUsage(64, 8))
    details = payloads[-1]["response"]["usage"]["input_tokens_details"]
    assert details == {"cached_tokens": 64, "cache_write_tokens": 0}
