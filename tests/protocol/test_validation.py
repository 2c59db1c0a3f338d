"""validate_request: one test per rule of spec §2.3 / the §9 emulator checklist."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kirogate.protocol.validation import (
    CURRENT_MODEL_IDS,
    KNOWN_MODEL_IDS,
    LEGACY_MODEL_IDS,
    ValidationLimits,
    Violation,
    validate_request,
)

from .spec_example import SPEC_EXAMPLE

HISTORY = "conversationState.history"
CURRENT = "conversationState.currentMessage.userInputMessage"
TOOL = f"{CURRENT}.userInputMessageContext.tools[0].toolSpecification"


# ---------------------------------------------------------------- builders


def _example() -> dict[str, Any]:
    return copy.deepcopy(SPEC_EXAMPLE)


def _current(body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = body["conversationState"]["currentMessage"]["userInputMessage"]
    return message


def _history(body: dict[str, Any]) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = body["conversationState"]["history"]
    return history


def _tool_spec(body: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = _current(body)["userInputMessageContext"]["tools"][0][
        "toolSpecification"
    ]
    return spec


def _schema(body: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = _tool_spec(body)["inputSchema"]["json"]
    return schema


def _user(content: str = "hi", **context: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"content": content, "modelId": "claude-sonnet-4.5"}
    if context:
        message["userInputMessageContext"] = context
    return {"userInputMessage": message}


def _assistant(content: str = "ok", **fields: Any) -> dict[str, Any]:
    return {"assistantResponseMessage": {"content": content, **fields}}


def _use(tool_use_id: str, name: str = "Bash") -> dict[str, Any]:
    return {"toolUseId": tool_use_id, "name": name, "input": {}}


def _result(tool_use_id: str) -> dict[str, Any]:
    return {"toolUseId": tool_use_id, "content": [{"text": "out"}], "status": "success"}


def _tool(name: str = "Bash") -> dict[str, Any]:
    return {
        "toolSpecification": {
            "name": name,
            "description": "Run a shell command",
            "inputSchema": {"json": {"type": "object", "properties": {}}},
        }
    }


def _request(*history: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "conversationId": "c1",
        "currentMessage": current if current is not None else _user(),
    }
    if history:
        state["history"] = list(history)
    return {"conversationState": state}


DEFAULT_LIMITS = ValidationLimits()


def _rules(body: Any, limits: ValidationLimits = DEFAULT_LIMITS) -> list[str]:
    return [violation.rule for violation in validate_request(body, limits)]


# ---------------------------------------------------------------- valid requests


def test_spec_full_example_is_valid() -> None:
    assert validate_request(SPEC_EXAMPLE) == []


def test_minimal_request_is_valid() -> None:
    assert validate_request(_request()) == []


def test_null_optional_arrays_count_as_absent() -> None:
    body = _request(
        _user("q", toolResults=None, tools=None),
        _assistant("a", toolUses=None),
        current=_user("hi", tools=None),
    )
    body["conversationState"]["history"][0]["userInputMessage"]["images"] = None
    assert validate_request(body) == []
    body["conversationState"]["history"] = None
    assert validate_request(body) == []


def test_null_user_input_message_context_counts_as_absent() -> None:
    current = _user()
    current["userInputMessage"]["userInputMessageContext"] = None
    assert validate_request(_request(current=current)) == []


def test_extra_fields_are_tolerated() -> None:
    body = _example()
    _history(body)[0]["messageId"] = "msg-001"
    _current(body)["userInputMessageContext"]["envState"] = {"operatingSystem": "linux"}
    _history(body)[1]["userInputMessageContext"] = {}
    assert validate_request(body) == []


# ---------------------------------------------------------------- top-level structure


def test_body_must_be_an_object() -> None:
    assert _rules([]) == ["body-not-object"]
    assert validate_request([]) == [  # type: ignore[arg-type]
        Violation("body-not-object", "body: must be an object, got array")
    ]


@pytest.mark.parametrize("state", [None, "x", []])
def test_conversation_state_must_be_an_object(state: Any) -> None:
    assert _rules({"conversationState": state}) == ["missing-conversation-state"]
    assert _rules({}) == ["missing-conversation-state"]


@pytest.mark.parametrize("conversation_id", [None, "", 5])
def test_conversation_id_is_required(conversation_id: Any) -> None:
    body = _example()
    body["conversationState"]["conversationId"] = conversation_id
    assert _rules(body) == ["missing-conversation-id"]
    del body["conversationState"]["conversationId"]
    assert _rules(body) == ["missing-conversation-id"]


def test_current_message_is_required() -> None:
    body = _request()
    del body["conversationState"]["currentMessage"]
    assert _rules(body) == ["missing-current-message"]


def test_current_message_must_be_a_user_message() -> None:
    body = _request(current=_assistant("hello"))
    assert validate_request(body) == [
        Violation(
            "current-not-user",
            "conversationState.currentMessage: must be a userInputMessage",
        )
    ]


@pytest.mark.parametrize("current", [{}, {"userInputMessage": None}, {"userInputMessage": "x"}])
def test_current_user_input_message_is_required(current: dict[str, Any]) -> None:
    assert _rules(_request(current=current)) == ["missing-user-input-message"]


@pytest.mark.parametrize("model_id", [None, "", 4])
def test_model_id_is_required(model_id: Any) -> None:
    body = _example()
    _current(body)["modelId"] = model_id
    assert _rules(body) == ["missing-model-id"]


def test_history_must_be_an_array() -> None:
    body = _request()
    body["conversationState"]["history"] = {"userInputMessage": {}}
    assert validate_request(body) == [
        Violation("invalid-type", "conversationState.history: must be an array, got object")
    ]


def test_user_input_message_context_must_be_an_object() -> None:
    current = _user()
    current["userInputMessage"]["userInputMessageContext"] = "tools"
    assert _rules(_request(current=current)) == ["invalid-type"]


@pytest.mark.parametrize(
    "item",
    [
        {},
        "user",
        {"userInputMessage": {"content": "x"}, "assistantResponseMessage": {"content": "y"}},
        {"userInputMessage": "x"},
    ],
)
def test_history_item_must_hold_exactly_one_message_object(item: Any) -> None:
    body = _request(_user("q"), _assistant("a"), item, _user("q2"), _assistant("a2"))
    assert _rules(body) == ["history-item-invalid"]


# ---------------------------------------------------------------- history order


def test_history_must_start_with_user() -> None:
    body = _request(_assistant("a"))
    assert validate_request(body) == [
        Violation(
            "history-starts-with-assistant",
            f"{HISTORY}[0].assistantResponseMessage: history must start with a user message",
        )
    ]


def test_history_must_alternate() -> None:
    body = _request(_user("a"), _user("b"), _assistant("c"))
    assert validate_request(body) == [
        Violation(
            "history-alternation",
            f"{HISTORY}[1].userInputMessage: follows another userInputMessage; "
            "roles must alternate",
        )
    ]


def test_two_assistants_in_a_row_break_alternation() -> None:
    assert _rules(_request(_user("a"), _assistant("b"), _assistant("c"))) == ["history-alternation"]


def test_history_must_end_with_assistant() -> None:
    body = _request(_user("a"), _assistant("b"), _user("c"))
    assert validate_request(body) == [
        Violation(
            "history-ends-with-user",
            f"{HISTORY}[2].userInputMessage: history must end with an assistant message",
        )
    ]


# ---------------------------------------------------------------- tool pairing


def test_tool_use_without_result_in_next_user_turn_is_orphan() -> None:
    body = _example()
    del _current(body)["userInputMessageContext"]["toolResults"]
    _current(body)["content"] = "go on"
    assert validate_request(body) == [
        Violation(
            "orphan-tool-use",
            f"{HISTORY}[3].assistantResponseMessage.toolUses[0]: "
            "'tooluse_AbC123' has no toolResult in the next user turn",
        )
    ]


def test_tool_use_answered_in_history_user_turn_is_paired() -> None:
    body = _request(
        _user("q"),
        _assistant("a", toolUses=[_use("t1")]),
        _user("", toolResults=[_result("t1")]),
        _assistant("done"),
        current=_user("next", tools=[_tool()]),
    )
    assert validate_request(body) == []


def test_tool_use_answered_two_turns_later_is_orphan() -> None:
    body = _request(
        _user("q"),
        _assistant("a", toolUses=[_use("t1")]),
        _user("not yet"),
        _assistant("b"),
        current=_user("", toolResults=[_result("t1")], tools=[_tool()]),
    )
    assert _rules(body) == ["orphan-tool-use", "orphan-tool-result"]


def test_tool_result_for_unknown_id_is_orphan() -> None:
    body = _example()
    _current(body)["userInputMessageContext"]["toolResults"].append(_result("tooluse_nope"))
    assert validate_request(body) == [
        Violation(
            "orphan-tool-result",
            f"{CURRENT}.userInputMessageContext.toolResults: "
            "'tooluse_nope' answers no toolUse of the previous assistant turn",
        )
    ]


def test_tool_result_in_first_user_turn_is_orphan() -> None:
    body = _request(
        _user("", toolResults=[_result("t0")]),
        _assistant("a"),
        current=_user("q", tools=[_tool()]),
    )
    assert _rules(body) == ["orphan-tool-result"]


def test_duplicate_tool_use_id_in_one_tool_results_list() -> None:
    body = _example()
    results = _current(body)["userInputMessageContext"]["toolResults"]
    results.append(copy.deepcopy(results[0]))
    assert validate_request(body) == [
        Violation(
            "duplicate-tool-result",
            f"{CURRENT}.userInputMessageContext.toolResults[1].toolUseId: "
            "'tooluse_AbC123' appears twice in one toolResults list",
        )
    ]


# ---------------------------------------------------------------- tools present and defined


def test_tool_content_without_tools_is_rejected() -> None:
    body = _example()
    del _current(body)["userInputMessageContext"]["tools"]
    assert _rules(body) == ["tools-missing", "tools-missing"]
    messages = [v.message for v in validate_request(body)]
    assert messages[0].startswith(f"{HISTORY}[3].assistantResponseMessage.toolUses[0]: ")
    assert messages[1].startswith(f"{CURRENT}.userInputMessageContext.toolResults: ")


def test_empty_tools_list_counts_as_no_tools() -> None:
    body = _example()
    _current(body)["userInputMessageContext"]["tools"] = []
    assert _rules(body) == ["tools-missing", "tools-missing"]


def test_history_tool_results_without_tools_are_rejected() -> None:
    body = _request(
        _user("q"),
        _assistant("a", toolUses=[_use("t1")]),
        _user("", toolResults=[_result("t1")]),
        _assistant("done"),
    )
    assert _rules(body) == ["tools-missing", "tools-missing"]


def test_history_tool_use_name_must_be_defined() -> None:
    body = _example()
    _history(body)[3]["assistantResponseMessage"]["toolUses"][0]["name"] = "Read"
    assert validate_request(body) == [
        Violation(
            "undefined-tool",
            f"{HISTORY}[3].assistantResponseMessage.toolUses[0].name: "
            "'Read' is not defined in the current message's tools",
        )
    ]


def test_tool_name_match_is_case_insensitive() -> None:
    body = _example()
    _history(body)[3]["assistantResponseMessage"]["toolUses"][0]["name"] = "bASH"
    assert validate_request(body) == []


def test_tools_in_history_contexts_do_not_count() -> None:
    body = _request(
        _user("q", tools=[_tool("Read")]),
        _assistant("a", toolUses=[_use("t1", "Read")]),
        current=_user("", toolResults=[_result("t1")], tools=[_tool("Bash")]),
    )
    assert _rules(body) == ["undefined-tool"]


# ---------------------------------------------------------------- tool specifications


def test_tool_name_over_limit() -> None:
    body = _example()
    _tool_spec(body)["name"] = "x" * 65
    assert validate_request(body) == [
        Violation("tool-name-too-long", f"{TOOL}.name: 65 characters, the limit is 64"),
        Violation(
            "undefined-tool",
            f"{HISTORY}[3].assistantResponseMessage.toolUses[0].name: "
            "'Bash' is not defined in the current message's tools",
        ),
    ]


def test_tool_name_at_limit_is_accepted() -> None:
    body = _request(current=_user(tools=[_tool("x" * 64)]))
    assert validate_request(body) == []


def test_tool_name_limit_is_configurable() -> None:
    body = _request(current=_user(tools=[_tool("x" * 64)]))
    assert _rules(body, ValidationLimits(max_tool_name=63)) == ["tool-name-too-long"]


@pytest.mark.parametrize("description", [None, ""])
def test_tool_description_must_not_be_empty(description: Any) -> None:
    body = _example()
    _tool_spec(body)["description"] = description
    assert validate_request(body) == [
        Violation("tool-description-empty", f"{TOOL}.description: missing or empty")
    ]


def test_missing_tool_description_is_empty() -> None:
    body = _example()
    del _tool_spec(body)["description"]
    assert _rules(body) == ["tool-description-empty"]


def test_whitespace_tool_description_is_accepted() -> None:
    body = _example()
    _tool_spec(body)["description"] = " "
    assert validate_request(body) == []


def test_tool_description_over_limit() -> None:
    body = _example()
    _tool_spec(body)["description"] = "d" * 10241
    assert validate_request(body) == [
        Violation(
            "tool-description-too-long",
            f"{TOOL}.description: 10241 characters, the limit is 10240",
        )
    ]
    _tool_spec(body)["description"] = "d" * 10240
    assert validate_request(body) == []


def test_tool_description_limit_is_configurable() -> None:
    body = _example()
    _tool_spec(body)["description"] = "d" * 10001
    assert _rules(body, ValidationLimits(max_tool_description=10000)) == [
        "tool-description-too-long"
    ]


@pytest.mark.parametrize(
    ("tool", "path"),
    [
        ("Bash", "toolSpecification"),
        ({}, "toolSpecification"),
        ({"toolSpecification": None}, "toolSpecification"),
    ],
)
def test_tool_must_have_a_tool_specification(tool: Any, path: str) -> None:
    body = _request(current=_user(tools=[tool]))
    assert validate_request(body) == [
        Violation(
            "invalid-tool",
            f"{CURRENT}.userInputMessageContext.tools[0].{path}: missing or not an object",
        )
    ]


@pytest.mark.parametrize("name", [None, "", 3])
def test_tool_name_is_required(name: Any) -> None:
    body = _request(current=_user(tools=[_tool()]))
    _tool_spec(body)["name"] = name
    assert _rules(body) == ["invalid-tool"]


def test_tool_description_must_be_a_string() -> None:
    body = _request(current=_user(tools=[_tool()]))
    _tool_spec(body)["description"] = ["Run"]
    assert validate_request(body) == [
        Violation("invalid-tool", f"{TOOL}.description: must be a string, got array")
    ]


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("required", None, "must be an array of strings"),
        ("required", "command", "must be an array of strings"),
        ("required", ["command", 1], "must be an array of strings"),
        ("properties", None, "must be an object, got null"),
        ("properties", [], "must be an object, got array"),
        ("type", None, "must be a string, got null"),
        ("type", ["object", "null"], "must be a string, got array"),
        ("type", True, "must be a string, got boolean"),
        ("type", 1, "must be a string, got number"),
    ],
)
def test_null_or_wrong_typed_schema_field_is_rejected(key: str, value: Any, problem: str) -> None:
    body = _example()
    _schema(body)[key] = value
    assert validate_request(body) == [
        Violation("invalid-tool-schema", f"{TOOL}.inputSchema.json.{key}: {problem}")
    ]


def test_schema_tolerates_additional_properties_empty_required_and_missing_fields() -> None:
    body = _example()
    body_schema = _schema(body)
    body_schema.update({"additionalProperties": False, "required": [], "$schema": "x"})
    del body_schema["type"]
    del body_schema["properties"]
    assert validate_request(body) == []


def test_nested_schema_fields_are_not_checked() -> None:
    body = _example()
    _schema(body)["properties"] = {"command": {"type": None, "required": None}}
    assert validate_request(body) == []


@pytest.mark.parametrize("input_schema", [None, {}, {"json": None}, {"json": "{}"}])
def test_tool_needs_an_input_schema_object(input_schema: Any) -> None:
    body = _example()
    _tool_spec(body)["inputSchema"] = input_schema
    assert validate_request(body) == [
        Violation("invalid-tool-schema", f"{TOOL}.inputSchema.json: missing or not an object")
    ]


# ---------------------------------------------------------------- content


def test_empty_current_content_without_results_or_images() -> None:
    body = _request(current=_user(""))
    assert validate_request(body) == [
        Violation(
            "empty-content", f"{CURRENT}.content: empty content without toolResults or images"
        )
    ]


def test_empty_history_user_content_is_rejected() -> None:
    assert _rules(_request(_user(""), _assistant("a"))) == ["empty-content"]


def test_empty_user_content_with_tool_results_is_accepted() -> None:
    assert _current(SPEC_EXAMPLE)["content"] == ""
    assert validate_request(SPEC_EXAMPLE) == []


def test_empty_user_content_with_images_is_accepted() -> None:
    current = _user("")
    current["userInputMessage"]["images"] = [{"format": "png", "source": {"bytes": "iVBO"}}]
    assert validate_request(_request(current=current)) == []


def test_empty_assistant_content_is_rejected_even_with_tool_uses() -> None:
    body = _example()
    _history(body)[3]["assistantResponseMessage"]["content"] = ""
    assert _rules(body) == ["empty-content"]


def test_single_space_assistant_content_with_tool_uses_is_accepted() -> None:
    body = _example()
    _history(body)[3]["assistantResponseMessage"]["content"] = " "
    assert validate_request(body) == []


def test_content_check_can_be_turned_off() -> None:
    body = _request(_user(""), _assistant(""), current=_user(""))
    assert _rules(body) == ["empty-content"] * 3
    assert validate_request(body, ValidationLimits(require_content=False)) == []


@pytest.mark.parametrize("content", [None, 5, ["text"]])
def test_content_must_be_a_string(content: Any) -> None:
    body = _request(_user("q"), _assistant("a"), current=_user("x"))
    for message in (_history(body)[0]["userInputMessage"], _current(body)):
        message["content"] = content
    _history(body)[1]["assistantResponseMessage"]["content"] = content
    assert _rules(body) == ["content-not-string"] * 3


def test_missing_content_is_not_a_string() -> None:
    current = _user()
    del current["userInputMessage"]["content"]
    assert validate_request(_request(current=current)) == [
        Violation("content-not-string", f"{CURRENT}.content: must be a string, got null")
    ]


# ---------------------------------------------------------------- images


@pytest.mark.parametrize("image_format", ["jpeg", "png", "gif", "webp"])
def test_supported_image_formats_are_accepted(image_format: str) -> None:
    current = _user("look")
    current["userInputMessage"]["images"] = [{"format": image_format, "source": {"bytes": "A"}}]
    assert validate_request(_request(current=current)) == []


@pytest.mark.parametrize(
    ("image", "field"),
    [
        ({"format": "bmp", "source": {"bytes": "A"}}, ".format"),
        ({"format": "image/png", "source": {"bytes": "A"}}, ".format"),
        ({"source": {"bytes": "A"}}, ".format"),
        ({"format": "png"}, ".source.bytes"),
        ({"format": "png", "source": "A"}, ".source.bytes"),
        ({"format": "png", "source": {"bytes": b"A"}}, ".source.bytes"),
        ({"format": "png", "source": {"bytes": None}}, ".source.bytes"),
        ("data:image/png;base64,A", ""),
    ],
)
def test_malformed_image_is_rejected(image: Any, field: str) -> None:
    current = _user("look")
    current["userInputMessage"]["images"] = [image]
    violations = validate_request(_request(current=current))
    assert [v.rule for v in violations] == ["invalid-image"]
    assert violations[0].message.startswith(f"{CURRENT}.images[0]{field}: ")


def test_images_must_be_an_array() -> None:
    current = _user("look")
    current["userInputMessage"]["images"] = {"format": "png"}
    assert _rules(_request(current=current)) == ["invalid-type"]


def test_history_images_are_checked() -> None:
    first = _user("look")
    first["userInputMessage"]["images"] = [{"format": "tiff", "source": {"bytes": "A"}}]
    assert _rules(_request(first, _assistant("a"))) == ["invalid-image"]


# ---------------------------------------------------------------- tool results and tool uses


@pytest.mark.parametrize("content", ["text", None, [{"text": "a"}, "b"], {"text": "a"}])
def test_tool_result_content_must_be_an_array_of_objects(content: Any) -> None:
    body = _example()
    _current(body)["userInputMessageContext"]["toolResults"][0]["content"] = content
    assert validate_request(body) == [
        Violation(
            "invalid-tool-result-content",
            f"{CURRENT}.userInputMessageContext.toolResults[0].content: "
            "must be an array of objects",
        )
    ]


def test_tool_result_json_content_is_accepted() -> None:
    body = _example()
    _current(body)["userInputMessageContext"]["toolResults"][0]["content"] = [{"json": {"a": 1}}]
    assert validate_request(body) == []


def test_tool_result_error_status_is_accepted() -> None:
    body = _example()
    result = _current(body)["userInputMessageContext"]["toolResults"][0]
    result.update({"status": "error", "isError": True})
    assert validate_request(body) == []


def test_tool_result_status_must_be_success_or_error() -> None:
    body = _example()
    _current(body)["userInputMessageContext"]["toolResults"][0]["status"] = "failed"
    assert _rules(body) == ["invalid-tool-result"]


def test_tool_result_must_be_an_object() -> None:
    body = _example()
    _current(body)["userInputMessageContext"]["toolResults"].append("tooluse_AbC123")
    assert _rules(body) == ["invalid-tool-result"]


@pytest.mark.parametrize("tool_use_id", [None, "", 7])
def test_tool_result_needs_a_tool_use_id(tool_use_id: Any) -> None:
    body = _example()
    _current(body)["userInputMessageContext"]["toolResults"].append(
        {"toolUseId": tool_use_id, "content": [{"text": "x"}]}
    )
    assert _rules(body) == ["invalid-tool-result"]


def test_tool_results_must_be_an_array() -> None:
    body = _example()
    context = _current(body)["userInputMessageContext"]
    context["toolResults"] = context["toolResults"][0]
    # The current message then has neither content nor results, and the toolUse no answer.
    assert _rules(body) == ["invalid-type", "empty-content", "orphan-tool-use"]


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("input", '{"command":"ls -l"}', "must be an object, got string"),
        ("input", None, "must be an object, got null"),
        ("toolUseId", "", "missing or empty"),
        ("name", None, "missing or empty"),
    ],
)
def test_malformed_tool_use_is_rejected(key: str, value: Any, problem: str) -> None:
    body = _example()
    _history(body)[3]["assistantResponseMessage"]["toolUses"][0][key] = value
    violations = validate_request(body)
    path = f"{HISTORY}[3].assistantResponseMessage.toolUses[0].{key}"
    assert violations[0] == Violation("invalid-tool-use", f"{path}: {problem}")


def test_tool_use_must_be_an_object() -> None:
    body = _request(_user("q"), _assistant("a", toolUses=["Bash"]), current=_user(tools=[_tool()]))
    assert _rules(body) == ["invalid-tool-use"]


def test_tool_uses_must_be_an_array() -> None:
    body = _request(_user("q"), _assistant("a", toolUses={}), current=_user(tools=[_tool()]))
    assert _rules(body) == ["invalid-type"]


# ---------------------------------------------------------------- model ids


def test_known_model_ids_hold_current_and_legacy_ids() -> None:
    assert "claude-sonnet-4.5" in CURRENT_MODEL_IDS
    assert "auto" in CURRENT_MODEL_IDS
    assert "CLAUDE_SONNET_4_5_20250929_V1_0" in LEGACY_MODEL_IDS
    assert KNOWN_MODEL_IDS == CURRENT_MODEL_IDS | LEGACY_MODEL_IDS
    assert "claude-sonnet-4-5" not in KNOWN_MODEL_IDS


def test_model_id_is_not_checked_against_the_catalogue() -> None:
    body = _example()
    _current(body)["modelId"] = "gpt-4"
    assert validate_request(body) == []


# ---------------------------------------------------------------- reporting


def test_all_violations_are_reported_in_document_order() -> None:
    body = _request(
        _assistant(""),
        current=_user("", tools=[{"toolSpecification": {"name": "x" * 70}}]),
    )
    assert _rules(body) == [
        "tool-name-too-long",
        "tool-description-empty",
        "invalid-tool-schema",
        "history-starts-with-assistant",
        "empty-content",
        "empty-content",
    ]
