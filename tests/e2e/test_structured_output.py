"""Structured output through a live kirogate + emulator, with the official SDKs.

The emulator's ``say`` scenario answers with a given text: the JSON bare, in a code fence or
inside prose; its default echo is not JSON, which gives the mismatch cases.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from pydantic import BaseModel

from tests.live import LiveStack

MODEL = "claude-sonnet-4-6"
CLEAN = '{"title": "Fix the build"}'
FENCED = """name it [[emu:say text='```json\\n{"title": "Fix the build"}\\n```']]"""
IN_PROSE = """name it [[emu:say text='Sure! {"title": "Fix the build"} Anything else?']]"""
WRONG_SHAPE = """name it [[emu:say text='{"name": "Fix the build"}']]"""
NOT_JSON = "name this session, please"  # echoed back as plain text
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}},
    "required": ["title"],
    "additionalProperties": False,
}


class Title(BaseModel):
    title: str


def user(content: str) -> list[Any]:
    return [{"role": "user", "content": content}]


# ---------------------------------------------------------------- Anthropic Messages

ANTHROPIC_FORMAT: Any = {"format": {"type": "json_schema", "schema": SCHEMA}}


def test_anthropic_answer_is_clean_json(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model=MODEL, max_tokens=200, messages=user(FENCED), output_config=ANTHROPIC_FORMAT
    )
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == CLEAN  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"


def test_anthropic_streamed_answer_is_clean_json(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model=MODEL, max_tokens=200, messages=user(IN_PROSE), output_config=ANTHROPIC_FORMAT
    ) as stream:
        deltas = [e.delta.text for e in stream if e.type == "content_block_delta"]  # type: ignore[union-attr]
    assert deltas == [CLEAN]  # held back, then sent once


def test_claude_code_route_streams_clean_json(stack: LiveStack) -> None:
    client = anthropic.Anthropic(
        base_url=f"{stack.base_url}/cc", api_key=stack.api_key, max_retries=0
    )
    with client.messages.stream(
        model=MODEL, max_tokens=200, messages=user(FENCED), output_config=ANTHROPIC_FORMAT
    ) as stream:
        assert stream.get_final_text() == CLEAN


def test_anthropic_parse_with_a_pydantic_model(claude: anthropic.Anthropic) -> None:
    message = claude.messages.parse(
        model=MODEL, max_tokens=200, messages=user(FENCED), output_format=Title
    )
    assert message.parsed_output == Title(title="Fix the build")


def test_anthropic_mismatch_is_a_502_api_error(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.APIStatusError) as raised:
        claude.messages.create(
            model=MODEL, max_tokens=200, messages=user(WRONG_SHAPE), output_config=ANTHROPIC_FORMAT
        )
    assert raised.value.status_code == 502
    body = raised.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "api_error"
    assert "does not match the requested JSON schema: $:" in body["error"]["message"]


def test_anthropic_streamed_mismatch_is_an_error_event(claude: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.APIStatusError) as raised,
        claude.messages.stream(
            model=MODEL, max_tokens=200, messages=user(NOT_JSON), output_config=ANTHROPIC_FORMAT
        ) as stream,
    ):
        for _ in stream:
            pass
    body = raised.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "api_error"
    assert "not JSON" in body["error"]["message"]


def test_anthropic_bad_schema_is_a_400_naming_the_field(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        claude.messages.create(
            model=MODEL,
            max_tokens=200,
            messages=user("hi"),
            output_config={"format": {"type": "json_schema", "schema": {"type": 7}}},  # type: ignore[typeddict-item]
        )
    assert "output_config.format.schema" in str(raised.value)


# ---------------------------------------------------------------- Chat Completions

CHAT_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "session_title", "schema": SCHEMA, "strict": True},
}


def test_chat_parse_with_a_pydantic_model(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.parse(model=MODEL, messages=user(FENCED), response_format=Title)
    message = reply.choices[0].message
    assert message.content == CLEAN
    assert message.parsed == Title(title="Fix the build")


def test_chat_streamed_answer_is_clean_json(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model=MODEL, stream=True, messages=user(IN_PROSE), response_format=CHAT_FORMAT
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == CLEAN
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_json_object_takes_the_object_out_of_prose(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=MODEL, messages=user(IN_PROSE), response_format={"type": "json_object"}
    )
    assert json.loads(reply.choices[0].message.content or "") == {"title": "Fix the build"}


def test_chat_mismatch_is_a_502_with_its_code(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        oai.chat.completions.create(
            model=MODEL, messages=user(WRONG_SHAPE), response_format=CHAT_FORMAT
        )
    assert raised.value.status_code == 502
    body = raised.value.body
    assert isinstance(body, dict)
    assert (body["type"], body["code"]) == ("server_error", "output_format_mismatch")


def test_chat_streamed_mismatch_is_an_error_chunk(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model=MODEL, stream=True, messages=user(NOT_JSON), response_format=CHAT_FORMAT
    )
    with pytest.raises(openai.APIError) as raised:
        for _ in stream:
            pass
    assert raised.value.code == "output_format_mismatch"


def test_chat_bad_schema_is_a_400_naming_the_field(oai: openai.OpenAI) -> None:
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": 7}}}
    with pytest.raises(openai.BadRequestError) as raised:
        oai.chat.completions.create(model=MODEL, messages=user("hi"), response_format=bad)  # type: ignore[arg-type]
    body = raised.value.body
    assert isinstance(body, dict) and body["param"] == "response_format.json_schema.schema"


# ---------------------------------------------------------------- Responses

RESPONSES_FORMAT: Any = {
    "format": {"type": "json_schema", "name": "session_title", "schema": SCHEMA, "strict": True}
}


def test_responses_parse_with_a_pydantic_model(oai: openai.OpenAI) -> None:
    response = oai.responses.parse(model=MODEL, input=FENCED, text_format=Title)
    assert response.output_text == CLEAN
    assert response.output_parsed == Title(title="Fix the build")


def test_responses_streamed_answer_is_clean_json(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model=MODEL, input=IN_PROSE, text=RESPONSES_FORMAT) as stream:
        events = list(stream)
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas == [CLEAN]
    done = [e for e in events if e.type == "response.completed"]
    assert done and done[0].response.output_text == CLEAN


def test_responses_mismatch_is_a_502(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        oai.responses.create(model=MODEL, input=WRONG_SHAPE, text=RESPONSES_FORMAT)
    assert raised.value.status_code == 502


def test_responses_streamed_mismatch_fails_the_response(oai: openai.OpenAI) -> None:
    with oai.responses.stream(model=MODEL, input=NOT_JSON, text=RESPONSES_FORMAT) as stream:
        events = list(stream)
    failed = [event for event in events if event.type == "response.failed"]
    assert failed and failed[0].response.error is not None
    assert failed[0].response.error.code == "output_format_mismatch"


def test_responses_bad_format_type_is_a_400_naming_the_field(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        oai.responses.create(model=MODEL, input="hi", text={"format": {"type": "yaml"}})  # type: ignore[typeddict-item]
    body = raised.value.body
    assert isinstance(body, dict) and body["param"] == "text.format.type"
