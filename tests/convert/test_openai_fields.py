from typing import Any

import pytest

from kirogate.convert.ir import Text, Turn
from kirogate.convert.openai_fields import (
    append_turn,
    custom_tool_schema,
    expect_list,
    expect_mapping,
    optional_bool,
    parse_arguments,
    session_id_from,
)
from kirogate.errors import InvalidRequest


def test_append_turn_merges_the_same_role() -> None:
    turns = [Turn("user", (Text("a"),))]
    append_turn(turns, "user", [Text("b")])
    append_turn(turns, "assistant", [Text("c")])
    assert turns == [Turn("user", (Text("a"), Text("b"))), Turn("assistant", (Text("c"),))]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  ", {}),
        ("[1]", {"value": [1]}),
        ('"s"', {"value": "s"}),
        ("{bad", {"value": "{bad"}),
    ],
)
def test_parse_arguments(raw: str, expected: dict[str, Any]) -> None:
    assert parse_arguments(raw) == expected


def test_custom_tool_schema_without_format_asks_for_free_text() -> None:
    schema = custom_tool_schema(None, "tools[0].format")
    assert schema["properties"]["input"]["description"].startswith("The raw input")
    assert schema["required"] == ["input"]


def test_custom_tool_schema_with_a_regex_grammar_names_the_syntax() -> None:
    fmt = {"type": "grammar", "syntax": "regex", "definition": "^[a-z]+$"}
    description = custom_tool_schema(fmt, "f")["properties"]["input"]["description"]
    assert "regex grammar:\n^[a-z]+$" in description


def test_custom_tool_schema_with_a_non_object_grammar_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as info:
        custom_tool_schema({"type": "grammar", "grammar": "x"}, "tools[0].custom.format")
    assert info.value.param == "tools[0].custom.format.grammar"


def test_expect_mapping_and_list_name_the_field() -> None:
    with pytest.raises(InvalidRequest) as mapping:
        expect_mapping([], "a.b")
    with pytest.raises(InvalidRequest) as array:
        expect_list({}, "a.c")
    assert (mapping.value.param, array.value.param) == ("a.b", "a.c")


def test_optional_bool_defaults_to_false() -> None:
    assert optional_bool({}, "stream") is False


def test_session_id_ignores_empty_and_non_string_values() -> None:
    assert (
        session_id_from({"metadata": {"session_id": 3}, "prompt_cache_key": "", "user": 4}) is None
    )
