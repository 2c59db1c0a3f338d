"""The official ``openai`` SDK (Chat Completions and Responses) against a live kirogate."""

from __future__ import annotations

import json

import openai
import pytest

MODEL = "claude-sonnet-4-6"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "Bash",
            "description": "Run a command",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
        },
    }
]


def test_chat_completion_text(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "Hi there"},
        ],
    )
    assert reply.choices[0].message.content == "Echo: Hi there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == MODEL
    assert reply.usage is not None and reply.usage.prompt_tokens > 0


def test_streamed_chat_keeps_one_id_and_reports_usage(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model=MODEL,
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "stream this"}],
        )
    )
    assert len({chunk.id for chunk in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream this"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_chat_tool_calls_stream_as_indexed_deltas(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model=MODEL,
            stream=True,
            tools=TOOLS,
            messages=[{"role": "user", "content": "ls [[emu:tv2]]"}],
        )
    )
    args = "".join(
        call.function.arguments or ""
        for c in chunks
        if c.choices
        for call in (c.choices[0].delta.tool_calls or [])
    )
    assert json.loads(args) == {"command": "ls -la"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_chat_tool_round_trip(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(
        model=MODEL, tools=TOOLS, messages=[{"role": "user", "content": "ls [[emu:tv2]]"}]
    )
    call = first.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"command": "ls -la"}
    second = oai.chat.completions.create(
        model=MODEL,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "ls"},
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "a.txt"},
        ],
    )
    assert "a.txt" in second.choices[0].message.content


def test_reasoning_content_for_thinking(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=MODEL,
        reasoning_effort="high",
        messages=[{"role": "user", "content": "2+2 [[emu:tv4]]"}],
    )
    message = reply.choices[0].message
    assert message.content == "The answer is **4**."
    assert "It is 4." in message.model_extra["reasoning_content"]


def test_n_greater_than_one_is_a_clear_400(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        oai.chat.completions.create(model=MODEL, n=2, messages=[{"role": "user", "content": "x"}])
    assert raised.value.body["param"] == "n"


def test_missing_messages_is_400_not_422(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        oai.chat.completions.create(model=MODEL, messages=[])
    assert raised.value.status_code == 400


def test_wrong_key_is_401_in_openai_shape(oai: openai.OpenAI) -> None:
    client = openai.OpenAI(base_url=str(oai.base_url), api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert raised.value.body["code"] == "invalid_api_key"


def test_models_list_in_openai_shape(oai: openai.OpenAI) -> None:
    ids = [model.id for model in oai.models.list()]
    assert ids and "auto" not in ids


def test_responses_text_and_previous_response_id(oai: openai.OpenAI) -> None:
    first = oai.responses.create(model=MODEL, instructions="be brief", input="first question")
    assert first.output_text == "Echo: first question"
    second = oai.responses.create(model=MODEL, input="second", previous_response_id=first.id)
    assert second.output_text == "Echo: second"
    assert oai.responses.retrieve(second.id).id == second.id


def test_responses_stream_with_function_call(oai: openai.OpenAI) -> None:
    tools = [
        {
            "type": "function",
            "name": "Bash",
            "description": "Run",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
        }
    ]
    with oai.responses.stream(model=MODEL, tools=tools, input="ls [[emu:tv2]]") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created"
    assert "response.function_call_arguments.delta" in kinds
    call = next(item for item in final.output if item.type == "function_call")
    assert json.loads(call.arguments) == {"command": "ls -la"}
