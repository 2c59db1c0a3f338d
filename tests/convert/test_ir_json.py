from __future__ import annotations

import orjson
import pytest

from kirogate.convert import ir
from kirogate.convert.ir_json import conversation_from_json, to_json

FULL = ir.Conversation(
    model="claude-sonnet-4-5",
    turns=(
        ir.Turn(
            "user",
            (
                ir.Text("hello"),
                ir.Image("image/png", "aGk="),
                ir.Document("text/plain", "notes", title="n"),
                ir.Instruction("be brief"),
            ),
        ),
        ir.Turn(
            "assistant",
            (
                ir.Thinking("hmm", signature="sig"),
                ir.ToolCall("t1", "Read", {"path": "/x", "@": "not a tag", "list": [1, 2]}),
            ),
        ),
        ir.Turn(
            "user",
            (
                ir.ToolResult(
                    "t1", "contents", is_error=True, images=(ir.Image("image/gif", "R0"),)
                ),
            ),
        ),
    ),
    system="you are kind",
    tools=(ir.ToolDef("Read", "reads", {"type": "object", "properties": {}}),),
    tool_choice=ir.ToolChoice("tool", "Read"),
    thinking=ir.ThinkingConfig("enabled", budget_tokens=2048, effort="high"),
    max_tokens=100,
    stop_sequences=("END",),
    stream=True,
    session_id="s",
    metadata={"user_id": "u"},
    cache_points=(ir.CachePoint(end=2, ttl=3600.0),),
    cache_key="k",
    output_format=ir.JsonFormat("json_schema", {"type": "object"}, name="x"),
)


def test_a_conversation_survives_a_trip_through_json_text() -> None:
    text = orjson.dumps(to_json(FULL))
    assert conversation_from_json(orjson.loads(text)) == FULL


def test_optional_parts_stay_none_and_lists_inside_inputs_stay_lists() -> None:
    small = ir.Conversation(
        model="m", turns=(ir.Turn("user", (ir.ToolCall("a", "b", {"x": [1]}),)),)
    )
    back = conversation_from_json(to_json(small))
    assert back == small
    assert back.tool_choice is None
    call = back.turns[0].parts[0]
    assert isinstance(call, ir.ToolCall)
    assert call.input == {"x": [1]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"@": "Turn", "role": "user", "parts": []}, "expected one of Conversation"),
        ([], "expected one of Conversation"),
        ({"@": "Conversation", "model": "m", "turns": {}}, "expected a list"),
        ({"@": "Conversation", "model": "m", "turns": [{"@": "Nope"}]}, "expected one of Turn"),
        ({"@": "Conversation", "model": "m"}, "incomplete Conversation"),
        (
            {"@": "Conversation", "model": "m", "turns": [], "tool_choice": "auto"},
            "expected one of ToolChoice",
        ),
    ],
)
def test_what_is_not_an_encoding_is_a_value_error(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        conversation_from_json(data)
