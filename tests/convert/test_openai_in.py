import base64
import itertools
import json
from typing import Any

import pytest

from kirogate.convert.ir import (
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
from kirogate.convert.openai_fields import SOURCES_KEY
from kirogate.convert.openai_in import chat_to_ir
from kirogate.errors import InvalidRequest

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
PNG_URL = f"data:image/png;base64,{PNG}"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def body(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "messages": list(messages) or [user("hi")], **fields}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any = None, **fields: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, **fields}


def tool(call_id: str, content: Any) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"call_{next(counter)}"


def rejected(request: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        chat_to_ir(request, new_id=ids())
    return info.value


# ---------------------------------------------------------------- system prompt


def test_system_and_developer_messages_join_into_the_system_prompt() -> None:
    conv = chat_to_ir(
        body(
            {"role": "system", "content": "Be brief."},
            {
                "role": "developer",
                "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
            },
            user("hi"),
        )
    )
    assert conv.system == "Be brief.\n\nA\nB"
    assert conv.turns == (Turn("user", (Text("hi"),)),)


def test_system_message_in_the_middle_stays_in_place_as_an_instruction() -> None:
    conv = chat_to_ir(body(user("a"), {"role": "system", "content": "late"}, user("b")))
    assert conv.system == ""
    assert conv.turns == (Turn("user", (Text("a"), Instruction("late"), Text("b"))),)


def test_developer_message_after_an_answer_precedes_the_next_user_text() -> None:
    conv = chat_to_ir(
        body(user("a"), assistant("b"), {"role": "developer", "content": "now"}, user("c"))
    )
    assert conv.turns[2] == Turn("user", (Instruction("now"), Text("c")))
    assert conv.metadata[SOURCES_KEY][2].items == ("messages[2]", "messages[3]")


def test_empty_system_message_adds_nothing() -> None:
    assert chat_to_ir(body({"role": "system", "content": ""}, user("x"))).system == ""


def test_system_message_with_an_image_part_is_rejected() -> None:
    error = rejected(
        body({"role": "system", "content": [{"type": "image_url", "image_url": PNG_URL}]})
    )
    assert error.param == "messages[0].content[0].type"


# ---------------------------------------------------------------- user content


def test_user_string_content_is_text() -> None:
    assert chat_to_ir(body(user("hello"))).turns == (Turn("user", (Text("hello"),)),)


def test_empty_user_string_gives_a_turn_without_parts() -> None:
    assert chat_to_ir(body(user(""))).turns == (Turn("user", ()),)


def test_user_text_and_data_url_image_parts() -> None:
    conv = chat_to_ir(
        body(
            user(
                [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": PNG_URL, "detail": "high"}},
                ]
            )
        )
    )
    assert conv.turns[0].parts == (Text("what is this?"), Image("image/png", PNG))


def test_image_url_given_as_a_bare_string_is_accepted() -> None:
    conv = chat_to_ir(body(user([{"type": "image_url", "image_url": PNG_URL}])))
    assert conv.turns[0].parts == (Image("image/png", PNG),)


def test_image_jpg_media_type_is_normalised() -> None:
    url = f"data:image/jpg;base64,{PNG}"
    conv = chat_to_ir(body(user([{"type": "image_url", "image_url": {"url": url}}])))
    assert conv.turns[0].parts == (Image("image/jpeg", PNG),)


def test_http_image_url_is_rejected_naming_the_url() -> None:
    error = rejected(
        body(
            user(
                [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ]
            )
        )
    )
    assert error.param == "messages[0].content[1].image_url.url"
    assert "cannot fetch" in error.message


def test_image_url_that_is_not_a_base64_data_url_is_rejected() -> None:
    error = rejected(
        body(user([{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]))
    )
    assert error.param == "messages[0].content[0].image_url.url"


def test_image_data_url_without_data_is_rejected() -> None:
    url = "data:image/png;base64,"
    assert "empty" in rejected(body(user([{"type": "image_url", "image_url": url}]))).message


def test_unsupported_image_type_is_rejected() -> None:
    url = f"data:image/bmp;base64,{PNG}"
    error = rejected(body(user([{"type": "image_url", "image_url": {"url": url}}])))
    assert "image/bmp" in error.message


def test_image_data_that_is_not_base64_is_rejected() -> None:
    url = "data:image/png;base64,@@@"
    error = rejected(body(user([{"type": "image_url", "image_url": {"url": url}}])))
    assert "base64" in error.message


def test_image_url_object_without_url_is_rejected() -> None:
    error = rejected(body(user([{"type": "image_url", "image_url": {}}])))
    assert error.param == "messages[0].content[0].image_url.url"


def test_input_audio_part_is_rejected() -> None:
    error = rejected(body(user([{"type": "input_audio", "input_audio": {"data": "x"}}])))
    assert error.param == "messages[0].content[0]"
    assert "audio" in error.message


def test_text_file_part_becomes_a_document() -> None:
    data = base64.b64encode("notes ✓".encode()).decode()
    part = {
        "type": "file",
        "file": {"file_data": f"data:text/plain;base64,{data}", "filename": "n.txt"},
    }
    conv = chat_to_ir(body(user([part])))
    assert conv.turns[0].parts == (Document("text/plain", "notes ✓", "n.txt"),)


def test_file_part_with_bare_base64_uses_the_filename_suffix() -> None:
    data = base64.b64encode(b'{"a": 1}').decode()
    part = {"type": "file", "file": {"file_data": data, "filename": "a.json"}}
    assert chat_to_ir(body(user([part]))).turns[0].parts == (
        Document("text/plain", '{"a": 1}', "a.json"),
    )


def test_json_data_url_file_is_text_like() -> None:
    data = base64.b64encode(b"[1]").decode()
    part = {"type": "file", "file": {"file_data": f"data:application/json;base64,{data}"}}
    assert chat_to_ir(body(user([part]))).turns[0].parts == (Document("text/plain", "[1]", None),)


def test_pdf_file_part_is_rejected() -> None:
    part = {"type": "file", "file": {"file_data": "JVBERi0=", "filename": "paper.pdf"}}
    error = rejected(body(user([part])))
    assert error.param == "messages[0].content[0].file.file_data"
    assert "application/pdf" in error.message


def test_file_part_of_unknown_type_is_rejected() -> None:
    part = {"type": "file", "file": {"file_data": "AAAA"}}
    assert "unknown" in rejected(body(user([part]))).message


def test_file_part_that_is_not_utf8_text_is_rejected() -> None:
    data = base64.b64encode(b"\xff\xfe").decode()
    part = {"type": "file", "file": {"file_data": f"data:text/plain;base64,{data}"}}
    assert "UTF-8" in rejected(body(user([part]))).message


def test_file_id_part_is_rejected() -> None:
    part = {"type": "file", "file": {"file_id": "file-abc"}}
    assert rejected(body(user([part]))).param == "messages[0].content[0].file.file_id"


def test_unknown_content_part_type_is_rejected() -> None:
    assert rejected(body(user([{"type": "video"}]))).param == "messages[0].content[0].type"


def test_text_part_without_text_is_rejected() -> None:
    assert rejected(body(user([{"type": "text"}]))).param == "messages[0].content[0].text"


def test_user_message_without_content_is_rejected() -> None:
    assert rejected(body({"role": "user"})).param == "messages[0].content"


def test_content_that_is_neither_string_nor_list_is_rejected() -> None:
    assert rejected(body(user(42))).param == "messages[0].content"


# ---------------------------------------------------------------- assistant


def test_assistant_text_and_tool_calls() -> None:
    conv = chat_to_ir(
        body(
            user("weather?"),
            assistant("Checking.", tool_calls=[call("call_a", "get_weather", '{"city":"Oslo"}')]),
        )
    )
    assert conv.turns[1] == Turn(
        "assistant", (Text("Checking."), ToolCall("call_a", "get_weather", {"city": "Oslo"}))
    )


def test_assistant_with_only_tool_calls_has_no_text_part() -> None:
    conv = chat_to_ir(body(user("x"), assistant(None, tool_calls=[call("c", "f", "{}")])))
    assert conv.turns[1].parts == (ToolCall("c", "f", {}),)


def test_invalid_json_arguments_are_kept_as_value() -> None:
    conv = chat_to_ir(body(user("x"), assistant(tool_calls=[call("c", "f", '{"a": ')])))
    assert conv.turns[1].parts == (ToolCall("c", "f", {"value": '{"a": '}),)


def test_non_object_json_arguments_are_wrapped() -> None:
    conv = chat_to_ir(body(user("x"), assistant(tool_calls=[call("c", "f", "[1, 2]")])))
    assert conv.turns[1].parts == (ToolCall("c", "f", {"value": [1, 2]}),)


def test_empty_arguments_are_an_empty_object() -> None:
    conv = chat_to_ir(body(user("x"), assistant(tool_calls=[call("c", "f", "")])))
    assert conv.turns[1].parts == (ToolCall("c", "f", {}),)


def test_tool_call_without_id_gets_one_from_new_id() -> None:
    raw = {"type": "function", "function": {"name": "f", "arguments": "{}"}}
    conv = chat_to_ir(body(user("x"), assistant(tool_calls=[raw])), new_id=ids())
    assert conv.turns[1].parts == (ToolCall("call_1", "f", {}),)


def test_custom_tool_call_input_is_wrapped() -> None:
    raw = {"id": "c", "type": "custom", "custom": {"name": "apply_patch", "input": "*** Begin"}}
    conv = chat_to_ir(body(user("x"), assistant(tool_calls=[raw])))
    assert conv.turns[1].parts == (ToolCall("c", "apply_patch", {"input": "*** Begin"}),)


def test_tool_call_without_function_name_is_rejected() -> None:
    raw = {"id": "c", "type": "function", "function": {"arguments": "{}"}}
    error = rejected(body(user("x"), assistant(tool_calls=[raw])))
    assert error.param == "messages[1].tool_calls[0].function.name"


def test_assistant_reasoning_content_becomes_thinking_first() -> None:
    conv = chat_to_ir(body(user("x"), assistant("answer", reasoning_content="because")))
    assert conv.turns[1].parts == (Thinking("because"), Text("answer"))


def test_assistant_text_and_refusal_parts_are_concatenated() -> None:
    content = [{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "no"}]
    assert chat_to_ir(body(user("x"), assistant(content))).turns[1].parts == (Text("ano"),)


def test_legacy_function_call_and_function_message_share_an_id() -> None:
    conv = chat_to_ir(
        body(
            user("x"),
            assistant(None, function_call={"name": "lookup", "arguments": '{"q": 1}'}),
            {"role": "function", "name": "lookup", "content": "found"},
        ),
        new_id=ids(),
    )
    assert conv.turns[1:] == (
        Turn("assistant", (ToolCall("call_1", "lookup", {"q": 1}),)),
        Turn("user", (ToolResult("call_1", "found"),)),
    )


def test_function_message_without_a_call_gets_a_new_id() -> None:
    conv = chat_to_ir(
        body(user("x"), {"role": "function", "name": "f", "content": None}), new_id=ids()
    )
    assert conv.turns == (Turn("user", (Text("x"), ToolResult("call_1", ""))),)


# ---------------------------------------------------------------- tool results


def test_consecutive_tool_messages_merge_into_one_user_turn() -> None:
    conv = chat_to_ir(
        body(
            user("x"),
            assistant(tool_calls=[call("a", "f", "{}"), call("b", "f", "{}")]),
            tool("a", "one"),
            tool("b", "two"),
            user("thanks"),
        )
    )
    assert conv.turns[2] == Turn(
        "user", (ToolResult("a", "one"), ToolResult("b", "two"), Text("thanks"))
    )
    assert len(conv.turns) == 3


def test_tool_message_text_parts_are_joined_and_images_kept() -> None:
    content = [
        {"type": "text", "text": "line 1"},
        {"type": "text", "text": "line 2"},
        {"type": "image_url", "image_url": {"url": PNG_URL}},
    ]
    conv = chat_to_ir(
        body(user("x"), assistant(tool_calls=[call("a", "f", "{}")]), tool("a", content))
    )
    assert conv.turns[2].parts == (
        ToolResult("a", "line 1\nline 2", images=(Image("image/png", PNG),)),
    )


def test_tool_message_with_null_content_is_an_empty_result() -> None:
    conv = chat_to_ir(
        body(user("x"), assistant(tool_calls=[call("a", "f", "{}")]), tool("a", None))
    )
    assert conv.turns[2].parts == (ToolResult("a", ""),)


def test_tool_message_without_tool_call_id_is_rejected() -> None:
    error = rejected(body(user("x"), {"role": "tool", "content": "r"}))
    assert error.param == "messages[1].tool_call_id"


# ---------------------------------------------------------------- request checks


def test_unknown_role_is_rejected() -> None:
    assert rejected(body({"role": "critic", "content": "x"})).param == "messages[0].role"


def test_message_that_is_not_an_object_is_rejected() -> None:
    assert rejected(body("hello")).param == "messages[0]"  # type: ignore[arg-type]


def test_missing_model_is_rejected() -> None:
    assert rejected({"messages": [user("x")]}).param == "model"


def test_blank_model_is_rejected() -> None:
    assert rejected(body(model=" ")).param == "model"


def test_model_that_is_not_a_string_is_rejected() -> None:
    assert rejected(body(model=3)).param == "model"


def test_missing_messages_are_rejected() -> None:
    assert rejected({"model": "m"}).param == "messages"


def test_empty_messages_are_rejected() -> None:
    assert rejected({"model": "m", "messages": []}).param == "messages"


def test_body_that_is_not_an_object_is_rejected() -> None:
    assert rejected([]).param == "body"  # type: ignore[arg-type]


def test_n_above_one_is_rejected() -> None:
    error = rejected(body(n=2))
    assert (error.message, error.param) == ("n>1 is not supported", "n")


def test_n_of_one_is_accepted() -> None:
    assert chat_to_ir(body(n=1)).model == "claude-sonnet-4-5"


def test_logprobs_are_rejected() -> None:
    assert rejected(body(logprobs=True)).param == "logprobs"


def test_top_logprobs_are_rejected() -> None:
    assert rejected(body(top_logprobs=3)).param == "top_logprobs"


def test_audio_output_is_rejected() -> None:
    assert rejected(body(audio={"voice": "alloy", "format": "mp3"})).param == "audio"


def test_audio_modality_is_rejected() -> None:
    assert rejected(body(modalities=["text", "audio"])).param == "modalities"


def test_text_modality_is_accepted() -> None:
    assert chat_to_ir(body(modalities=["text"])).turns


def test_sampling_parameters_are_accepted_and_dropped() -> None:
    conv = chat_to_ir(body(temperature=0.2, top_p=0.9, seed=1, presence_penalty=0.5))
    assert conv.turns == (Turn("user", (Text("hi"),)),)


# ---------------------------------------------------------------- tools


def test_function_tools_become_tool_defs() -> None:
    conv = chat_to_ir(body(tools=[WEATHER]))
    assert conv.tools == (
        ToolDef(
            "get_weather",
            "Weather for a city",
            {"type": "object", "properties": {"city": {"type": "string"}}},
        ),
    )


def test_function_tool_without_parameters_takes_no_arguments() -> None:
    conv = chat_to_ir(body(tools=[{"type": "function", "function": {"name": "now"}}]))
    assert conv.tools == (ToolDef("now", "", {"type": "object", "properties": {}}),)


def test_function_tool_with_non_object_parameters_is_rejected() -> None:
    raw = {"type": "function", "function": {"name": "f", "parameters": "x"}}
    assert rejected(body(tools=[raw])).param == "tools[0].function.parameters"


def test_custom_tool_becomes_a_custom_tool_def_with_an_input_string() -> None:
    raw = {
        "type": "custom",
        "custom": {
            "name": "apply_patch",
            "description": "Apply a patch",
            "format": {"type": "grammar", "grammar": {"syntax": "lark", "definition": "start: x"}},
        },
    }
    (tool_def,) = chat_to_ir(body(tools=[raw])).tools
    assert (tool_def.name, tool_def.kind, tool_def.description) == (
        "apply_patch",
        "custom",
        "Apply a patch",
    )
    assert tool_def.input_schema["required"] == ["input"]
    assert "start: x" in tool_def.input_schema["properties"]["input"]["description"]


def test_unknown_tool_type_is_rejected() -> None:
    assert rejected(body(tools=[{"type": "web_search"}])).param == "tools[0].type"


def test_legacy_functions_become_tool_defs() -> None:
    conv = chat_to_ir(body(functions=[{"name": "f", "description": "d", "parameters": {}}]))
    assert conv.tools == (ToolDef("f", "d", {}),)


def test_tools_that_are_not_a_list_are_rejected() -> None:
    assert rejected(body(tools={"a": 1})).param == "tools"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", ToolChoice("auto")),
        ("none", ToolChoice("none")),
        ("required", ToolChoice("any")),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            ToolChoice("tool", "get_weather"),
        ),
        (
            {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": []}},
            ToolChoice("any"),
        ),
        (
            {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}},
            ToolChoice("auto"),
        ),
    ],
)
def test_tool_choice_maps_to_ir(choice: Any, expected: ToolChoice) -> None:
    assert chat_to_ir(body(tools=[WEATHER], tool_choice=choice)).tool_choice == expected


def test_named_custom_tool_choice() -> None:
    raw = {"type": "custom", "custom": {"name": "grep"}}
    choice = {"type": "custom", "custom": {"name": "grep"}}
    assert chat_to_ir(body(tools=[raw], tool_choice=choice)).tool_choice == ToolChoice(
        "tool", "grep"
    )


def test_tool_choice_naming_an_undefined_tool_is_rejected() -> None:
    choice = {"type": "function", "function": {"name": "nope"}}
    assert rejected(body(tools=[WEATHER], tool_choice=choice)).param == "tool_choice.function.name"


def test_unknown_tool_choice_string_is_rejected() -> None:
    assert rejected(body(tool_choice="always")).param == "tool_choice"


def test_unknown_tool_choice_type_is_rejected() -> None:
    assert rejected(body(tool_choice={"type": "web_search"})).param == "tool_choice.type"


def test_allowed_tools_with_a_bad_mode_is_rejected() -> None:
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "all"}}
    assert rejected(body(tool_choice=choice)).param == "tool_choice.allowed_tools.mode"


def test_no_tool_choice_is_none() -> None:
    assert chat_to_ir(body()).tool_choice is None


def test_legacy_function_call_choice_by_name() -> None:
    functions = [{"name": "f"}]
    conv = chat_to_ir(body(functions=functions, function_call={"name": "f"}))
    assert conv.tool_choice == ToolChoice("tool", "f")


def test_legacy_function_call_none() -> None:
    assert chat_to_ir(body(function_call="none")).tool_choice == ToolChoice("none")


def test_legacy_function_call_required_is_rejected() -> None:
    error = rejected(body(function_call="required"))
    assert (error.param, "auto, none or" in error.message) == ("function_call", True)


# ---------------------------------------------------------------- reasoning and limits


@pytest.mark.parametrize(
    ("effort", "budget", "label"),
    [
        ("minimal", 1024, "low"),
        ("low", 4096, "low"),
        ("medium", 10240, "medium"),
        ("high", 20000, "high"),
        ("xhigh", 24576, "max"),
        ("max", 32000, "max"),
    ],
)
def test_reasoning_effort_maps_to_a_thinking_budget(effort: str, budget: int, label: str) -> None:
    conv = chat_to_ir(body(reasoning_effort=effort))
    assert conv.thinking == ThinkingConfig("enabled", budget_tokens=budget, effort=label)


def test_reasoning_effort_none_disables_thinking() -> None:
    assert chat_to_ir(body(reasoning_effort="none")).thinking is None


def test_unknown_reasoning_effort_is_rejected() -> None:
    assert rejected(body(reasoning_effort="extreme")).param == "reasoning_effort"


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert chat_to_ir(body(max_tokens=10, max_completion_tokens=20)).max_tokens == 20


def test_max_tokens_is_used_alone() -> None:
    assert chat_to_ir(body(max_tokens=10)).max_tokens == 10


@pytest.mark.parametrize("value", [0, "5", True, 1.5])
def test_bad_max_tokens_is_rejected(value: Any) -> None:
    assert rejected(body(max_tokens=value)).param == "max_tokens"


def test_stop_string_becomes_one_stop_sequence() -> None:
    assert chat_to_ir(body(stop="END")).stop_sequences == ("END",)


def test_stop_list_keeps_non_empty_strings() -> None:
    assert chat_to_ir(body(stop=["a", "", "b"])).stop_sequences == ("a", "b")


def test_empty_stop_string_means_no_stop_sequence() -> None:
    assert chat_to_ir(body(stop="")).stop_sequences == ()


def test_stop_list_with_a_non_string_is_rejected() -> None:
    assert rejected(body(stop=["a", 1])).param == "stop[1]"


# ---------------------------------------------------------------- stream, format, session


def test_stream_with_include_usage_is_recorded() -> None:
    conv = chat_to_ir(body(stream=True, stream_options={"include_usage": True}))
    assert (conv.stream, conv.metadata["include_usage"]) == (True, True)


def test_stream_options_without_streaming_are_ignored() -> None:
    conv = chat_to_ir(body(stream_options={"include_usage": True}))
    assert (conv.stream, "include_usage" in conv.metadata) == (False, False)


def test_non_boolean_stream_is_rejected() -> None:
    assert rejected(body(stream="yes")).param == "stream"


def test_non_boolean_include_usage_is_rejected() -> None:
    error = rejected(body(stream=True, stream_options={"include_usage": 1}))
    assert error.param == "stream_options.include_usage"


def test_json_object_response_format_sets_the_output_format() -> None:
    conv = chat_to_ir(
        body(
            {"role": "system", "content": "Sys."},
            user("x"),
            response_format={"type": "json_object"},
        )
    )
    assert conv.output_format == JsonFormat("json_object")
    assert conv.system == "Sys."  # the Kiro builder adds the instruction


def test_json_schema_response_format_keeps_the_schema_name_and_description() -> None:
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "city", "description": "A city", "schema": {"type": "object"}},
    }
    conv = chat_to_ir(body(response_format=fmt))
    assert conv.output_format == JsonFormat(
        "json_schema", {"type": "object"}, name="city", description="A city"
    )


def test_text_response_format_adds_nothing() -> None:
    conv = chat_to_ir(body(response_format={"type": "text"}))
    assert (conv.system, conv.output_format) == ("", None)


@pytest.mark.parametrize(
    ("fmt", "param"),
    [
        # Found by tests/convert/test_generated_requests.py: the error named
        # response_format.json_schema.schema, a field under one that is not there.
        ({"type": "json_schema"}, "response_format.json_schema"),
        ({"type": "json_schema", "json_schema": ""}, "response_format.json_schema"),
        ({"type": "json_schema", "json_schema": {}}, "response_format.json_schema.schema"),
    ],
)
def test_json_schema_response_format_without_a_schema_names_the_missing_field(
    fmt: dict[str, Any], param: str
) -> None:
    error = rejected(body(response_format=fmt))
    assert error.param == param
    assert error.message.startswith(f"{param}: ")


def test_invalid_json_schema_in_response_format_is_rejected() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "thing"}}}
    error = rejected(body(response_format=fmt))
    assert error.param == "response_format.json_schema.schema"
    assert "not a valid JSON Schema" in error.message


def test_non_string_json_schema_name_is_rejected() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": 3, "schema": {"type": "object"}}}
    assert rejected(body(response_format=fmt)).param == "response_format.json_schema.name"


def test_json_schema_response_format_without_schema_is_rejected() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x"}}
    assert rejected(body(response_format=fmt)).param == "response_format.json_schema.schema"


def test_unknown_response_format_is_rejected() -> None:
    assert rejected(body(response_format={"type": "xml"})).param == "response_format.type"


def test_session_id_prefers_metadata_session_id() -> None:
    conv = chat_to_ir(body(metadata={"session_id": "s1"}, prompt_cache_key="k1", user="u1"))
    assert conv.session_id == "s1"


def test_session_id_falls_back_to_prompt_cache_key_then_user() -> None:
    assert chat_to_ir(body(prompt_cache_key="k1", user="u1")).session_id == "k1"
    assert chat_to_ir(body(user="u1")).session_id == "u1"
    assert chat_to_ir(body()).session_id is None


def test_default_ids_are_call_ids() -> None:
    conv = chat_to_ir(body(user("x"), assistant(function_call={"name": "f", "arguments": "{}"})))
    (part,) = conv.turns[1].parts
    assert isinstance(part, ToolCall) and part.id.startswith("call_") and len(part.id) == 29


def test_non_string_tool_description_is_rejected() -> None:
    raw = {"type": "function", "function": {"name": "f", "description": 3}}
    assert rejected(body(tools=[raw])).param == "tools[0].function.description"


# ---------------------------------------------------------------- prompt caching


def test_prompt_cache_key_is_kept_for_cache_estimates() -> None:
    conv = chat_to_ir(body(prompt_cache_key="conv-7", prompt_cache_retention="24h"))
    assert conv.cache_key == "conv-7"


def test_no_prompt_cache_key_means_no_cache_key() -> None:
    assert chat_to_ir(body()).cache_key is None


def test_cache_control_on_parts_and_tools_is_accepted() -> None:
    cached = {"cache_control": {"type": "ephemeral"}}
    request = body(
        {"role": "system", "content": [{"type": "text", "text": "s", **cached}]},
        user([{"type": "text", "text": "a", **cached}]),
        tools=[{"type": "function", "function": {"name": "f"}, **cached}],
    )
    conv = chat_to_ir(request)
    assert conv.system == "s"
    assert conv.turns == (Turn("user", (Text("a"),)),)


# ---------------------------------------------------------------- input limits


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        value = {"type": "object", "properties": {"a": value}}
    return value


def test_non_ascii_character_in_image_data_is_rejected_naming_the_field() -> None:
    url = "data:image/png;base64,iVBORw0KGgo" + "é"
    error = rejected(body(user([{"type": "image_url", "image_url": {"url": url}}])))
    assert error.param == "messages[0].content[0].image_url.url"


def test_non_ascii_character_in_file_data_is_rejected_naming_the_field() -> None:
    part = {"type": "file", "file": {"file_data": "data:text/plain;base64,aGk" + "é"}}
    error = rejected(body(user([part])))
    assert error.param is not None and error.param.startswith("messages[0].content[0]")


def test_function_parameters_nested_too_deep_are_rejected_naming_the_field() -> None:
    tools = [{"type": "function", "function": {"name": "t", "parameters": deep(300)}}]
    error = rejected(body(tools=tools))
    assert error.param == "tools[0].function.parameters"


def test_tool_call_arguments_nested_too_deep_are_rejected_naming_the_field() -> None:
    arguments = json.dumps(deep(300))
    request = body(user("hi"), assistant(tool_calls=[call("c1", "t", arguments)]), tool("c1", "ok"))
    error = rejected(request)
    assert error.param == "messages[1].tool_calls[0].function.arguments"


def test_response_format_schema_nested_too_deep_is_rejected_naming_the_field() -> None:
    spec = {"type": "json_schema", "json_schema": {"name": "x", "schema": deep(300)}}
    error = rejected(body(response_format=spec))
    assert error.param == "response_format.json_schema.schema"


def test_assistant_null_content_without_tool_calls_is_rejected() -> None:
    error = rejected(body(user("hi"), assistant(None), user("again")))
    assert error.param == "messages[1].content"


def test_assistant_null_content_with_tool_calls_is_accepted() -> None:
    conv = chat_to_ir(
        body(user("x"), assistant(None, tool_calls=[call("a", "f", "{}")]), tool("a", "ok"))
    )
    assert conv.turns[1].parts == (ToolCall("a", "f", {}),)


def test_system_message_with_null_content_is_rejected() -> None:
    error = rejected(body({"role": "system", "content": None}, user("hi")))
    assert error.param == "messages[0].content"
