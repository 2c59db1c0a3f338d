import base64
import itertools
import json
from typing import Any

import pytest

from kirogate.convert.ir import (
    Conversation,
    Document,
    Image,
    Instruction,
    JsonFormat,
    Text,
    Thinking,
    ThinkingConfig,
    ToolCall,
    ToolChoice,
    ToolDef,
    ToolResult,
    Turn,
)
from kirogate.convert.responses_in import (
    SEARCH_RESULTS_KEY,
    continue_conversation,
    responses_to_ir,
)
from kirogate.errors import InvalidRequest

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
PNG_URL = f"data:image/png;base64,{PNG}"
SHELL = {
    "type": "function",
    "name": "shell",
    "description": "Run a command",
    "parameters": {"type": "object", "properties": {"command": {"type": "array"}}},
    "strict": False,
}
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"},
}


def body(*items: Any, **fields: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "input": list(items), **fields}


def message(role: str, content: Any) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": content}


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"call_{next(counter)}"


def rejected(request: dict[str, Any], previous: Conversation | None = None) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        responses_to_ir(request, previous=previous, new_id=ids())
    return info.value


# ---------------------------------------------------------------- input


def test_string_input_is_one_user_text() -> None:
    conv = responses_to_ir({"model": "m", "input": "hello"})
    assert conv.turns == (Turn("user", (Text("hello"),)),)


def test_empty_string_input_is_an_empty_user_turn() -> None:
    assert responses_to_ir({"model": "m", "input": ""}).turns == (Turn("user", ()),)


def test_missing_input_gives_no_turns() -> None:
    assert responses_to_ir({"model": "m"}).turns == ()


def test_input_that_is_not_a_list_or_string_is_rejected() -> None:
    assert rejected({"model": "m", "input": 3}).param == "input"


def test_instructions_then_system_and_developer_messages_form_the_system_prompt() -> None:
    conv = responses_to_ir(
        body(
            message("developer", "Dev rules."),
            message("system", [{"type": "input_text", "text": "Sys rules."}]),
            message("user", "hi"),
            instructions="You are Codex.",
        )
    )
    assert conv.system == "You are Codex.\n\nDev rules.\n\nSys rules."
    assert conv.metadata["message_system"] == "Dev rules.\n\nSys rules."


def test_developer_message_after_the_first_turn_stays_in_place() -> None:
    conv = responses_to_ir(
        body(message("user", "hi"), message("developer", "Now be terse."), message("user", "go"))
    )
    assert conv.system == ""
    assert conv.turns == (Turn("user", (Text("hi"), Instruction("Now be terse."), Text("go"))),)
    assert conv.metadata["message_system"] == ""


def test_system_message_after_previous_turns_is_an_instruction() -> None:
    previous = Conversation("m", (Turn("user", (Text("a"),)), Turn("assistant", (Text("b"),))))
    request = body(message("system", "Switch to plan mode."), previous_response_id="resp_1")
    conv = responses_to_ir(request, previous=previous)
    assert conv.turns[2] == Turn("user", (Instruction("Switch to plan mode."),))


def test_system_message_with_an_image_is_rejected() -> None:
    content = [{"type": "input_image", "image_url": PNG_URL, "detail": "auto"}]
    assert rejected(body(message("system", content))).param == "input[0].content"


def test_message_without_type_is_an_easy_input_message() -> None:
    conv = responses_to_ir(body({"role": "user", "content": "hi"}))
    assert conv.turns == (Turn("user", (Text("hi"),)),)


def test_user_parts_text_image_and_file() -> None:
    data = base64.b64encode(b"file text").decode()
    conv = responses_to_ir(
        body(
            message(
                "user",
                [
                    {"type": "input_text", "text": "see"},
                    {"type": "input_image", "image_url": PNG_URL, "detail": "auto"},
                    {
                        "type": "input_file",
                        "filename": "a.txt",
                        "file_data": f"data:text/plain;base64,{data}",
                    },
                ],
            )
        )
    )
    assert conv.turns[0].parts == (
        Text("see"),
        Image("image/png", PNG),
        Document("text/plain", "file text", "a.txt"),
    )


def test_consecutive_user_messages_merge_into_one_turn() -> None:
    conv = responses_to_ir(body(message("user", "env"), message("user", "task")))
    assert conv.turns == (Turn("user", (Text("env"), Text("task"))),)


def test_assistant_output_text_and_refusal() -> None:
    content = [
        {"type": "output_text", "text": "Sure.", "annotations": []},
        {"type": "refusal", "refusal": "But not that."},
    ]
    conv = responses_to_ir(body(message("user", "x"), message("assistant", content)))
    assert conv.turns[1] == Turn("assistant", (Text("Sure."), Text("But not that.")))


def test_unknown_message_role_is_rejected() -> None:
    assert rejected(body(message("tool", "x"))).param == "input[0].role"


def test_message_without_content_is_rejected() -> None:
    assert rejected(body({"type": "message", "role": "user"})).param == "input[0].content"


def test_input_image_by_file_id_is_rejected() -> None:
    part = {"type": "input_image", "file_id": "file-1", "detail": "auto"}
    assert rejected(body(message("user", [part]))).param == "input[0].content[0].file_id"


def test_input_image_http_url_is_rejected() -> None:
    part = {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"}
    assert rejected(body(message("user", [part]))).param == "input[0].content[0].image_url"


def test_input_file_by_id_is_rejected() -> None:
    part = {"type": "input_file", "file_id": "file-1"}
    assert rejected(body(message("user", [part]))).param == "input[0].content[0]"


def test_unknown_content_part_is_rejected() -> None:
    part = {"type": "input_audio", "input_audio": {}}
    assert rejected(body(message("user", [part]))).param == "input[0].content[0].type"


def test_item_that_is_not_an_object_is_rejected() -> None:
    assert rejected(body("hi")).param == "input[0]"


# ---------------------------------------------------------------- tool items


def test_function_call_and_output_items() -> None:
    conv = responses_to_ir(
        body(
            message("user", "list files"),
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "tooluse_a",
                "name": "shell",
                "arguments": '{"command":["ls"]}',
            },
            {"type": "function_call_output", "call_id": "tooluse_a", "output": "a.txt"},
        )
    )
    assert conv.turns[1:] == (
        Turn("assistant", (ToolCall("tooluse_a", "shell", {"command": ["ls"]}),)),
        Turn("user", (ToolResult("tooluse_a", "a.txt"),)),
    )


def test_function_call_without_call_id_gets_one() -> None:
    item = {"type": "function_call", "name": "shell", "arguments": "{}"}
    conv = responses_to_ir(body(item), new_id=ids())
    assert conv.turns == (Turn("assistant", (ToolCall("call_1", "shell", {}),)),)


def test_function_call_with_bad_json_keeps_the_raw_arguments() -> None:
    item = {"type": "function_call", "call_id": "c", "name": "shell", "arguments": "{oops"}
    conv = responses_to_ir(body(item))
    assert conv.turns[0].parts == (ToolCall("c", "shell", {"value": "{oops"}),)


def test_function_call_output_parts_keep_text_and_images() -> None:
    output = [
        {"type": "input_text", "text": "shot:"},
        {"type": "input_image", "image_url": PNG_URL, "detail": "auto"},
    ]
    item = {"type": "function_call_output", "call_id": "c", "output": output}
    conv = responses_to_ir(body(item))
    assert conv.turns[0].parts == (ToolResult("c", "shot:", images=(Image("image/png", PNG),)),)


def test_function_call_output_with_a_text_file_part() -> None:
    data = base64.b64encode(b"log").decode()
    output = [{"type": "input_file", "file_data": data, "filename": "out.log"}]
    conv = responses_to_ir(body({"type": "function_call_output", "call_id": "c", "output": output}))
    assert conv.turns[0].parts == (ToolResult("c", "log"),)


def test_function_call_output_without_call_id_is_rejected() -> None:
    item = {"type": "function_call_output", "output": "x"}
    assert rejected(body(item)).param == "input[0].call_id"


def test_custom_tool_call_and_output_items() -> None:
    conv = responses_to_ir(
        body(
            {
                "type": "custom_tool_call",
                "call_id": "tooluse_p",
                "name": "apply_patch",
                "input": "*** Begin Patch\n*** End Patch",
            },
            {"type": "custom_tool_call_output", "call_id": "tooluse_p", "output": "Done!"},
        )
    )
    assert conv.turns == (
        Turn(
            "assistant",
            (ToolCall("tooluse_p", "apply_patch", {"input": "*** Begin Patch\n*** End Patch"}),),
        ),
        Turn("user", (ToolResult("tooluse_p", "Done!"),)),
    )


def test_custom_tool_call_without_input_is_rejected() -> None:
    item = {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch"}
    assert rejected(body(item)).param == "input[0].input"


def test_reasoning_summary_becomes_thinking_in_the_assistant_turn() -> None:
    conv = responses_to_ir(
        body(
            message("user", "x"),
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [
                    {"type": "summary_text", "text": "First."},
                    {"type": "summary_text", "text": "Second."},
                ],
                "encrypted_content": "gAAAA",
            },
            message("assistant", [{"type": "output_text", "text": "Answer."}]),
        )
    )
    assert conv.turns[1] == Turn("assistant", (Thinking("First.\n\nSecond."), Text("Answer.")))


def test_reasoning_content_is_preferred_over_the_summary() -> None:
    item = {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "short"}],
        "content": [{"type": "reasoning_text", "text": "long"}],
    }
    assert responses_to_ir(body(item)).turns == (Turn("assistant", (Thinking("long"),)),)


def test_reasoning_without_text_adds_nothing() -> None:
    item = {"type": "reasoning", "summary": [], "encrypted_content": "gAAAA"}
    assert responses_to_ir(body(message("user", "x"), item)).turns == (Turn("user", (Text("x"),)),)


def test_unsupported_item_type_is_rejected() -> None:
    item = {"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": []}
    error = rejected(body(item))
    assert error.param == "input[0].type"
    assert "file_search_call" in error.message


def test_web_search_call_item_becomes_assistant_text_naming_the_query() -> None:
    item = {"type": "web_search_call", "id": "ws_1", "status": "completed"}
    item["action"] = {"type": "search", "query": "rust"}
    conv = responses_to_ir(body(message("user", "look it up"), item))
    assert conv.turns[1] == Turn("assistant", (Text('(Searched the web for "rust".)'),))


def test_web_search_call_item_without_a_query_still_says_a_search_ran() -> None:
    item = {"type": "web_search_call", "id": "ws_1", "status": "completed"}
    conv = responses_to_ir(body(message("user", "q"), item))
    assert conv.turns[1] == Turn("assistant", (Text("(Searched the web.)"),))


def test_web_search_call_item_gets_the_results_the_gateway_kept() -> None:
    item = {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {}}
    kept = {**item, SEARCH_RESULTS_KEY: "1. result"}
    conv = responses_to_ir(body(message("user", "q"), item), references={"ws_1": kept})
    assert conv.turns[1] == Turn("assistant", (Text("1. result"),))


# ---------------------------------------------------------------- item references


def test_item_reference_resolves_from_the_previous_conversation() -> None:
    stored = {"type": "message", "id": "msg_9", "role": "user", "content": "from before"}
    previous = Conversation("m", (), metadata={"items": {"msg_9": stored}})
    conv = responses_to_ir(
        body({"type": "item_reference", "id": "msg_9"}, previous_response_id="resp_1"),
        previous=previous,
    )
    assert conv.turns == (Turn("user", (Text("from before"),)),)


def test_item_reference_resolves_from_stored_items_without_previous_response_id() -> None:
    call = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "shell"}
    call["arguments"] = '{"command": ["ls"]}'
    output = {"type": "function_call_output", "call_id": "c1", "output": "a.txt"}
    request = body(message("user", "list"), {"type": "item_reference", "id": "fc_1"}, output)
    conv = responses_to_ir(request, references={"fc_1": call})
    assert conv.turns[1] == Turn("assistant", (ToolCall("c1", "shell", {"command": ["ls"]}),))
    assert conv.turns[2] == Turn("user", (ToolResult("c1", "a.txt"),))


def test_unknown_item_reference_is_rejected() -> None:
    assert rejected(body({"type": "item_reference", "id": "msg_x"})).param == "input[0].id"


def test_input_items_with_ids_are_remembered() -> None:
    item = {"type": "message", "id": "msg_1", "role": "user", "content": "x"}
    assert responses_to_ir(body(item)).metadata["items"] == {"msg_1": item}


# ---------------------------------------------------------------- tools


def test_function_and_custom_tools() -> None:
    conv = responses_to_ir(body(tools=[SHELL, APPLY_PATCH]))
    shell, patch = conv.tools
    assert shell == ToolDef("shell", "Run a command", SHELL["parameters"])
    assert (patch.name, patch.kind, patch.description) == ("apply_patch", "custom", "Edit files")
    assert patch.input_schema["properties"]["input"]["type"] == "string"
    assert "start: begin_patch" in patch.input_schema["properties"]["input"]["description"]


def test_custom_tool_with_text_format() -> None:
    raw = {"type": "custom", "name": "note", "format": {"type": "text"}}
    (tool_def,) = responses_to_ir(body(tools=[raw])).tools
    assert tool_def.input_schema["required"] == ["input"]
    assert "grammar" not in tool_def.input_schema["properties"]["input"]["description"]


def test_custom_tool_with_an_unknown_format_is_rejected() -> None:
    raw = {"type": "custom", "name": "note", "format": {"type": "regexp"}}
    assert rejected(body(tools=[raw])).param == "tools[0].format.type"


def test_hosted_tools_are_declined_and_listed() -> None:
    conv = responses_to_ir(body(tools=[{"type": "file_search"}, SHELL, {"type": "local_shell"}]))
    assert [t.name for t in conv.tools] == ["shell"]
    assert conv.metadata["declined_tools"] == ["file_search", "local_shell"]


@pytest.mark.parametrize("kind", ["web_search", "web_search_preview", "web_search_2025_08_26"])
def test_web_search_tools_are_served_by_the_gateway(kind: str) -> None:
    conv = responses_to_ir(body(tools=[SHELL, {"type": kind}]))
    assert conv.tools[1] == ToolDef("web_search", "", {}, kind="web_search")
    assert "declined_tools" not in conv.metadata


def test_namespace_tools_become_prefixed_functions() -> None:
    spawn = {"type": "function", "name": "spawn", "description": "Start", "parameters": {}}
    namespace = {"type": "namespace", "name": "agents", "description": "d", "tools": [spawn]}
    conv = responses_to_ir(body(tools=[namespace]))
    assert [(t.name, t.kind, t.description) for t in conv.tools] == [
        ("agents__spawn", "function", "Start")
    ]
    assert conv.metadata["namespaces"] == {"agents__spawn": ("agents", "spawn")}


def test_namespace_members_that_are_not_functions_are_declined() -> None:
    namespace = {"type": "namespace", "name": "ns", "tools": [{"type": "mcp"}]}
    conv = responses_to_ir(body(tools=[namespace]))
    assert conv.tools == ()
    assert conv.metadata["declined_tools"] == ["namespace/mcp"]


def test_function_call_items_with_a_namespace_use_the_prefixed_name() -> None:
    item = {"type": "function_call", "call_id": "c1", "name": "spawn", "namespace": "agents"}
    conv = responses_to_ir(body(message("user", "go"), {**item, "arguments": "{}"}))
    assert conv.turns[1] == Turn("assistant", (ToolCall("c1", "agents__spawn", {}),))


def test_tool_without_type_is_rejected() -> None:
    assert rejected(body(tools=[{"name": "x"}])).param == "tools[0].type"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", ToolChoice("auto")),
        ("none", ToolChoice("none")),
        ("required", ToolChoice("any")),
        ({"type": "function", "name": "shell"}, ToolChoice("tool", "shell")),
        ({"type": "custom", "name": "apply_patch"}, ToolChoice("tool", "apply_patch")),
        ({"type": "allowed_tools", "mode": "required", "tools": []}, ToolChoice("any")),
        ({"type": "allowed_tools", "mode": "auto", "tools": []}, ToolChoice("auto")),
        ({"type": "web_search_preview"}, ToolChoice("auto")),
    ],
)
def test_tool_choice_maps_to_ir(choice: Any, expected: ToolChoice) -> None:
    conv = responses_to_ir(body(tools=[SHELL, APPLY_PATCH], tool_choice=choice))
    assert conv.tool_choice == expected


def test_tool_choice_naming_an_unknown_tool_is_rejected() -> None:
    choice = {"type": "function", "name": "nope"}
    assert rejected(body(tools=[SHELL], tool_choice=choice)).param == "tool_choice.name"


def test_unknown_tool_choice_string_is_rejected() -> None:
    assert rejected(body(tool_choice="sometimes")).param == "tool_choice"


def test_allowed_tools_with_a_bad_mode_is_rejected() -> None:
    choice = {"type": "allowed_tools", "mode": "any"}
    assert rejected(body(tool_choice=choice)).param == "tool_choice.mode"


# ---------------------------------------------------------------- options


def test_reasoning_effort_and_summary() -> None:
    conv = responses_to_ir(body(reasoning={"effort": "high", "summary": "auto"}))
    assert conv.thinking == ThinkingConfig("enabled", budget_tokens=20000, effort="high")
    assert conv.metadata["reasoning_summary"] == "auto"


def test_deprecated_generate_summary_is_read() -> None:
    conv = responses_to_ir(body(reasoning={"generate_summary": "concise"}))
    assert (conv.thinking, conv.metadata["reasoning_summary"]) == (None, "concise")


def test_bad_reasoning_effort_is_rejected() -> None:
    assert rejected(body(reasoning={"effort": "huge"})).param == "reasoning.effort"


def test_max_output_tokens_stream_store_and_parallel_tool_calls() -> None:
    conv = responses_to_ir(
        body(max_output_tokens=500, stream=True, store=False, parallel_tool_calls=False)
    )
    assert (conv.max_tokens, conv.stream) == (500, True)
    assert (conv.metadata["store"], conv.metadata["parallel_tool_calls"]) == (False, False)


def test_store_and_parallel_tool_calls_default_to_true() -> None:
    conv = responses_to_ir(body())
    assert (conv.metadata["store"], conv.metadata["parallel_tool_calls"]) == (True, True)


def test_json_schema_text_format_sets_the_output_format() -> None:
    fmt = {"type": "json_schema", "name": "plan", "schema": {"type": "object"}, "strict": True}
    conv = responses_to_ir(body(instructions="Plan.", text={"format": fmt}))
    assert conv.output_format == JsonFormat("json_schema", {"type": "object"}, name="plan")
    assert conv.system == "Plan."  # the Kiro builder adds the instruction


def test_json_object_text_format_sets_the_output_format() -> None:
    conv = responses_to_ir(body(text={"format": {"type": "json_object"}}))
    assert conv.output_format == JsonFormat("json_object")


def test_text_without_format_adds_nothing() -> None:
    conv = responses_to_ir(body(text={"verbosity": "low"}))
    assert (conv.system, conv.output_format) == ("", None)


def test_json_schema_text_format_with_a_non_object_schema_is_rejected() -> None:
    fmt = {"type": "json_schema", "name": "plan", "schema": ["object"]}
    assert rejected(body(text={"format": fmt})).param == "text.format.schema"


def test_json_schema_text_format_without_schema_is_rejected() -> None:
    assert rejected(body(text={"format": {"type": "json_schema"}})).param == "text.format.schema"


def test_unknown_text_format_is_rejected() -> None:
    assert rejected(body(text={"format": {"type": "yaml"}})).param == "text.format.type"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("background", True),
        ("conversation", "conv_1"),
        ("prompt", {"id": "p"}),
        ("top_logprobs", 2),
    ],
)
def test_unsupported_options_are_rejected(field: str, value: Any) -> None:
    assert rejected(body(**{field: value})).param == field


def test_prompt_cache_key_is_the_session_id() -> None:
    assert responses_to_ir(body(prompt_cache_key="conv-123")).session_id == "conv-123"


def test_missing_model_is_rejected() -> None:
    assert rejected({"input": "x"}).param == "model"


# ---------------------------------------------------------------- previous_response_id


def test_previous_response_id_without_a_stored_response_is_rejected() -> None:
    error = rejected(body(previous_response_id="resp_gone"))
    assert error.param == "previous_response_id"
    assert "resp_gone" in error.message


def test_previous_turns_come_first_and_instructions_are_not_carried_over() -> None:
    first = responses_to_ir(
        body(message("developer", "Dev."), message("user", "hi"), instructions="Old.")
    )
    response = {
        "output": [
            {
                "type": "message",
                "id": "msg_a",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Hello.", "annotations": []}],
            }
        ]
    }
    stored = continue_conversation(first, response)
    second = responses_to_ir(
        body(message("user", "again"), previous_response_id="resp_1", instructions="New."),
        previous=stored,
    )
    assert second.turns == (
        Turn("user", (Text("hi"),)),
        Turn("assistant", (Text("Hello."),)),
        Turn("user", (Text("again"),)),
    )
    assert second.system == "New.\n\nDev."


def test_previous_session_id_is_kept() -> None:
    previous = Conversation("m", (), session_id="sess")
    conv = responses_to_ir(body(previous_response_id="resp_1"), previous=previous)
    assert conv.session_id == "sess"


def test_continue_conversation_appends_output_items_as_one_assistant_turn() -> None:
    conv = responses_to_ir(body(message("user", "fix it")))
    output = [
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Hmm."}]},
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "tooluse_1",
            "name": "shell",
            "arguments": '{"command":["ls"]}',
            "status": "completed",
        },
        {
            "type": "custom_tool_call",
            "id": "ctc_1",
            "call_id": "tooluse_2",
            "name": "apply_patch",
            "input": "*** Begin Patch",
        },
    ]
    stored = continue_conversation(conv, {"output": output})
    assert stored.turns[1] == Turn(
        "assistant",
        (
            Thinking("Hmm."),
            ToolCall("tooluse_1", "shell", {"command": ["ls"]}),
            ToolCall("tooluse_2", "apply_patch", {"input": "*** Begin Patch"}),
        ),
    )
    assert set(stored.metadata["items"]) == {"rs_1", "fc_1", "ctc_1"}


def test_continue_conversation_skips_empty_reasoning() -> None:
    conv = Conversation("m", (Turn("user", (Text("x"),)),))
    stored = continue_conversation(conv, {"output": [{"type": "reasoning", "summary": []}]})
    assert stored.turns == conv.turns


def test_default_ids_are_call_ids() -> None:
    conv = responses_to_ir(body({"type": "function_call", "name": "shell", "arguments": "{}"}))
    (part,) = conv.turns[0].parts
    assert isinstance(part, ToolCall) and part.id.startswith("call_")


def test_empty_summary_parts_are_skipped() -> None:
    summary = [{"type": "summary_text", "text": ""}, {"type": "summary_text", "text": "kept"}]
    conv = responses_to_ir(body({"type": "reasoning", "summary": summary}))
    assert conv.turns == (Turn("assistant", (Thinking("kept"),)),)


# ---------------------------------------------------------------- prompt caching


def test_prompt_cache_key_is_kept_for_cache_estimates() -> None:
    request = body(message("user", "hi"), prompt_cache_key="codex-1", prompt_cache_retention="24h")
    assert responses_to_ir(request).cache_key == "codex-1"


# ---------------------------------------------------------------- input limits


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        value = {"type": "object", "properties": {"a": value}}
    return value


def test_non_ascii_character_in_image_data_is_rejected_naming_the_field() -> None:
    part = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo" + "é"}
    error = rejected(body(message("user", [part])))
    assert error.param == "input[0].content[0].image_url"


def test_function_parameters_nested_too_deep_are_rejected_naming_the_field() -> None:
    error = rejected(body(tools=[{"type": "function", "name": "t", "parameters": deep(300)}]))
    assert error.param == "tools[0].parameters"


def test_function_call_arguments_nested_too_deep_are_rejected_naming_the_field() -> None:
    arguments = json.dumps(deep(300))
    item = {"type": "function_call", "call_id": "c1", "name": "t", "arguments": arguments}
    error = rejected(body(message("user", "hi"), item))
    assert error.param == "input[1].arguments"


def test_echoed_metadata_nested_too_deep_is_rejected_naming_the_field() -> None:
    error = rejected(body(message("user", "hi"), metadata=deep(300)))
    assert error.param == "metadata"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("truncation", deep(300)),  # found by tests/convert/test_generated_requests.py: a 500
        ("truncation", "sometimes"),
        ("store", "yes"),
        ("parallel_tool_calls", [True]),
        ("user", {"id": 1}),
        ("temperature", "hot"),
        ("top_p", True),
    ],
)
def test_echoed_scalars_of_the_wrong_type_are_rejected_naming_the_field(
    field: str, value: Any
) -> None:
    error = rejected(body(message("user", "hi"), **{field: value}))
    assert error.param == field
    assert error.message.startswith(f"{field}: ")


def test_echoed_scalars_of_their_own_type_are_accepted() -> None:
    request = body(
        message("user", "hi"), truncation="auto", user="u", temperature=0.2, top_p=1, store=True
    )
    assert responses_to_ir(request).metadata["store"] is True


def test_unsupported_types_are_named_without_quoting_a_nested_value() -> None:
    # Found by generated requests: repr() of a value nested 1,000 deep was a RecursionError.
    deep: Any = "x"
    for _ in range(1000):
        deep = [deep]
    error = rejected(body({"type": deep}))
    assert error.message == "input[0].type: an array items are not supported by this gateway"
    error = rejected(body(message("user", [{"type": {"a": deep}}])))
    assert error.param == "input[0].content[0].type"
    assert "an object content" in error.message
    error = rejected(body(message("user", "hi"), previous_response_id=[deep]))
    assert error.message == "previous_response_id: response an array not found"
