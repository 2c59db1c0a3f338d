"""Errors the Kiro builder raises name the client's own message, not the merged IR turn."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image as PILImage

from kirogate.convert.ir import Conversation, Image, Text, ToolResult, Turn
from kirogate.convert.kiro import KiroBuildOptions, build_kiro_request
from kirogate.convert.models import resolve_model
from kirogate.convert.openai_fields import (
    FIELD_KEY,
    SOURCES_KEY,
    TurnLog,
    TurnSource,
    relocate_error,
    turn_images,
)
from kirogate.convert.openai_in import chat_to_ir
from kirogate.convert.responses_in import continue_conversation, responses_to_ir
from kirogate.errors import InvalidRequest, RequestTooLarge


def png(size: int = 1) -> str:
    buffer = io.BytesIO()
    PILImage.new("RGB", (size, size), (200, 10, 10)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


GOOD = png()
BAD = base64.b64encode(b"this is not an image at all").decode()  # valid base64, no picture


def data_url(data: str) -> str:
    return f"data:image/png;base64,{data}"


def image_part(data: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_url(data)}}


def build_error(conv: Conversation, **options: Any) -> InvalidRequest:
    """The builder's error for ``conv``, relocated to the client's field."""
    with pytest.raises(InvalidRequest) as raised:
        build_kiro_request(
            conv,
            resolve_model("claude-sonnet-4-6"),
            conversation_id="c",
            new_id=lambda: "id",
            options=KiroBuildOptions(**options),
        )
    return relocate_error(raised.value, conv)


def chat(*messages: dict[str, Any]) -> Conversation:
    return chat_to_ir({"model": "claude-sonnet-4-6", "messages": list(messages)})


# ---------------------------------------------------------------- chat completions


def test_bad_image_after_a_system_message_and_merged_users() -> None:
    conv = chat(
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "ok"},
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": "two"},
        {"role": "user", "content": [{"type": "text", "text": "look"}, image_part(BAD)]},
    )
    error = build_error(conv)
    assert error.param == "messages[5].content[1].image_url.url"
    assert error.message.startswith("messages[5].content[1].image_url.url: image could not")


def test_the_bad_one_of_several_images_in_a_merged_turn_is_named() -> None:
    conv = chat(
        {"role": "user", "content": [image_part(GOOD)]},
        {"role": "user", "content": "and"},
        {"role": "user", "content": [image_part(GOOD), image_part(BAD)]},
    )
    assert build_error(conv).param == "messages[2].content[1].image_url.url"


def test_shorthand_image_url_is_named_as_sent() -> None:
    conv = chat(
        {"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "image_url", "image_url": data_url(BAD)}]},
    )
    assert build_error(conv).param == "messages[1].content[0].image_url"


def test_bad_image_in_a_tool_message() -> None:
    conv = chat(
        {"role": "user", "content": "shot"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "Shot", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": [image_part(BAD)]},
    )
    assert build_error(conv).param == "messages[2].content[0].image_url.url"


def test_turn_sources_record_merged_messages() -> None:
    conv = chat(
        {"role": "system", "content": "s"},
        {"role": "user", "content": "a"},
        {"role": "user", "content": [image_part(GOOD)]},
        {"role": "assistant", "content": "b"},
    )
    assert conv.metadata[FIELD_KEY] == "messages"
    assert conv.metadata[SOURCES_KEY] == (
        TurnSource(("messages[1]", "messages[2]"), ("messages[2].content[0].image_url.url",)),
        TurnSource(("messages[3]",)),
    )


# ---------------------------------------------------------------- responses


def responses(body: dict[str, Any], previous: Conversation | None = None) -> Conversation:
    return responses_to_ir({"model": "claude-sonnet-4-6", **body}, previous=previous)


def input_image(data: str) -> dict[str, Any]:
    return {"type": "input_image", "image_url": data_url(data)}


def test_responses_bad_image_names_the_input_item() -> None:
    conv = responses(
        {
            "input": [
                {"role": "developer", "content": "rules"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {
                    "role": "user",
                    "content": [{"type": "input_text", "text": "see"}, input_image(BAD)],
                },
            ]
        }
    )
    assert build_error(conv).param == "input[3].content[1].image_url"


def test_responses_bad_image_in_a_function_output() -> None:
    conv = responses(
        {
            "input": [
                {"role": "user", "content": "shot"},
                {"type": "function_call", "call_id": "c1", "name": "Shot", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": [input_image(BAD)]},
            ]
        }
    )
    assert build_error(conv).param == "input[2].output[0].image_url"


def test_responses_without_input_names_input() -> None:
    error = build_error(responses({"instructions": "be brief", "input": []}))
    assert (error.param, error.message) == ("input", "input: at least one message is required")


def test_responses_after_previous_response_names_the_new_item() -> None:
    first = responses({"input": [{"role": "user", "content": [input_image(GOOD)]}]})
    stored = continue_conversation(
        first,
        {"output": [{"type": "message", "role": "assistant", "content": "seen"}]},
    )
    conv = responses(
        {
            "previous_response_id": "resp_1",
            "input": [{"role": "user", "content": [input_image(BAD)]}],
        },
        previous=stored,
    )
    assert conv.metadata[SOURCES_KEY][0] == TurnSource(
        ("previous_response_id",), ("previous_response_id",)
    )
    assert build_error(conv).param == "input[0].content[0].image_url"


# ---------------------------------------------------------------- relocate_error itself


def test_an_error_in_an_earlier_response_names_previous_response_id() -> None:
    conv = Conversation(
        "m",
        (Turn("user", (Image("image/png", BAD),)),),
        metadata={SOURCES_KEY: (TurnSource(("previous_response_id",)),), FIELD_KEY: "input"},
    )
    error = relocate_error(
        InvalidRequest("messages[0].content: x", param="messages[0].content"), conv
    )
    assert error.param == "previous_response_id"


def test_errors_about_other_fields_pass_through() -> None:
    conv = chat({"role": "system", "content": "s"}, {"role": "user", "content": "u"})
    for exc in (InvalidRequest("tools[0]: bad", param="tools[0]"), InvalidRequest("no param")):
        assert relocate_error(exc, conv) is exc


def test_without_sources_the_error_passes_through() -> None:
    conv = Conversation("m", (Turn("user", (Text("u"),)),))
    exc = InvalidRequest("messages[0].content: bad", param="messages[0].content")
    assert relocate_error(exc, conv) is exc
    stale = Conversation("m", conv.turns * 2, metadata={SOURCES_KEY: (TurnSource(("x[1]",)),)})
    assert relocate_error(exc, stale) is exc


def test_an_index_past_the_turns_passes_through() -> None:
    conv = chat({"role": "system", "content": "s"}, {"role": "user", "content": "u"})
    exc = InvalidRequest("messages[7].content: bad", param="messages[7].content")
    assert relocate_error(exc, conv) is exc


def test_a_non_image_error_names_the_first_merged_message() -> None:
    conv = chat(
        {"role": "system", "content": "s"},
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
    )
    exc = InvalidRequest("messages[0].content: documents...", param="messages[0].content")
    error = relocate_error(exc, conv)
    assert (error.param, error.message) == (
        "messages[1].content",
        "messages[1].content: documents...",
    )


def test_a_summary_turn_has_no_source_and_names_the_field() -> None:
    conv = Conversation("m", (Turn("user", (Text("S"),)),), metadata={SOURCES_KEY: (TurnSource(),)})
    exc = InvalidRequest("messages[0].content: bad", param="messages[0].content")
    assert relocate_error(exc, conv).param == "messages"


def test_a_size_error_is_matched_against_the_limit_it_names() -> None:
    # The first image fits the default limit but not the 50 bytes the builder was given.
    turn = Turn("user", (Image("image/png", GOOD), Image("image/png", BAD)))
    conv = Conversation(
        "m", (turn,), metadata={SOURCES_KEY: (TurnSource(("messages[0]",), ("A", "B")),)}
    )
    param = "messages[0].content"
    too_big = InvalidRequest(f"{param}: image cannot be brought under 50 bytes", param=param)
    assert relocate_error(too_big, conv).param == "A"
    undecodable = InvalidRequest(f"{param}: image could not be decoded", param=param)
    assert relocate_error(undecodable, conv).param == "B"


def test_when_no_image_fails_again_the_first_is_named() -> None:
    turn = Turn("user", (Image("image/png", GOOD), Image("image/png", GOOD)))
    conv = Conversation(
        "m", (turn,), metadata={SOURCES_KEY: (TurnSource(("messages[0]",), ("A", "B")),)}
    )
    exc = InvalidRequest("messages[0].content: odd", param="messages[0].content")
    assert relocate_error(exc, conv).param == "A"


def test_builder_size_errors_have_no_param_to_relocate() -> None:
    conv = chat({"role": "user", "content": "x" * 2000})
    with pytest.raises(RequestTooLarge):
        build_kiro_request(
            conv,
            resolve_model("claude-sonnet-4-6"),
            conversation_id="c",
            new_id=lambda: "id",
            options=KiroBuildOptions(max_request_bytes=500),
        )


def test_turn_log_merges_sources_with_turns() -> None:
    log = TurnLog()
    log.add("user", [Text("a")], "m[0]")
    log.add("user", [Image("image/png", GOOD)], "m[1]", ["m[1].img"])
    log.add("assistant", [Text("b")], "m[2]")
    assert log.turns == [
        Turn("user", (Text("a"), Image("image/png", GOOD))),
        Turn("assistant", (Text("b"),)),
    ]
    assert log.sources == [TurnSource(("m[0]", "m[1]"), ("m[1].img",)), TurnSource(("m[2]",))]


def test_turn_images_follow_the_builder_order() -> None:
    first, second, third = (Image("image/png", str(n)) for n in range(3))
    turn = Turn("user", (first, ToolResult("t", "r", images=(second,)), Text("x"), third))
    assert turn_images(turn) == [first, second, third]


def test_a_message_not_starting_with_the_param_keeps_its_words() -> None:
    conv = chat({"role": "system", "content": "s"}, {"role": "user", "content": "u"})
    exc = InvalidRequest("bad content", param="messages[0].content")
    error = relocate_error(exc, conv)
    assert (error.param, error.message) == ("messages[1].content", "bad content")


def test_images_that_do_not_line_up_fall_back_to_the_message() -> None:
    turn = Turn("user", (Image("image/png", GOOD),))
    conv = Conversation(
        "m", (turn,), metadata={SOURCES_KEY: (TurnSource(("messages[4]",), ("A", "B")),)}
    )
    exc = InvalidRequest("messages[0].content: bad", param="messages[0].content")
    assert relocate_error(exc, conv).param == "messages[4].content"
