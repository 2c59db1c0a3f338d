"""The documented client bodies require what the converters require, and allow what they take."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from kirogate.api.errors import anthropic_error_body, openai_error_body
from kirogate.api.schemas import (
    ANTHROPIC_ERRORS,
    OPENAI_ERRORS,
    AnthropicCountTokensBody,
    AnthropicError,
    AnthropicMessagesBody,
    ChatCompletionsBody,
    OpenAIError,
    ResponsesBody,
    body_schema,
    error_responses,
    json_body,
)
from kirogate.convert.anthropic_in import count_tokens_to_ir, messages_to_ir
from kirogate.convert.openai_in import chat_to_ir
from kirogate.convert.responses_in import responses_to_ir
from kirogate.errors import InvalidRequest, NotFound, RateLimited

USER = {"role": "user", "content": "hi"}
# model, converter, the smallest body both the schema and the converter accept
BODIES: list[tuple[type[BaseModel], Callable[[Mapping[str, Any]], object], dict[str, Any]]] = [
    (AnthropicMessagesBody, messages_to_ir, {"model": "m", "messages": [USER], "max_tokens": 8}),
    (AnthropicCountTokensBody, count_tokens_to_ir, {"model": "m", "messages": [USER]}),
    (ChatCompletionsBody, chat_to_ir, {"model": "m", "messages": [USER]}),
    (ResponsesBody, responses_to_ir, {"model": "m", "input": "hi"}),
]
IDS = [model.__name__ for model, _, _ in BODIES]


def validator(model: type[BaseModel]) -> Draft202012Validator:
    """A validator of ``model``'s documented body, its ``$defs`` where the refs point."""
    schema = body_schema(model)
    document = {**schema, "components": {"schemas": schema.pop("$defs", {})}}
    return Draft202012Validator(document)


def documented(model: type[BaseModel], body: object) -> bool:
    return validator(model).is_valid(body)


def converts(convert: Callable[[Mapping[str, Any]], object], body: Mapping[str, Any]) -> bool:
    try:
        convert(body)
    except InvalidRequest:
        return False
    return True


@pytest.mark.parametrize(("model", "convert", "body"), BODIES, ids=IDS)
def test_the_smallest_body_is_documented_and_converted(
    model: type[BaseModel], convert: Callable[[Mapping[str, Any]], object], body: dict[str, Any]
) -> None:
    assert documented(model, body)
    assert converts(convert, body)


@pytest.mark.parametrize(("model", "convert", "body"), BODIES, ids=IDS)
def test_each_required_field_is_required_by_the_converter_too(
    model: type[BaseModel], convert: Callable[[Mapping[str, Any]], object], body: dict[str, Any]
) -> None:
    required = body_schema(model)["required"]
    assert set(required) <= set(body)
    for name in required:
        without = {key: value for key, value in body.items() if key != name}
        assert not documented(model, without), name
        assert not converts(convert, without), name


@pytest.mark.parametrize(("model", "convert", "body"), BODIES, ids=IDS)
def test_unknown_fields_are_documented_as_allowed_and_ignored(
    model: type[BaseModel], convert: Callable[[Mapping[str, Any]], object], body: dict[str, Any]
) -> None:
    extended = {**body, "x_vendor_option": {"a": 1}}
    assert documented(model, extended)
    assert converts(convert, extended)


@pytest.mark.parametrize(("model", "convert", "body"), BODIES, ids=IDS)
def test_a_blank_model_is_refused_by_both(
    model: type[BaseModel], convert: Callable[[Mapping[str, Any]], object], body: dict[str, Any]
) -> None:
    blank = {**body, "model": "  "}
    assert not documented(model, blank)
    assert not converts(convert, blank)


def test_anthropic_content_may_be_a_bare_string_or_blocks() -> None:
    blocks = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    for messages in ([USER], [blocks]):
        body = {"model": "m", "messages": messages, "max_tokens": 8, "system": "be brief"}
        assert documented(AnthropicMessagesBody, body)
        assert converts(messages_to_ir, body)


@pytest.mark.parametrize(
    ("role", "block"),
    [
        ("user", {"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
        ("assistant", {"type": "tool_result", "tool_use_id": "t1", "content": "x"}),
        ("system", {"type": "thinking", "thinking": "hm"}),
    ],
)
def test_a_block_its_role_may_not_hold_is_refused_by_both(role: str, block: dict[str, Any]) -> None:
    body = {
        "model": "m",
        "messages": [USER, {"role": role, "content": [block]}],
        "max_tokens": 8,
    }
    assert not documented(AnthropicMessagesBody, body)
    assert not converts(messages_to_ir, body)


def test_anthropic_max_tokens_must_be_a_positive_integer_in_both() -> None:
    for value in (0, True, "100", 1.5):
        body = {"model": "m", "messages": [USER], "max_tokens": value}
        assert not documented(AnthropicMessagesBody, body), value
        assert not converts(messages_to_ir, body), value


@pytest.mark.parametrize(
    ("message", "accepted"),
    [
        ({"role": "tool", "content": "42"}, False),  # no tool_call_id
        ({"role": "tool", "tool_call_id": "c1", "content": "42"}, True),
        ({"role": "function", "content": "42"}, False),  # no name
        ({"role": "system"}, False),  # no content
        ({"role": "assistant", "content": None, "tool_calls": []}, False),
        ({"role": "narrator", "content": "x"}, False),
    ],
)
def test_chat_messages_need_what_their_role_needs(message: dict[str, Any], accepted: bool) -> None:
    body = {"model": "m", "messages": [USER, message]}
    assert converts(chat_to_ir, body) is accepted
    if accepted:
        assert documented(ChatCompletionsBody, body)
    elif message.get("role") != "assistant":  # "content or tool_calls" is said in words
        assert not documented(ChatCompletionsBody, body)


def test_json_body_is_a_required_json_request_body() -> None:
    extra = json_body(ChatCompletionsBody)
    body = extra["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"]["title"] == "ChatCompletionsBody"


def test_the_envelopes_describe_what_the_error_renderers_write() -> None:
    for exc in (InvalidRequest("bad", param="x"), NotFound("gone"), RateLimited("slow")):
        AnthropicError.model_validate(anthropic_error_body(exc))
        OpenAIError.model_validate(openai_error_body(exc))


def test_error_responses_name_their_envelope_and_reason() -> None:
    responses = error_responses(OpenAIError, (400, 429))
    assert set(responses) == {400, 429}
    assert responses[400]["model"] is OpenAIError
    assert "retry-after" in responses[429]["description"]
    assert ANTHROPIC_ERRORS[413]["model"] is AnthropicError
    assert OPENAI_ERRORS[401]["model"] is OpenAIError
