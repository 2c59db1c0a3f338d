"""Anthropic ``output_config.format`` (and the beta's ``output_format``) to the IR's format."""

from typing import Any

import pytest

from kirogate.convert.anthropic_in import count_tokens_to_ir, messages_to_ir
from kirogate.convert.ir import JsonFormat
from kirogate.errors import InvalidRequest

SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}},
    "required": ["title"],
    "additionalProperties": False,
}


def body(**fields: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "name this session"}],
        **fields,
    }


def invalid(request: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        messages_to_ir(request)
    return caught.value


def test_output_config_format_becomes_the_output_format() -> None:
    conv = messages_to_ir(body(output_config={"format": {"type": "json_schema", "schema": SCHEMA}}))
    assert conv.output_format == JsonFormat("json_schema", SCHEMA)
    assert conv.system == ""  # the Kiro builder adds the instruction


def test_output_config_effort_alone_sets_no_format() -> None:
    assert messages_to_ir(body(output_config={"effort": "low"})).output_format is None


def test_beta_output_format_is_read_too() -> None:
    conv = messages_to_ir(body(output_format={"type": "json_schema", "schema": SCHEMA}))
    assert conv.output_format == JsonFormat("json_schema", SCHEMA)


def test_output_config_format_wins_over_the_beta_field() -> None:
    other = {"type": "object"}
    conv = messages_to_ir(
        body(
            output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
            output_format={"type": "json_schema", "schema": other},
        )
    )
    assert conv.output_format == JsonFormat("json_schema", SCHEMA)


def test_format_without_schema_is_rejected() -> None:
    error = invalid(body(output_config={"format": {"type": "json_schema"}}))
    assert error.param == "output_config.format.schema"


def test_format_of_another_type_is_rejected() -> None:
    error = invalid(body(output_config={"format": {"type": "json_object"}}))
    assert error.param == "output_config.format.type"
    assert "json_schema" in error.message


def test_format_without_type_is_rejected() -> None:
    error = invalid(body(output_format={"schema": SCHEMA}))
    assert error.param == "output_format.type"


def test_invalid_schema_is_rejected_naming_the_field() -> None:
    error = invalid(body(output_config={"format": {"type": "json_schema", "schema": {"type": 5}}}))
    assert error.param == "output_config.format.schema"
    assert "not a valid JSON Schema" in error.message


def test_format_that_is_not_an_object_is_rejected() -> None:
    assert invalid(body(output_config={"format": "json"})).param == "output_config.format"


def test_count_tokens_accepts_a_format() -> None:
    request = body(output_config={"format": {"type": "json_schema", "schema": SCHEMA}})
    del request["max_tokens"]
    assert count_tokens_to_ir(request).output_format == JsonFormat("json_schema", SCHEMA)
