from typing import Any

import pytest

from kirogate.convert.anthropic_request import MessagesRequest, parse_messages_request
from kirogate.errors import InvalidRequest


def body(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 1, "messages": list(messages) or [user("hi")], **fields}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def parse_error(request: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_messages_request(request)
    return caught.value


def test_valid_body_parses_into_the_request_model() -> None:
    assert isinstance(parse_messages_request(body()), MessagesRequest)


def test_string_content_is_read_as_one_text_block() -> None:
    message = parse_messages_request(body(user("hi"))).messages[0]
    assert [(block.type, getattr(block, "text", None)) for block in message.content] == [
        ("text", "hi")
    ]


def test_unknown_top_level_fields_are_ignored() -> None:
    assert parse_messages_request(body(context_management={"edits": []})).model == "m"


def test_missing_messages_are_rejected_naming_the_field() -> None:
    request = body()
    del request["messages"]
    error = parse_error(request)
    assert error.param == "messages"
    assert error.message == "messages: field required"


def test_body_must_be_an_object() -> None:
    with pytest.raises(InvalidRequest):
        parse_messages_request([])  # type: ignore[arg-type]


def test_unknown_role_is_rejected_naming_the_field() -> None:
    assert parse_error(body({"role": "tool", "content": "x"})).param == "messages[0].role"


def test_wrong_field_type_is_reported_without_pydantic_noise() -> None:
    error = parse_error(body(user([{"type": "text", "text": 5}])))
    assert error.param == "messages[0].content[0].text"
    assert "pydantic" not in error.message
    assert error.message.startswith("messages[0].content[0].text: ")


def test_unknown_block_type_is_rejected_naming_the_type_field() -> None:
    error = parse_error(body(user("a"), assistant([{"type": "mystery"}])))
    assert error.param == "messages[1].content[0].type"
    assert "'mystery'" in error.message


def test_block_without_type_is_rejected() -> None:
    assert parse_error(body(user([{"text": "a"}]))).param == "messages[0].content[0].type"


def test_nested_errors_name_the_full_path() -> None:
    block = {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text"}]}
    assert parse_error(body(user([block]))).param == "messages[0].content[0].content[0].text"


def long_conversation(count: int) -> list[dict[str, Any]]:
    return [user(f"q{i}") if i % 2 == 0 else assistant(f"a{i}") for i in range(count)]


def test_long_conversation_parses_like_a_short_one() -> None:
    messages = long_conversation(601)
    request = parse_messages_request(body(*messages, system="be brief"))
    assert len(request.messages) == 601
    assert request.messages[600].content[0].text == "q600"  # type: ignore[union-attr]
    assert request.system[0].text == "be brief"


def test_error_deep_in_a_long_conversation_names_its_message() -> None:
    messages = long_conversation(601)
    messages[300] = {"role": "user", "content": [{"type": "image"}]}
    assert parse_error(body(*messages)).param == "messages[300].content[0].source"


def test_error_outside_the_messages_of_a_long_conversation_names_its_field() -> None:
    error = parse_error(body(*long_conversation(601), max_tokens="many"))
    assert error.param == "max_tokens"


@pytest.mark.parametrize("value", [True, "100", 100.0])
def test_max_tokens_takes_only_an_integer(value: Any) -> None:
    error = parse_error(body(user("hi"), max_tokens=value))
    assert error.param == "max_tokens"


@pytest.mark.parametrize("field", ["top_k"])
def test_other_integer_fields_take_only_integers(field: str) -> None:
    assert parse_error(body(user("hi"), **{field: "5"})).param == field


def test_thinking_budget_takes_only_an_integer() -> None:
    error = parse_error(body(user("hi"), thinking={"type": "enabled", "budget_tokens": "2048"}))
    assert error.param == "thinking.budget_tokens"


def test_null_message_content_is_rejected_naming_the_message() -> None:
    error = parse_error(body(user("hi"), assistant(None)))
    assert error.param == "messages[1].content"
