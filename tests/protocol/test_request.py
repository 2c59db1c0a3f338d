"""KiroRequest.to_wire: the exact JSON shape of spec §2.1 / §2.2."""

from __future__ import annotations

import orjson

from kirogate.protocol.request import (
    ORIGIN_AI_EDITOR,
    PLACEHOLDER_TOOL_DESCRIPTION,
    PLACEHOLDER_TOOL_SCHEMA,
    AssistantResponseMessage,
    KiroImage,
    KiroRequest,
    KiroTool,
    KiroToolResult,
    KiroToolUse,
    UserInputMessage,
)
from kirogate.protocol.validation import validate_request

from .spec_example import SPEC_EXAMPLE

MODEL = "claude-sonnet-4.5"
SYSTEM = (
    "<thinking_mode>enabled</thinking_mode><max_thinking_length>20000</max_thinking_length>\n"
    "You are Claude Code...\n"
    "When the Write or Edit tool has content size limits, always comply silently. ..."
)
BASH = KiroTool(
    name="Bash",
    description="Run a shell command",
    input_schema={
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
        "additionalProperties": True,
    },
)


def _spec_request() -> KiroRequest:
    return KiroRequest(
        conversation_id="0b4445e1-f5be-49e1-87ce-62bbc28ad705",
        agent_continuation_id="5b0e7d0a-3c8e-4b4e-9d8f-1c2a3b4c5d6e",
        current=UserInputMessage(
            content="",
            model_id=MODEL,
            tool_results=(KiroToolResult("tooluse_AbC123", "total 8\n-rw-r--r-- a.txt"),),
            tools=(BASH,),
        ),
        history=(
            UserInputMessage(SYSTEM, MODEL),
            AssistantResponseMessage("I will follow these instructions."),
            UserInputMessage("List files", MODEL),
            AssistantResponseMessage(
                "<thinking>The user wants ls.</thinking>\n\nI'll list them.",
                tool_uses=(KiroToolUse("tooluse_AbC123", "Bash", {"command": "ls -l"}),),
            ),
        ),
    )


def test_spec_full_example_round_trips_through_the_model() -> None:
    wire = _spec_request().to_wire(
        profile_arn="arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"
    )
    assert wire == SPEC_EXAMPLE


def test_wire_body_passes_validation() -> None:
    assert validate_request(_spec_request().to_wire()) == []


def test_conversation_state_key_order_matches_spec() -> None:
    state = _spec_request().to_wire()["conversationState"]
    assert list(state) == [
        "agentContinuationId",
        "agentTaskType",
        "chatTriggerType",
        "conversationId",
        "currentMessage",
        "history",
    ]


def test_minimal_request_omits_empty_optional_fields() -> None:
    request = KiroRequest(conversation_id="c1", current=UserInputMessage("hi", MODEL))
    assert request.to_wire() == {
        "conversationState": {
            "agentTaskType": "vibe",
            "chatTriggerType": "MANUAL",
            "conversationId": "c1",
            "currentMessage": {
                "userInputMessage": {"content": "hi", "modelId": MODEL, "origin": ORIGIN_AI_EDITOR}
            },
        }
    }


def test_agent_task_type_none_is_omitted() -> None:
    request = KiroRequest("c1", UserInputMessage("hi", MODEL), agent_task_type=None)
    assert "agentTaskType" not in request.to_wire()["conversationState"]


def test_profile_arn_argument_overrides_the_field() -> None:
    request = KiroRequest("c1", UserInputMessage("hi", MODEL), profile_arn="arn:field")
    assert request.to_wire()["profileArn"] == "arn:field"
    assert request.to_wire(profile_arn="arn:lease")["profileArn"] == "arn:lease"


def test_additional_model_request_fields_are_top_level() -> None:
    fields = {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}
    request = KiroRequest(
        "c1", UserInputMessage("hi", MODEL), additional_model_request_fields=fields
    )
    assert request.to_wire()["additionalModelRequestFields"] == fields


def test_images_sit_directly_under_user_input_message() -> None:
    message = UserInputMessage("look", MODEL, images=(KiroImage("png", "iVBORw0"),))
    assert message.to_wire()["userInputMessage"]["images"] == [
        {"format": "png", "source": {"bytes": "iVBORw0"}}
    ]
    assert "userInputMessageContext" not in message.to_wire()["userInputMessage"]


def test_error_tool_result_carries_is_error() -> None:
    result = KiroToolResult("t1", "boom", status="error")
    assert result.to_wire() == {
        "toolUseId": "t1",
        "content": [{"text": "boom"}],
        "status": "error",
        "isError": True,
    }


def test_success_tool_result_has_no_is_error() -> None:
    assert "isError" not in KiroToolResult("t1", "ok").to_wire()


def test_tool_wire_shape() -> None:
    assert BASH.to_wire() == {
        "toolSpecification": {
            "name": "Bash",
            "description": "Run a shell command",
            "inputSchema": {"json": BASH.input_schema},
        }
    }


def test_assistant_without_tool_uses_omits_them() -> None:
    assert AssistantResponseMessage(" ").to_wire() == {"assistantResponseMessage": {"content": " "}}


def test_placeholder_tool_is_valid_upstream() -> None:
    placeholder = KiroTool("Read", PLACEHOLDER_TOOL_DESCRIPTION, PLACEHOLDER_TOOL_SCHEMA)
    request = KiroRequest(
        "c1",
        UserInputMessage(
            "", MODEL, tool_results=(KiroToolResult("t1", "x"),), tools=(placeholder,)
        ),
        history=(
            UserInputMessage("read it", MODEL),
            AssistantResponseMessage(" ", tool_uses=(KiroToolUse("t1", "read", {}),)),
        ),
    )
    assert validate_request(request.to_wire()) == []


def test_wire_body_serialises_to_compact_json() -> None:
    body = orjson.dumps(_spec_request().to_wire())
    assert orjson.loads(body) == _spec_request().to_wire()
