import base64
import io
import json
from typing import Any

import orjson
import pytest
from PIL import Image as PILImage

from kirogate.convert.ir import (
    Conversation,
    Document,
    Image,
    Instruction,
    JsonFormat,
    Part,
    Text,
    ThinkingConfig,
    ToolCall,
    ToolChoice,
    ToolDef,
    ToolResult,
    Turn,
)
from kirogate.convert.kiro import (
    SYSTEM_ACK,
    SYSTEM_CHUNKED_POLICY,
    KiroBuild,
    KiroBuildOptions,
    TruncatedCall,
    build_kiro_request,
)
from kirogate.convert.models import resolve_model
from kirogate.errors import InvalidRequest, RequestTooLarge
from kirogate.protocol.request import PLACEHOLDER_TOOL_DESCRIPTION
from kirogate.protocol.validation import validate_request

SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}}


def png(size: tuple[int, int] = (2, 2)) -> Image:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, "blue").save(buffer, format="PNG")
    return Image("image/png", base64.b64encode(buffer.getvalue()).decode())


def u(*parts: Part | str) -> Turn:
    return Turn("user", tuple(Text(p) if isinstance(p, str) else p for p in parts))


def a(*parts: Part | str) -> Turn:
    return Turn("assistant", tuple(Text(p) if isinstance(p, str) else p for p in parts))


def conv(*turns: Turn, **fields: Any) -> Conversation:
    return Conversation(model="claude-sonnet-4-5", turns=turns or (u("hi"),), **fields)


def build(
    conversation: Conversation, model: str = "claude-sonnet-4-5", **options: Any
) -> KiroBuild:
    return build_kiro_request(
        conversation,
        resolve_model(model),
        conversation_id="conv-1",
        new_id=lambda: "cont-1",
        options=KiroBuildOptions(**options),
    )


def wire(result: KiroBuild) -> dict[str, Any]:
    body = result.request.to_wire()
    assert validate_request(body) == []
    return body


def state(result: KiroBuild) -> dict[str, Any]:
    body: dict[str, Any] = wire(result)["conversationState"]
    return body


def history(result: KiroBuild) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = state(result).get("history", [])
    return items


def current(result: KiroBuild) -> dict[str, Any]:
    message: dict[str, Any] = state(result)["currentMessage"]["userInputMessage"]
    return message


def tools(result: KiroBuild) -> list[dict[str, Any]]:
    context = current(result).get("userInputMessageContext", {})
    return [tool["toolSpecification"] for tool in context.get("tools", [])]


def system_text(result: KiroBuild) -> str:
    text: str = history(result)[0]["userInputMessage"]["content"]
    return text


# ---------------------------------------------------------------- envelope


def test_mid_conversation_instruction_reaches_the_upstream_in_place() -> None:
    result = build(conv(u("a"), a("b"), u(Instruction("Answer in French.")), u("c"), system="s"))
    assert current(result)["content"] == (
        "<system_instruction>\nAnswer in French.\n</system_instruction>\nc"
    )
    assert "French" not in system_text(result)


def test_ids_and_trigger_are_set() -> None:
    body = state(build(conv()))
    assert (body["conversationId"], body["agentContinuationId"]) == ("conv-1", "cont-1")
    assert (body["chatTriggerType"], body["agentTaskType"]) == ("MANUAL", "vibe")


def test_upstream_model_id_is_used_on_every_message() -> None:
    result = build(conv(u("a"), a("b"), u("c"), system="s"), model="claude-opus-4-6")
    ids = {
        item["userInputMessage"]["modelId"]
        for item in history(result)
        if "userInputMessage" in item
    }
    assert ids | {current(result)["modelId"]} == {"claude-opus-4.6"}


def test_sampling_parameters_are_not_sent() -> None:
    body = orjson.dumps(wire(build(conv(max_tokens=10, stop_sequences=("X",))))).decode()
    for key in ("temperature", "maxTokens", "max_tokens", "stopSequences", "topP"):
        assert key not in body


def test_single_message_has_no_history() -> None:
    result = build(conv(u("hello")))
    assert "history" not in state(result)
    assert current(result)["content"] == "hello"


# ---------------------------------------------------------------- system prompt


def test_system_prompt_becomes_a_history_pair() -> None:
    items = history(build(conv(system="Be brief.")))
    assert items == [
        {
            "userInputMessage": {
                "content": "Be brief.",
                "modelId": "claude-sonnet-4.5",
                "origin": "AI_EDITOR",
            }
        },
        {"assistantResponseMessage": {"content": SYSTEM_ACK}},
    ]


def test_no_system_and_no_thinking_means_no_system_pair() -> None:
    result = build(conv(u("a"), a("b"), u("c")))
    assert history(result)[0]["userInputMessage"]["content"] == "a"


def test_output_format_instruction_ends_the_system_prompt() -> None:
    fmt = JsonFormat("json_schema", {"type": "object"}, name="city", description="A city")
    text = system_text(build(conv(system="Be brief.", output_format=fmt)))
    first, instruction = text.split("\n", 1)
    assert first == "Be brief."
    assert instruction.startswith("Answer with only one JSON value")
    assert "Schema name: city" in instruction
    assert "What the answer is for: A city" in instruction
    assert instruction.endswith('{"type":"object"}')


def test_output_format_alone_makes_a_system_pair() -> None:
    text = system_text(build(conv(output_format=JsonFormat("json_object"))))
    assert text.startswith("Answer with only one valid JSON object")


def test_enabled_thinking_prefixes_the_system_prompt() -> None:
    thinking = ThinkingConfig("enabled", budget_tokens=8000)
    assert system_text(build(conv(system="S", thinking=thinking))) == (
        "<thinking_mode>enabled</thinking_mode><max_thinking_length>8000</max_thinking_length>\nS"
    )


@pytest.mark.parametrize(("budget", "sent"), [(10, 1024), (100_000, 24_576), (None, 20_000)])
def test_thinking_budget_is_clamped(budget: int | None, sent: int) -> None:
    result = build(conv(thinking=ThinkingConfig("enabled", budget_tokens=budget)))
    assert f"<max_thinking_length>{sent}</max_thinking_length>" in system_text(result)


def test_thinking_budget_range_is_configurable() -> None:
    thinking = ThinkingConfig("enabled", budget_tokens=50_000)
    result = build(conv(thinking=thinking), thinking_budget_max=32_000)
    assert "<max_thinking_length>32000</max_thinking_length>" in system_text(result)


def test_adaptive_thinking_sends_the_effort() -> None:
    result = build(conv(thinking=ThinkingConfig("adaptive", effort="low")))
    assert system_text(result) == (
        "<thinking_mode>adaptive</thinking_mode><thinking_effort>low</thinking_effort>"
    )


def test_adaptive_thinking_sends_max_effort() -> None:
    result = build(conv(thinking=ThinkingConfig("adaptive", effort="max")))
    assert "<thinking_effort>max</thinking_effort>" in system_text(result)


def test_adaptive_thinking_defaults_to_high_effort() -> None:
    result = build(conv(thinking=ThinkingConfig("adaptive")))
    assert "<thinking_effort>high</thinking_effort>" in system_text(result)


def test_thinking_prefix_is_skipped_when_the_system_prompt_has_one() -> None:
    system = "<thinking_mode>enabled</thinking_mode> custom"
    result = build(conv(system=system, thinking=ThinkingConfig("enabled", budget_tokens=5000)))
    assert system_text(result) == system


def test_thinking_suffix_model_forces_thinking() -> None:
    result = build(conv(), model="claude-sonnet-4-5-thinking")
    assert "<max_thinking_length>20000</max_thinking_length>" in system_text(result)


def test_client_thinking_wins_over_the_model_suffix() -> None:
    thinking = ThinkingConfig("enabled", budget_tokens=4000)
    result = build(conv(thinking=thinking), model="claude-sonnet-4-5-thinking")
    assert "<max_thinking_length>4000</max_thinking_length>" in system_text(result)


def test_chunked_write_policy_follows_a_write_tool() -> None:
    result = build(conv(system="S", tools=(ToolDef("Write", "write a file", SCHEMA),)))
    assert system_text(result) == f"S\n{SYSTEM_CHUNKED_POLICY}"


def test_chunked_write_policy_is_absent_without_write_or_edit() -> None:
    result = build(conv(system="S", tools=(ToolDef("Bash", "run", SCHEMA),)))
    assert system_text(result) == "S"


def test_chunked_write_policy_can_be_turned_off() -> None:
    tool = ToolDef("Edit", "edit", SCHEMA)
    result = build(conv(system="S", tools=(tool,)), write_edit_hints=False)
    assert system_text(result) == "S"
    assert tools(result)[0]["description"] == "edit"


def test_long_tool_description_goes_to_the_system_prompt() -> None:
    result = build(conv(tools=(ToolDef("Big", "d" * 12_000, SCHEMA),)))
    assert "## Tool: Big" in system_text(result)
    assert tools(result)[0]["description"].startswith("[Full documentation")


# ---------------------------------------------------------------- tools


def test_tools_are_sent_on_the_current_message() -> None:
    result = build(conv(tools=(ToolDef("Bash", "run", SCHEMA),)))
    assert tools(result) == [
        {
            "name": "Bash",
            "description": "run",
            "inputSchema": {
                "json": {
                    "type": "object",
                    "properties": {"command": {"type": "string"}},
                    "required": [],
                    "additionalProperties": True,
                }
            },
        }
    ]


def test_history_tool_missing_from_tools_gets_a_placeholder() -> None:
    turns = (u("q"), a(ToolCall("t1", "Read", {})), u(ToolResult("t1", "x")))
    result = build(conv(*turns, tools=(ToolDef("Bash", "run", SCHEMA),)))
    assert [(t["name"], t["description"]) for t in tools(result)] == [
        ("Bash", "run"),
        ("Read", PLACEHOLDER_TOOL_DESCRIPTION),
    ]


def test_history_tool_matching_case_insensitively_gets_no_placeholder() -> None:
    turns = (u("q"), a(ToolCall("t1", "bash", {})), u(ToolResult("t1", "x")))
    result = build(conv(*turns, tools=(ToolDef("Bash", "run", SCHEMA),)))
    assert [t["name"] for t in tools(result)] == ["Bash"]


def test_history_tools_without_any_tools_stay_structured_with_placeholders() -> None:
    turns = (u("q"), a(ToolCall("t1", "Bash", {"command": "ls"})), u(ToolResult("t1", "a.txt")))
    result = build(conv(*turns))
    assert [t["name"] for t in tools(result)] == ["Bash"]
    assert current(result)["userInputMessageContext"]["toolResults"][0]["toolUseId"] == "t1"


def test_long_tool_names_are_shortened_everywhere_and_mapped_back() -> None:
    name = "mcp__server__" + "x" * 70
    turns = (u("q"), a(ToolCall("t1", name, {})), u(ToolResult("t1", "x")))
    result = build(conv(*turns, tools=(ToolDef(name, "d", SCHEMA),)))
    short = tools(result)[0]["name"]
    assert len(short) <= 64
    assert result.tool_names == {short: name}
    assert history(result)[1]["assistantResponseMessage"]["toolUses"][0]["name"] == short


def test_tool_choice_none_leaves_client_tools_out() -> None:
    result = build(conv(tools=(ToolDef("Bash", "run", SCHEMA),), tool_choice=ToolChoice("none")))
    assert tools(result) == []


def test_tool_choice_none_still_covers_history_tools() -> None:
    turns = (u("q"), a(ToolCall("t1", "Bash", {})), u(ToolResult("t1", "x")))
    result = build(
        conv(*turns, tools=(ToolDef("Bash", "run", SCHEMA),), tool_choice=ToolChoice("none"))
    )
    assert [(t["name"], t["description"]) for t in tools(result)] == [
        ("Bash", PLACEHOLDER_TOOL_DESCRIPTION)
    ]


def test_tool_choice_any_is_ignored() -> None:
    result = build(conv(tools=(ToolDef("Bash", "run", SCHEMA),), tool_choice=ToolChoice("any")))
    assert [t["name"] for t in tools(result)] == ["Bash"]
    assert state(result)["chatTriggerType"] == "MANUAL"


def test_web_search_is_offered_and_its_calls_are_kept() -> None:
    web = ToolDef("web_search", "", {}, kind="web_search")
    turns = (
        u("q"),
        a(ToolCall("s1", "web_search", {"query": "x"})),
        u(ToolResult("s1", "r"), "go on"),
    )
    result = build(conv(*turns, tools=(web, ToolDef("Bash", "run", SCHEMA))))
    offered = tools(result)
    assert [t["name"] for t in offered] == ["web_search", "Bash"]
    assert offered[0]["inputSchema"]["json"]["required"] == ["query"]
    uses = history(result)[1]["assistantResponseMessage"]["toolUses"]
    assert [use["name"] for use in uses] == ["web_search"]


def test_a_client_tool_named_websearch_is_offered_as_it_is() -> None:
    result = build(conv(u("q"), tools=(ToolDef("WebSearch", "search", SCHEMA),)))
    assert [t["name"] for t in tools(result)] == ["WebSearch"]


def test_tool_results_carry_error_status() -> None:
    turns = (u("q"), a(ToolCall("t1", "Bash", {})), u(ToolResult("t1", "boom", is_error=True)))
    tool_result = current(build(conv(*turns)))["userInputMessageContext"]["toolResults"][0]
    assert tool_result == {
        "toolUseId": "t1",
        "content": [{"text": "boom"}],
        "status": "error",
        "isError": True,
    }


def test_truncated_calls_are_reported_to_the_model() -> None:
    turns = (u("q"), a(ToolCall("t1", "Write", {})), u(ToolResult("t1", "Write failed")))
    result = build(conv(*turns), truncated_calls={"t1": TruncatedCall(90_000)})
    text = current(result)["userInputMessageContext"]["toolResults"][0]["content"][0]["text"]
    assert text.startswith("[API Limitation]")


def test_truncated_text_notice_leads_the_current_message() -> None:
    result = build(conv(u("a"), a("partial"), u("go on")), previous_text_truncated=True)
    assert current(result)["content"].startswith("[System Notice]")
    assert current(result)["content"].endswith("\ngo on")


# ---------------------------------------------------------------- images and documents


def test_images_go_on_their_user_message() -> None:
    image = png()
    result = build(conv(u(image, "what is this?")))
    assert current(result)["images"] == [{"format": "png", "source": {"bytes": image.data}}]


def test_images_of_older_turns_are_omitted() -> None:
    turns = (u(png(), "one"), a("x"), u(png(), "two"))
    result = build(conv(*turns), keep_images_turns=1)
    assert "images" not in history(result)[0]["userInputMessage"]
    assert history(result)[0]["userInputMessage"]["content"].endswith(
        "[image omitted from earlier turn]"
    )
    assert len(current(result)["images"]) == 1


def test_several_images_are_held_to_the_multi_image_side_limit() -> None:
    turns = (u(png((300, 30)), png((30, 30))),)
    result = build(conv(*turns), max_image_side_multi=100)
    data = current(result)["images"][0]["source"]["bytes"]
    assert PILImage.open(io.BytesIO(base64.b64decode(data))).size == (100, 10)
    assert any("downscaled" in note for note in result.notes)


def test_single_image_uses_the_single_image_side_limit() -> None:
    image = png((300, 30))
    result = build(conv(u(image)), max_image_side_multi=100)
    assert current(result)["images"][0]["source"]["bytes"] == image.data


def test_undecodable_image_is_rejected_naming_the_message() -> None:
    bad = Image("image/png", base64.b64encode(b"not an image").decode())
    with pytest.raises(InvalidRequest) as caught:
        build(conv(u("a"), a("b"), u(bad)))
    assert caught.value.param == "messages[2].content"


def test_pdf_documents_are_rejected() -> None:
    with pytest.raises(InvalidRequest) as caught:
        build(conv(u(Document("application/pdf", "JVBERi0="))))
    assert "not supported by the upstream" in caught.value.message


# ---------------------------------------------------------------- size guard


def big_turns(pairs: int, size: int = 2000) -> tuple[Turn, ...]:
    turns: list[Turn] = []
    for index in range(pairs):
        turns += [u(f"q{index} " + "x" * size), a(f"a{index} " + "y" * size)]
    return (*turns, u("final question"))


def size_of(result: KiroBuild) -> int:
    return len(orjson.dumps(wire(result)))


def test_request_under_the_limit_is_untouched() -> None:
    result = build(conv(*big_turns(3)))
    assert len(history(result)) == 6
    assert result.notes == []


def test_oldest_turns_are_dropped_to_fit_the_limit() -> None:
    result = build(conv(*big_turns(20), system="keep me"), max_request_bytes=20_000)
    assert size_of(result) <= 20_000
    items = history(result)
    assert items[0]["userInputMessage"]["content"] == "keep me"
    assert items[-1]["assistantResponseMessage"]["content"].startswith("a19 ")
    assert current(result)["content"] == "final question"
    assert any("dropped" in note for note in result.notes)


def test_history_images_are_dropped_before_turns() -> None:
    turns = (u(png((200, 200)), "look"), a("nice"), u("and?"))
    full = build(conv(*turns))
    limit = size_of(full) - 10
    result = build(conv(*turns), max_request_bytes=limit)
    assert len(history(result)) == 2
    assert "images" not in history(result)[0]["userInputMessage"]


def test_trimming_keeps_tool_results_consistent() -> None:
    turns: list[Turn] = [u("start")]
    for index in range(15):
        turns += [
            a("x" * 1500, ToolCall(f"t{index}", "Bash", {})),
            u(ToolResult(f"t{index}", "y" * 1500)),
        ]
    result = build(conv(*turns), max_request_bytes=15_000)
    assert size_of(result) <= 15_000  # wire() also checks the body is valid
    assert current(result)["userInputMessageContext"]["toolResults"][0]["toolUseId"] == "t14"


def test_trimming_turns_that_start_with_an_assistant_inserts_a_user_turn() -> None:
    turns: list[Turn] = [u("s" * 3000)]
    for index in range(4):
        turns += [a("x" * 3000, ToolCall(f"t{index}", "Bash", {})), u(ToolResult(f"t{index}", "r"))]
    result = build(conv(*turns), max_request_bytes=5_000)
    items = history(result)
    assert items[0]["userInputMessage"]["content"] == "Continue"
    assert items[1]["assistantResponseMessage"]["toolUses"][0]["toolUseId"] == "t3"


def test_current_message_too_large_is_rejected_naming_the_limit() -> None:
    with pytest.raises(RequestTooLarge) as caught:
        build(conv(u("a"), a("b"), u("z" * 5000)), max_request_bytes=2000)
    assert "2000 bytes" in caught.value.message


def test_notes_explain_what_changed() -> None:
    result = build(conv(u("q"), a("partial")))
    assert result.notes == ["answered the trailing assistant message (prefill) with 'Continue'"]


def test_wire_body_is_json_serialisable() -> None:
    turns = (u("q"), a(ToolCall("t1", "Bash", {"n": 1})), u(ToolResult("t1", "x")))
    assert json.loads(json.dumps(wire(build(conv(*turns, system="s")))))
