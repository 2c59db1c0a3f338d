"""The official ``anthropic`` SDK against a live kirogate + emulator."""

from __future__ import annotations

import json
import urllib.request

import anthropic
import pytest

from tests.live import LiveStack

MODEL = "claude-sonnet-4-6"


def ask(claude: anthropic.Anthropic, text: str, **kw: object) -> anthropic.types.Message:
    return claude.messages.create(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": text}], **kw
    )


def test_plain_text_reply_echoes_the_prompt(claude: anthropic.Anthropic) -> None:
    reply = ask(claude, "Hello kirogate")
    assert reply.content[0].type == "text"
    assert reply.content[0].text == "Echo: Hello kirogate"
    assert reply.stop_reason == "end_turn"
    assert reply.model == MODEL
    assert reply.usage.input_tokens > 0


def test_streamed_text_accumulates_to_the_same_message(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "stream me please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: stream me please"
    assert final.stop_reason == "end_turn"


def test_tool_call_input_equals_what_the_emulator_sent(claude: anthropic.Anthropic) -> None:
    tools = [
        {
            "name": "Bash",
            "description": "Run a command",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
        }
    ]
    reply = ask(claude, "list files [[emu:tv2]]", tools=tools)
    calls = [block for block in reply.content if block.type == "tool_use"]
    assert reply.stop_reason == "tool_use"
    assert calls[0].name == "Bash"
    assert calls[0].input == {"command": "ls -la"}


def test_streamed_tool_call_with_utf8_split_parses(claude: anthropic.Anthropic) -> None:
    tools = [
        {
            "name": "Read",
            "description": "Read a file",
            "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}},
        }
    ]
    with claude.messages.stream(
        model=MODEL,
        max_tokens=256,
        tools=tools,
        messages=[{"role": "user", "content": "read [[emu:tv3-split]]"}],
    ) as stream:
        final = stream.get_final_message()
    inputs = [block.input for block in final.content if block.type == "tool_use"]
    assert inputs == [{"file_path": "/tmp/äö.txt"}, {"file_path": "/tmp/b.txt"}]


def test_tool_round_trip_sends_the_result_back(claude: anthropic.Anthropic) -> None:
    tools = [
        {
            "name": "Bash",
            "description": "Run a command",
            "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
        }
    ]
    first = ask(claude, "list files [[emu:tv2]]", tools=tools)
    call = next(block for block in first.content if block.type == "tool_use")
    second = claude.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=tools,
        messages=[
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": "a.txt b.txt"}
                ],
            },
        ],
    )
    assert "a.txt b.txt" in second.content[0].text


def test_thinking_tags_become_thinking_blocks(claude: anthropic.Anthropic) -> None:
    reply = ask(
        claude, "what is 2+2 [[emu:tv4]]", thinking={"type": "enabled", "budget_tokens": 2048}
    )
    kinds = [block.type for block in reply.content]
    assert kinds == ["thinking", "text"]
    assert reply.content[0].thinking == "The user asks 2+2. Not `</thinking>` yet. It is 4.\n"
    assert reply.content[1].text == "The answer is **4**."


def test_streamed_thinking_deltas(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model=MODEL,
        max_tokens=256,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "2+2 [[emu:tv4]]"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "thinking"
    assert "It is 4." in final.content[0].thinking


def test_truncated_tool_input_is_no_call_to_run(claude: anthropic.Anthropic) -> None:
    tools = [
        {
            "name": "Write",
            "description": "Write a file",
            "input_schema": {
                "type": "object",
                "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}},
            },
        }
    ]
    reply = ask(claude, "write it [[emu:tv7]]", tools=tools)
    # Cut off by the upstream: no tool_use with made-up arguments, and max_tokens, not tool_use.
    assert [block.type for block in reply.content] == ["text"]
    assert reply.stop_reason == "max_tokens"
    with claude.messages.stream(
        model=MODEL,
        max_tokens=256,
        messages=[{"role": "user", "content": "write it [[emu:tv7]]"}],
        tools=tools,  # type: ignore[arg-type]
    ) as stream:
        final = stream.get_final_message()
    call = next(block for block in final.content if block.type == "tool_use")
    assert call.input == {"file_path": "/src/big.py"}  # the SDK's reading of the cut text
    assert final.stop_reason == "max_tokens"


def test_context_window_full_stop_reason(claude: anthropic.Anthropic) -> None:
    reply = ask(claude, "big [[emu:tv8]]")
    assert reply.stop_reason == "model_context_window_exceeded"


def test_output_limit_exception_is_max_tokens(claude: anthropic.Anthropic) -> None:
    reply = ask(claude, "essay [[emu:tv6]]")
    assert reply.stop_reason == "max_tokens"
    assert reply.content[0].text.startswith("Here is a very long essay")


def test_mid_stream_exception_becomes_an_error_event(claude: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        claude.messages.stream(
            model=MODEL,
            max_tokens=256,
            messages=[{"role": "user", "content": "x [[emu:tv6-error]]"}],
        ) as stream,
    ):
        for _ in stream:
            pass
    assert "InternalServerException" in str(raised.value)


def test_stop_sequences_are_applied_by_the_gateway(claude: anthropic.Anthropic) -> None:
    reply = ask(claude, "alpha beta gamma", stop_sequences=["beta"])
    assert reply.content[0].text == "Echo: alpha "
    assert reply.stop_reason == "stop_sequence"
    assert reply.stop_sequence == "beta"


def test_count_tokens(claude: anthropic.Anthropic) -> None:
    counted = claude.messages.count_tokens(
        model=MODEL, messages=[{"role": "user", "content": "How many tokens is this?"}]
    )
    assert 3 <= counted.input_tokens <= 20


def test_models_list_in_anthropic_shape(claude: anthropic.Anthropic) -> None:
    ids = [model.id for model in claude.models.list()]
    assert "claude-sonnet-4-5-20250929" in ids or "claude-sonnet-4-5" in ids
    assert "auto" not in ids


def test_wrong_key_is_401_authentication_error(stack: LiveStack) -> None:
    client = anthropic.Anthropic(base_url=stack.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as raised:
        ask(client, "hi")
    assert raised.value.body["error"]["type"] == "authentication_error"


def test_bad_request_is_400_invalid_request_naming_the_field(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        claude.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/tiff",
                                "data": "AAAA",
                            },
                        }
                    ],
                }
            ],
        )
    assert raised.value.status_code == 400
    assert raised.value.body["error"]["type"] == "invalid_request_error"
    assert "media_type" in raised.value.body["error"]["message"]


def test_unknown_model_is_404(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(
            model="gpt-7-ultra", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )


def test_upstream_400_is_not_retried_and_maps_to_400(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        ask(claude, "x [[emu:malformed]]")
    assert "Improperly formed request" in raised.value.body["error"]["message"]


def test_web_search_returns_server_tool_blocks(claude: anthropic.Anthropic) -> None:
    reply = claude.messages.create(
        model=MODEL,
        max_tokens=256,
        tools=[{"type": "web_search_20250305", "name": "web_search"}],
        messages=[
            {"role": "user", "content": "Perform a web search for the query: rust async traits"}
        ],
    )
    kinds = [block.type for block in reply.content]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "text"]
    assert reply.content[1].input == {"query": "rust async traits"}
    assert len(reply.content[2].content) > 0


def test_buffered_claude_code_mode_carries_exact_input_tokens(stack: LiveStack) -> None:
    body = json.dumps(
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": "hello [[emu:tv1]]"}],
        }
    ).encode()
    request = urllib.request.Request(
        f"{stack.base_url}/cc/v1/messages",
        data=body,
        headers={"x-api-key": stack.api_key, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        transcript = response.read().decode()
    start = json.loads(transcript.split("data: ", 1)[1].split("\n", 1)[0])
    assert start["type"] == "message_start"
    assert start["message"]["usage"]["input_tokens"] == 2468  # TV1: 1.234% of 200k
