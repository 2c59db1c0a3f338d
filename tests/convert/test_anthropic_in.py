import base64
import json
from typing import Any

import pytest

from kirogate.convert.anthropic_in import (
    count_tokens_to_ir,
    messages_to_ir,
    session_id_from_user_id,
)
from kirogate.convert.ir import (
    CachePoint,
    Document,
    Image,
    Instruction,
    Text,
    Thinking,
    ThinkingConfig,
    ToolCall,
    ToolChoice,
    ToolDef,
    ToolResult,
    Turn,
)
from kirogate.convert.openai_fields import SOURCES_KEY, relocate_error
from kirogate.errors import InvalidRequest

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
SESSION = "0b4445e1-f5be-49e1-87ce-62bbc28ad705"


def body(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": list(messages) or [user("hi")],
        **fields,
    }


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def image(media_type: str = "image/png", data: str = PNG) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def invalid(request: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        messages_to_ir(request)
    return caught.value


def parts(request: dict[str, Any], index: int = 0) -> tuple[Any, ...]:
    return messages_to_ir(request).turns[index].parts


# ---------------------------------------------------------------- top level


def test_string_content_becomes_one_text_part() -> None:
    assert messages_to_ir(body(user("hello"))).turns == (Turn("user", (Text("hello"),)),)


def test_every_message_becomes_one_turn_even_when_empty() -> None:
    conv = messages_to_ir(body(user("a"), assistant([]), user("")))
    assert [turn.role for turn in conv.turns] == ["user", "assistant", "user"]
    assert conv.turns[1].parts == ()


def test_model_is_kept_as_the_client_sent_it() -> None:
    assert messages_to_ir(body(model="Claude-Opus-4-6")).model == "Claude-Opus-4-6"


def test_system_string_is_kept() -> None:
    assert messages_to_ir(body(system="be brief")).system == "be brief"


def test_system_blocks_are_joined_with_newlines_and_cache_control_ignored() -> None:
    system = [
        {"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "two"},
    ]
    assert messages_to_ir(body(system=system)).system == "one\ntwo"


def system(content: Any) -> dict[str, Any]:
    return {"role": "system", "content": content}


# ---------------------------------------------------------------- system messages in messages


def test_claude_code_mid_conversation_system_message_is_accepted() -> None:
    # Claude Code 2.1.197 with claude-opus-4-8 (beta mid-conversation-system-2026-04-07).
    request = body(user("hi"), system("Output style: concise."), model="claude-opus-4-8")
    conv = messages_to_ir(request)
    assert conv.turns == (
        Turn("user", (Text("hi"),)),
        Turn("user", (Instruction("Output style: concise."),)),
    )


def test_system_message_in_count_tokens_is_accepted() -> None:
    request = body(user("hi"), system([{"type": "text", "text": "x"}]))
    del request["max_tokens"]
    assert count_tokens_to_ir(request).turns[1] == Turn("user", (Instruction("x"),))


def test_leading_system_messages_join_the_system_prompt_in_order() -> None:
    request = body(system("one"), system([{"type": "text", "text": "two"}]), user("hi"))
    conv = messages_to_ir({**request, "system": "top"})
    assert conv.system == "top\n\none\n\ntwo"
    assert conv.turns == (Turn("user", (Text("hi"),)),)


def test_system_message_text_blocks_are_joined_and_cache_control_ignored() -> None:
    blocks = [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}},
    ]
    conv = messages_to_ir(body(user("hi"), assistant("ok"), system(blocks), user("go")))
    assert conv.turns[2] == Turn("user", (Instruction("a\nb"),))


def test_system_messages_keep_one_turn_per_message_after_the_first_turn() -> None:
    conv = messages_to_ir(body(user("a"), system("s"), assistant("b"), user("c")))
    assert [turn.role for turn in conv.turns] == ["user", "user", "assistant", "user"]
    assert SOURCES_KEY not in conv.metadata


def test_blank_mid_conversation_system_message_is_an_empty_turn() -> None:
    conv = messages_to_ir(body(user("a"), system(""), assistant("b")))
    assert conv.turns[1] == Turn("user", ())


def test_system_message_with_an_image_is_rejected_naming_the_block() -> None:
    error = invalid(body(user("a"), system([image()])))
    assert error.param == "messages[1].content[0].type"


def test_only_system_messages_is_rejected() -> None:
    assert invalid(body(system("s"))).param == "messages"


def test_after_a_leading_system_message_errors_still_name_the_client_message() -> None:
    conv = messages_to_ir(body(system("s"), user("a"), assistant("b"), user([image()])))
    error = InvalidRequest("messages[2].content: too big", param="messages[2].content")
    relocated = relocate_error(error, conv)
    assert relocated.param == "messages[3].content"
    assert relocated.message == "messages[3].content: too big"


# ---------------------------------------------------------------- prompt caching

EPHEMERAL = {"type": "ephemeral"}
TOOL = {"name": "Read", "input_schema": {"type": "object"}}


def test_cache_control_is_accepted_on_every_block_kind() -> None:
    cached = {"cache_control": EPHEMERAL}
    request = body(
        user([{"type": "text", "text": "a", **cached}, {**image(), **cached}]),
        assistant([{"type": "tool_use", "id": "t1", "name": "Read", "input": {}, **cached}]),
        user(
            [
                {"type": "tool_result", "tool_use_id": "t1", "content": "ok", **cached},
                {"type": "document", "source": {"type": "text", "data": "d"}, **cached},
            ]
        ),
        system=[{"type": "text", "text": "s", **cached}],
        tools=[{**TOOL, **cached}],
        cache_control=EPHEMERAL,
    )
    assert len(messages_to_ir(request).turns) == 3


def test_no_cache_control_means_no_cache_points() -> None:
    assert messages_to_ir(body()).cache_points == ()


def test_cache_points_count_tools_then_system_then_turns() -> None:
    request = body(
        user("a"),
        assistant("b"),
        user([{"type": "text", "text": "c", "cache_control": EPHEMERAL}]),
        system=[{"type": "text", "text": "s", "cache_control": EPHEMERAL}],
        tools=[TOOL, {**TOOL, "name": "Write", "cache_control": EPHEMERAL}],
    )
    assert messages_to_ir(request).cache_points == (
        CachePoint(2),
        CachePoint(3),
        CachePoint(6),
    )


def test_one_hour_ttl_is_kept() -> None:
    control = {"type": "ephemeral", "ttl": "1h"}
    request = body(user([{"type": "text", "text": "a", "cache_control": control}]))
    assert messages_to_ir(request).cache_points == (CachePoint(2, ttl=3600.0),)


def test_top_level_cache_control_marks_the_last_message() -> None:
    request = body(user("a"), assistant("b"), user("c"), cache_control=EPHEMERAL)
    assert messages_to_ir(request).cache_points == (CachePoint(4),)


def test_cache_control_in_a_leading_system_message_marks_the_system_prompt() -> None:
    leading = system([{"type": "text", "text": "s", "cache_control": EPHEMERAL}])
    conv = messages_to_ir(body(leading, user("a")))
    assert conv.cache_points == (CachePoint(1),)


def test_cache_points_follow_turns_after_a_leading_system_message() -> None:
    marked = user([{"type": "text", "text": "b", "cache_control": EPHEMERAL}])
    conv = messages_to_ir(body(system("s"), user("a"), assistant("x"), marked))
    assert conv.cache_points == (CachePoint(4),)


def test_max_tokens_is_required() -> None:
    request = body()
    del request["max_tokens"]
    error = invalid(request)
    assert error.param == "max_tokens"


def test_max_tokens_must_be_positive() -> None:
    assert invalid(body(max_tokens=0)).param == "max_tokens"


def test_count_tokens_does_not_need_max_tokens() -> None:
    request = body()
    del request["max_tokens"]
    assert count_tokens_to_ir(request).max_tokens is None


def test_empty_messages_are_rejected() -> None:
    request = body()
    request["messages"] = []
    assert invalid(request).param == "messages"


def test_missing_model_is_rejected() -> None:
    request = body()
    del request["model"]
    assert invalid(request).param == "model"


def test_blank_model_is_rejected() -> None:
    assert invalid(body(model=" ")).param == "model"


def test_sampling_parameters_are_accepted_and_ignored() -> None:
    conv = messages_to_ir(body(temperature=0.2, top_p=0.9, top_k=5, service_tier="auto"))
    assert conv.turns == (Turn("user", (Text("hi"),)),)


def test_stop_sequences_and_stream_are_kept() -> None:
    conv = messages_to_ir(body(stop_sequences=["END"], stream=True))
    assert (conv.stop_sequences, conv.stream, conv.max_tokens) == (("END",), True, 1024)


# ---------------------------------------------------------------- images and documents


def test_base64_image_becomes_an_image_part() -> None:
    assert parts(body(user([image()]))) == (Image("image/png", PNG),)


def test_url_image_is_rejected_clearly() -> None:
    block = {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}
    error = invalid(body(user([block])))
    assert error.param == "messages[0].content[0].source.type"
    assert "URL" in error.message and "base64" in error.message


def test_file_image_is_rejected_clearly() -> None:
    block = {"type": "image", "source": {"type": "file", "file_id": "file_1"}}
    assert "Files API" in invalid(body(user([block]))).message


def test_unsupported_image_media_type_is_rejected_naming_the_field() -> None:
    error = invalid(body(user("a"), assistant("b"), user([image("image/bmp")])))
    assert error.param == "messages[2].content[0].source.media_type"
    assert "image/bmp" in error.message


def test_image_jpg_media_type_is_read_as_jpeg() -> None:
    assert parts(body(user([image("image/JPG")]))) == (Image("image/jpeg", PNG),)


def test_data_url_prefix_is_stripped_from_image_data() -> None:
    block = image(data=f"data:image/png;base64,{PNG}")
    assert parts(body(user([block]))) == (Image("image/png", PNG),)


def test_invalid_base64_image_is_rejected_naming_the_field() -> None:
    error = invalid(body(user([image(data="not base64!")])))
    assert error.param == "messages[0].content[0].source.data"


def test_empty_image_data_is_rejected() -> None:
    assert invalid(body(user([image(data="")]))).param == "messages[0].content[0].source.data"


def test_pdf_document_is_kept_as_a_document() -> None:
    source = {"type": "base64", "media_type": "application/pdf", "data": PNG}
    block = {"type": "document", "source": source, "title": "spec"}
    assert parts(body(user([block]))) == (Document("application/pdf", PNG, "spec"),)


def test_text_document_is_kept_as_plain_text() -> None:
    block = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "hi"},
    }
    assert parts(body(user([block]))) == (Document("text/plain", "hi", None),)


def test_content_document_is_joined_into_plain_text() -> None:
    source = {
        "type": "content",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
    }
    block = {"type": "document", "source": source}
    assert parts(body(user([block]))) == (Document("text/plain", "a\nb", None),)


def test_content_document_text_that_is_not_a_string_is_rejected_naming_it() -> None:
    # Found by generated requests: str() of a value nested 1,000 deep was a RecursionError.
    deep: Any = 1
    for _ in range(1000):
        deep = [deep]
    source = {"type": "content", "content": [{"type": "image"}, {"type": "text", "text": deep}]}
    error = invalid(body(user([{"type": "document", "source": source}])))
    assert error.param == "messages[0].content[0].source.content"  # past MAX_BODY_DEPTH
    source["content"][1]["text"] = [[1]]
    error = invalid(body(user([{"type": "document", "source": source}])))
    assert error.param == "messages[0].content[0].source.content[1].text"
    assert error.message == f"{error.param}: must be a string"


def test_url_document_is_rejected() -> None:
    block = {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}
    assert invalid(body(user([block]))).param == "messages[0].content[0].source.type"


def test_search_result_block_becomes_text() -> None:
    block = {
        "type": "search_result",
        "source": "https://x",
        "title": "X",
        "content": [{"type": "text", "text": "body"}],
    }
    assert parts(body(user([block]))) == (Text("[X](https://x)\nbody"),)


# ---------------------------------------------------------------- tools in messages


def test_tool_use_becomes_a_tool_call() -> None:
    block = {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}
    assert parts(body(user("a"), assistant([block])), 1) == (
        ToolCall("t1", "Bash", {"command": "ls"}),
    )


def test_tool_use_with_json_string_input_is_decoded() -> None:
    block = {"type": "tool_use", "id": "t1", "name": "Bash", "input": '{"a": 1}'}
    assert parts(body(user("a"), assistant([block])), 1) == (ToolCall("t1", "Bash", {"a": 1}),)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, {}), ("plain", {"value": "plain"}), ("[1]", {"value": [1]}), (3, {"value": 3})],
)
def test_tool_use_with_non_object_input_is_wrapped(value: Any, expected: dict[str, Any]) -> None:
    block = {"type": "tool_use", "id": "t1", "name": "Bash", "input": value}
    assert parts(body(user("a"), assistant([block])), 1) == (ToolCall("t1", "Bash", expected),)


def test_tool_use_without_id_gets_a_generated_id() -> None:
    request = body(user("a"), assistant([{"type": "tool_use", "name": "Bash", "input": {}}]))
    conv = messages_to_ir(request, new_id=lambda: "abc")
    assert conv.turns[1].parts == (ToolCall("toolu_abc", "Bash", {}),)


def test_tool_use_in_a_user_message_is_rejected() -> None:
    block = {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}
    assert invalid(body(user([block]))).param == "messages[0].content[0]"


def test_tool_result_in_an_assistant_message_is_rejected() -> None:
    block = {"type": "tool_result", "tool_use_id": "t1", "content": "x"}
    assert invalid(body(user("a"), assistant([block]))).param == "messages[1].content[0]"


def test_tool_result_string_content_is_kept() -> None:
    block = {"type": "tool_result", "tool_use_id": "t1", "content": "done"}
    assert parts(body(user([block]))) == (ToolResult("t1", "done"),)


def test_tool_result_text_blocks_are_joined_with_newlines() -> None:
    content = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    block = {"type": "tool_result", "tool_use_id": "t1", "content": content}
    assert parts(body(user([block]))) == (ToolResult("t1", "a\nb"),)


def test_tool_result_without_content_is_empty() -> None:
    block = {"type": "tool_result", "tool_use_id": "t1"}
    assert parts(body(user([block]))) == (ToolResult("t1", ""),)


def test_tool_result_error_flag_is_kept() -> None:
    block = {"type": "tool_result", "tool_use_id": "t1", "content": "boom", "is_error": True}
    assert parts(body(user([block]))) == (ToolResult("t1", "boom", is_error=True),)


def test_tool_result_images_are_kept_on_the_result() -> None:
    block = {"type": "tool_result", "tool_use_id": "t1", "content": [image()]}
    assert parts(body(user([block]))) == (ToolResult("t1", "", images=(Image("image/png", PNG),)),)


def test_tool_result_text_documents_and_search_results_are_inlined() -> None:
    content = [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}},
        {"type": "search_result", "source": "", "title": "T", "content": []},
    ]
    block = {"type": "tool_result", "tool_use_id": "t1", "content": content}
    assert parts(body(user([block]))) == (ToolResult("t1", "doc\nT"),)


def test_tool_result_pdf_is_rejected_naming_the_block() -> None:
    source = {"type": "base64", "media_type": "application/pdf", "data": PNG}
    block = {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": [{"type": "document", "source": source}],
    }
    error = invalid(body(user([block])))
    assert error.param == "messages[0].content[0].content[0]"
    assert "application/pdf" in error.message


def test_thinking_block_is_kept_with_its_signature() -> None:
    block = {"type": "thinking", "thinking": "hmm", "signature": "sig"}
    assert parts(body(user("a"), assistant([block])), 1) == (Thinking("hmm", "sig"),)


def test_redacted_thinking_is_kept_as_empty_thinking() -> None:
    block = {"type": "redacted_thinking", "data": "opaque"}
    assert parts(body(user("a"), assistant([block])), 1) == (Thinking("", "opaque"),)


def test_server_tool_use_is_dropped() -> None:
    blocks = [
        {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"query": "q"}}
    ]
    assert parts(body(user("a"), assistant(blocks)), 1) == ()


def test_web_search_results_become_text() -> None:
    results = [
        {"type": "web_search_result", "url": "https://x", "title": "X"},
        {"url": "https://y"},
    ]
    block = {"type": "web_search_tool_result", "tool_use_id": "s1", "content": results}
    assert parts(body(user("a"), assistant([block])), 1) == (
        Text("Web search results:\n- X: https://x\n- https://y: https://y"),
    )


def test_web_search_results_read_only_string_titles_and_urls() -> None:
    deep: Any = "t"
    for _ in range(500):  # a title is read only when it is a string, never formatted
        deep = {"a": deep}
    results = [
        {"url": "https://x", "title": deep},
        {"url": ["https://y"], "title": "Y"},
        {"url": "https://z", "title": ""},
        "not an object",
    ]
    block = {"type": "web_search_tool_result", "tool_use_id": "s1", "content": results}
    assert parts(body(user("a"), assistant([block])), 1) == (
        Text("Web search results:\n- https://x: https://x\n- https://z: https://z"),
    )


def test_web_search_error_result_is_dropped() -> None:
    block = {"type": "web_search_tool_result", "tool_use_id": "s1", "content": {"type": "error"}}
    assert parts(body(user("a"), assistant([block])), 1) == ()


# ---------------------------------------------------------------- tool definitions


def test_custom_tool_becomes_a_function_tool() -> None:
    tool = {"name": "Bash", "description": "run", "input_schema": {"type": "object"}}
    assert messages_to_ir(body(tools=[tool])).tools == (ToolDef("Bash", "run", {"type": "object"}),)


def test_custom_tool_without_schema_is_rejected() -> None:
    assert invalid(body(tools=[{"name": "Bash"}])).param == "tools[0].input_schema"


def test_custom_tool_without_name_is_rejected() -> None:
    assert invalid(body(tools=[{"input_schema": {}}])).param == "tools[0].name"


def test_web_search_server_tool_becomes_a_web_search_tool() -> None:
    tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
    assert messages_to_ir(body(tools=[tool])).tools[0].kind == "web_search"


def test_anthropic_defined_client_tools_get_a_schema() -> None:
    tool = messages_to_ir(body(tools=[{"type": "bash_20250124", "name": "bash"}])).tools[0]
    assert (tool.name, tool.kind) == ("bash", "function")
    assert "command" in tool.input_schema["properties"]


def test_unsupported_server_tool_is_rejected() -> None:
    error = invalid(body(tools=[{"type": "code_execution_20250522", "name": "code"}]))
    assert error.param == "tools[0].type"


@pytest.mark.parametrize("mode", ["auto", "any", "none"])
def test_tool_choice_modes_are_kept(mode: str) -> None:
    assert messages_to_ir(body(tool_choice={"type": mode})).tool_choice == ToolChoice(mode)  # type: ignore[arg-type]


def test_tool_choice_tool_keeps_the_name() -> None:
    choice = messages_to_ir(body(tool_choice={"type": "tool", "name": "Bash"})).tool_choice
    assert choice == ToolChoice("tool", "Bash")


def test_tool_choice_tool_without_name_is_rejected() -> None:
    assert invalid(body(tool_choice={"type": "tool"})).param == "tool_choice.name"


# ---------------------------------------------------------------- thinking, metadata


def test_enabled_thinking_keeps_the_budget() -> None:
    conv = messages_to_ir(body(thinking={"type": "enabled", "budget_tokens": 4096}))
    assert conv.thinking == ThinkingConfig("enabled", budget_tokens=4096)


def test_adaptive_thinking_takes_the_effort_from_output_config() -> None:
    conv = messages_to_ir(body(thinking={"type": "adaptive"}, output_config={"effort": "low"}))
    assert conv.thinking == ThinkingConfig("adaptive", effort="low")


def test_disabled_thinking_is_no_thinking() -> None:
    assert messages_to_ir(body(thinking={"type": "disabled"})).thinking is None


def test_enabled_thinking_needs_a_budget() -> None:
    assert invalid(body(thinking={"type": "enabled"})).param == "thinking.budget_tokens"


def test_thinking_budget_must_be_positive() -> None:
    error = invalid(body(thinking={"type": "enabled", "budget_tokens": 0}))
    assert error.param == "thinking.budget_tokens"


@pytest.mark.parametrize(
    ("effort", "tag"),
    [("low", "low"), ("medium", "medium"), ("high", "high"), ("xhigh", "max"), ("max", "max")],
)
def test_every_anthropic_effort_maps_to_an_upstream_effort_tag(effort: str, tag: str) -> None:
    conv = messages_to_ir(body(thinking={"type": "adaptive"}, output_config={"effort": effort}))
    assert conv.thinking == ThinkingConfig("adaptive", effort=tag)


def test_claude_code_default_xhigh_effort_is_accepted() -> None:
    request = body(
        model="claude-opus-4-7",
        thinking={"type": "adaptive"},
        output_config={"effort": "xhigh"},
    )
    assert messages_to_ir(request).thinking == ThinkingConfig("adaptive", effort="max")


def test_enabled_thinking_keeps_its_budget_and_the_effort_tag() -> None:
    request = body(
        thinking={"type": "enabled", "budget_tokens": 2048}, output_config={"effort": "xhigh"}
    )
    assert messages_to_ir(request).thinking == ThinkingConfig(
        "enabled", budget_tokens=2048, effort="max"
    )


def test_effort_without_thinking_switches_no_thinking_on() -> None:
    assert messages_to_ir(body(output_config={"effort": "max"})).thinking is None


def test_unknown_effort_is_rejected() -> None:
    assert invalid(body(output_config={"effort": "extreme"})).param == "output_config.effort"


def test_session_id_comes_from_claude_code_user_id() -> None:
    user_id = f"user_abc123_account__session_{SESSION}"
    conv = messages_to_ir(body(metadata={"user_id": user_id}))
    assert conv.session_id == SESSION
    assert conv.metadata == {"user_id": user_id}


def test_session_id_comes_from_json_user_id() -> None:
    user_id = json.dumps({"device_id": "d", "session_id": SESSION})
    assert session_id_from_user_id(user_id) == SESSION


def test_user_id_without_session_has_no_session_id() -> None:
    assert messages_to_ir(body(metadata={"user_id": "plain-user"})).session_id is None


def test_session_id_must_be_a_uuid() -> None:
    assert session_id_from_user_id("user_x_account__session_not-a-uuid") is None
    assert session_id_from_user_id(json.dumps({"session_id": "nope"})) is None


def test_missing_metadata_gives_no_session() -> None:
    conv = messages_to_ir(body())
    assert (conv.session_id, conv.metadata) == (None, {})


# ---------------------------------------------------------------- input limits


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        value = {"type": "object", "properties": {"a": value}}
    return value


def test_non_ascii_character_in_image_data_is_rejected_naming_the_field() -> None:
    request = body(user([image(data=PNG[:8] + "é" + PNG[8:])]))
    for convert in (messages_to_ir, count_tokens_to_ir):
        with pytest.raises(InvalidRequest) as info:
            convert(request)
        assert info.value.param == "messages[0].content[0].source.data"


def test_tool_schema_nested_too_deep_is_rejected_naming_the_field() -> None:
    request = body(tools=[{"name": "t", "input_schema": deep(300)}])
    with pytest.raises(InvalidRequest) as info:
        count_tokens_to_ir(request)
    assert info.value.param == "tools[0].input_schema"


def test_tool_input_nested_too_deep_is_rejected_naming_the_field() -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "t", "input": deep(300)}
    request = body(user("hi"), assistant([call]))
    with pytest.raises(InvalidRequest) as info:
        messages_to_ir(request)
    assert info.value.param == "messages[1].content[0].input"


def test_tool_input_string_nested_past_the_stack_is_kept_as_a_value() -> None:
    text = "[" * 5000 + "]" * 5000
    call = {"type": "tool_use", "id": "toolu_1", "name": "t", "input": text}
    conv = messages_to_ir(body(user("hi"), assistant([call])))
    assert conv.turns[1].parts == (ToolCall("toolu_1", "t", {"value": text}),)


def test_user_id_nested_past_the_stack_is_no_session() -> None:
    assert session_id_from_user_id("[" * 5000) is None


def test_client_tool_schema_nested_too_deep_is_rejected_naming_the_field() -> None:
    tool = {"type": "bash_20250124", "name": "bash", "input_schema": deep(300)}
    with pytest.raises(InvalidRequest) as info:
        messages_to_ir(body(tools=[tool]))
    assert info.value.param == "tools[0].input_schema"
