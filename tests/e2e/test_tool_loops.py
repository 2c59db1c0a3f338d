"""Multi-step tool loops against a live kirogate + emulator.

The Vercel AI SDK's loop on the Responses API (``item_reference`` to stored items, no
``previous_response_id``) and web search served by the gateway beside other tools, on the
Messages and Responses APIs, streamed and not.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from tests.live import LiveStack

MODEL = "claude-sonnet-4-6"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
BASH = {
    "name": "Bash",
    "description": "Run a command",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
}
LOOP_PROMPT = """weather [[emu:tool name=get_weather input='{"city":"Paris"}' rounds=2]]"""
SEARCH_PROMPT = """news [[emu:tool name=web_search input='{"query":"rust"}']]"""


def _responses(oai: openai.OpenAI, body: dict[str, Any]) -> dict[str, Any]:
    """``responses.create``; with ``stream`` the response of ``response.completed``."""
    if not body.get("stream"):
        return oai.responses.create(**body).model_dump()
    events = list(oai.responses.create(**body))
    assert events[-1].type == "response.completed", events[-1]
    return events[-1].response.model_dump()  # type: ignore[union-attr]


def _references(response: dict[str, Any]) -> list[dict[str, Any]]:
    """What the AI SDK sends back for a response's output: references to the stored items."""
    return [{"type": "item_reference", "id": item["id"]} for item in response["output"]]


@pytest.mark.parametrize("stream", [False, True])
def test_responses_three_step_loop_with_item_references(oai: openai.OpenAI, stream: bool) -> None:
    history: list[dict[str, Any]] = [{"role": "user", "content": LOOP_PROMPT}]
    outputs = []
    for _ in range(3):
        body = {"model": MODEL, "input": history, "tools": [WEATHER], "stream": stream}
        response = _responses(oai, body)
        outputs.append(response)
        calls = [item for item in response["output"] if item["type"] == "function_call"]
        history = [*history, *_references(response)]
        history += [
            {"type": "function_call_output", "call_id": call["call_id"], "output": "sunny"}
            for call in calls
        ]
    kinds = [[item["type"] for item in response["output"]] for response in outputs]
    assert kinds == [["message", "function_call"], ["message", "function_call"], ["message"]]
    assert outputs[2]["output"][0]["content"][0]["text"] == "Tool result: sunny"


def test_unknown_item_reference_is_a_400_naming_the_item(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        oai.responses.create(
            model=MODEL,
            input=[
                {"role": "user", "content": "hi"},
                {"type": "item_reference", "id": "msg_missing"},
            ],
        )
    assert raised.value.body["param"] == "input[1].id"  # type: ignore[index]


def _search_tools(max_uses: int | None = None) -> list[Any]:
    search: dict[str, Any] = {"type": "web_search_20250305", "name": "web_search"}
    if max_uses is not None:
        search["max_uses"] = max_uses
    return [BASH, search]


def test_messages_model_calls_web_search_and_goes_on(claude: anthropic.Anthropic) -> None:
    reply = claude.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=_search_tools(),
        messages=[{"role": "user", "content": SEARCH_PROMPT}],
    )
    kinds = [block.type for block in reply.content]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "text"]
    assert reply.content[1].input == {"query": "rust"}
    assert reply.content[2].tool_use_id == reply.content[1].id
    assert len(reply.content[2].content) == 5
    assert reply.content[3].text.startswith('Tool result: Here are the search results for "rust"')
    assert reply.stop_reason == "end_turn"
    assert reply.usage.server_tool_use is not None
    assert reply.usage.server_tool_use.web_search_requests == 1


def test_messages_streamed_web_search_loop(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model=MODEL,
        max_tokens=256,
        tools=_search_tools(),
        messages=[{"role": "user", "content": SEARCH_PROMPT}],
    ) as stream:
        final = stream.get_final_message()
    kinds = [block.type for block in final.content]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "text"]
    assert final.content[3].text.startswith("Tool result: Here are the search results")
    assert final.stop_reason == "end_turn"


def test_claude_code_mode_web_search_loop(stack: LiveStack) -> None:
    claude = anthropic.Anthropic(
        base_url=f"{stack.base_url}/cc", api_key=stack.api_key, max_retries=0
    )
    with claude.messages.stream(
        model=MODEL,
        max_tokens=256,
        tools=_search_tools(),
        messages=[{"role": "user", "content": SEARCH_PROMPT}],
    ) as stream:
        final = stream.get_final_message()
    kinds = [block.type for block in final.content]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "text"]
    assert final.usage.output_tokens > 0


def test_a_client_tool_named_websearch_reaches_the_model(claude: anthropic.Anthropic) -> None:
    tool = {**BASH, "name": "WebSearch"}
    prompt = """find [[emu:tool name=WebSearch input='{"query":"rust"}']]"""
    reply = claude.messages.create(
        model=MODEL, max_tokens=256, tools=[tool], messages=[{"role": "user", "content": prompt}]
    )
    assert [block.type for block in reply.content] == ["text", "tool_use"]
    assert reply.content[1].name == "WebSearch"  # type: ignore[union-attr]
    assert reply.stop_reason == "tool_use"


def test_messages_web_search_max_uses_ends_the_answer(claude: anthropic.Anthropic) -> None:
    prompt = """news [[emu:tool name=web_search input='{"query":"rust"}' rounds=3]]"""
    reply = claude.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=_search_tools(max_uses=1),
        messages=[{"role": "user", "content": prompt}],
    )
    kinds = [block.type for block in reply.content]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result"] * 2
    assert reply.content[5].content.error_code == "max_uses_exceeded"  # type: ignore[union-attr]
    assert reply.stop_reason == "end_turn"


@pytest.mark.parametrize("stream", [False, True])
def test_responses_web_search_is_served_as_web_search_call(
    oai: openai.OpenAI, stream: bool
) -> None:
    body = {
        "model": MODEL,
        "input": SEARCH_PROMPT,
        "tools": [WEATHER, {"type": "web_search"}],
        "stream": stream,
    }
    response = _responses(oai, body)
    kinds = [item["type"] for item in response["output"]]
    assert kinds == ["message", "web_search_call", "message"]
    action = response["output"][1]["action"]
    assert (action["type"], action["query"]) == ("search", "rust")
    assert response["output"][2]["content"][0]["text"].startswith("Tool result: Here are the")
    follow = _responses(
        oai, {"model": MODEL, "input": "and?", "previous_response_id": response["id"]}
    )
    assert follow["status"] == "completed"
