from typing import Any

import pytest

from kirogate.convert.ir import ToolDef
from kirogate.convert.kiro_tools import (
    EDIT_TOOL_SUFFIX,
    WEB_SEARCH_SCHEMA,
    WRITE_TOOL_SUFFIX,
    ConvertedTools,
    ToolNames,
    clean_schema,
    convert_tools,
    offered_tools,
    placeholder_tools,
    served_web_search,
    shorten_tool_name,
)
from kirogate.protocol.request import (
    PLACEHOLDER_TOOL_DESCRIPTION,
    PLACEHOLDER_TOOL_SCHEMA,
    KiroTool,
)

SCHEMA = {"type": "object", "properties": {}}


def convert(*tools: ToolDef, **options: Any) -> ConvertedTools:
    settings: dict[str, Any] = {"write_edit_hints": True, "long_descriptions": "system"}
    settings.update(options)
    return convert_tools(tools, ToolNames(), **settings)


# ---------------------------------------------------------------- names


def test_long_tool_name_is_shortened_to_63_characters() -> None:
    name = "mcp__plugin_very_long_server_name__extremely_long_tool_name_exceeds_63"
    short = shorten_tool_name(name)
    assert len(short) == 63
    assert short.startswith(name[:54] + "_")


def test_shortening_is_deterministic_and_distinguishes_names() -> None:
    a, b = "x" * 70 + "a", "x" * 70 + "b"
    assert shorten_tool_name(a) == shorten_tool_name(a)
    assert shorten_tool_name(a) != shorten_tool_name(b)


def test_names_up_to_63_characters_are_kept() -> None:
    names = ToolNames()
    assert names.upstream("n" * 63) == "n" * 63
    assert names.originals == {}


def test_shortened_names_are_remembered() -> None:
    names = ToolNames()
    short = names.upstream("n" * 64)
    assert names.originals == {short: "n" * 64}


def test_tool_definitions_use_shortened_names() -> None:
    names = ToolNames()
    converted = convert_tools(
        [ToolDef("n" * 80, "d", SCHEMA)], names, write_edit_hints=False, long_descriptions="system"
    )
    assert converted.tools[0].name in names.originals


# ---------------------------------------------------------------- descriptions


def test_empty_description_becomes_tool_name() -> None:
    assert convert(ToolDef("Bash", "  ", SCHEMA)).tools[0].description == "Tool: Bash"


def test_write_and_edit_get_chunking_suffixes() -> None:
    write, edit = convert(ToolDef("Write", "w", SCHEMA), ToolDef("Edit", "e", SCHEMA)).tools
    assert write.description == f"w\n{WRITE_TOOL_SUFFIX}"
    assert edit.description == f"e\n{EDIT_TOOL_SUFFIX}"


def test_chunking_suffixes_can_be_turned_off() -> None:
    assert (
        convert(ToolDef("Write", "w", SCHEMA), write_edit_hints=False).tools[0].description == "w"
    )


def test_long_description_moves_to_the_system_prompt() -> None:
    converted = convert(ToolDef("Big", "d" * 10_001, SCHEMA))
    assert (
        converted.tools[0].description
        == "[Full documentation in system prompt under '## Tool: Big']"
    )
    assert converted.documentation == "# Tool documentation\n\n## Tool: Big\n\n" + "d" * 10_001


def test_long_description_can_be_truncated_instead() -> None:
    converted = convert(ToolDef("Big", "d" * 10_001, SCHEMA), long_descriptions="truncate")
    assert converted.tools[0].description == "d" * 10_000
    assert converted.documentation == ""


def test_description_limit_is_configurable() -> None:
    converted = convert(
        ToolDef("T", "abcdef", SCHEMA), long_descriptions="truncate", max_description=3
    )
    assert converted.tools[0].description == "abc"


def test_duplicate_tool_names_keep_the_first_definition() -> None:
    converted = convert(ToolDef("Bash", "one", SCHEMA), ToolDef("bash", "two", SCHEMA))
    assert [tool.description for tool in converted.tools] == ["one"]
    assert converted.notes


# ---------------------------------------------------------------- placeholders, web search


def test_placeholders_cover_history_names_missing_from_tools() -> None:
    defined = [KiroTool("Bash", "d", SCHEMA)]
    placeholders = placeholder_tools(["bash", "Read", "read"], defined)
    assert placeholders == [KiroTool("Read", PLACEHOLDER_TOOL_DESCRIPTION, PLACEHOLDER_TOOL_SCHEMA)]


@pytest.mark.parametrize(
    "tool",
    [
        ToolDef("web_search", "", {}, kind="web_search"),
        ToolDef("search", "", {}, kind="web_search"),
    ],
)
def test_server_web_search_tools_are_served(tool: ToolDef) -> None:
    assert served_web_search([ToolDef("Bash", "run", SCHEMA), tool]) is tool


@pytest.mark.parametrize("name", ["WebSearch", "web_search", "Web_Search"])
def test_client_functions_named_like_web_search_are_not_served(name: str) -> None:
    assert served_web_search([ToolDef(name, "", SCHEMA)]) is None


def test_a_client_function_of_the_same_name_wins_over_the_server_tool() -> None:
    client = ToolDef("Web_Search", "mine", SCHEMA)
    tools = [ToolDef("web_search", "", {}, kind="web_search"), client]
    assert served_web_search(tools) is None
    assert offered_tools(tools) == [client]


def test_web_search_is_offered_as_a_function_with_a_query() -> None:
    bash = ToolDef("Bash", "run", SCHEMA)
    offered = offered_tools([ToolDef("web_search", "", {}, kind="web_search"), bash])
    assert offered[1] is bash
    assert offered[0].name == "web_search"
    assert offered[0].input_schema == WEB_SEARCH_SCHEMA
    assert "Search the web" in offered[0].description


# ---------------------------------------------------------------- schemas


def test_schema_nulls_are_normalised_at_the_root() -> None:
    schema = {"type": None, "properties": None, "required": None}
    assert clean_schema(schema) == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": True,
    }


def test_non_object_schema_becomes_an_empty_object_schema() -> None:
    assert clean_schema(None)["type"] == "object"
    assert clean_schema("nope")["properties"] == {}


def test_root_type_list_becomes_object() -> None:
    assert clean_schema({"type": ["object", "null"]})["type"] == "object"


def test_nested_object_schemas_are_normalised() -> None:
    schema = {
        "type": "object",
        "properties": {
            "config": {"type": "object", "properties": None, "required": [None, "path"]}
        },
    }
    config = clean_schema(schema)["properties"]["config"]
    assert config == {
        "type": "object",
        "properties": {},
        "required": ["path"],
        "additionalProperties": True,
    }


def test_null_values_are_removed_everywhere_but_lists_keep_null_members() -> None:
    schema = {"properties": {"a": {"type": "string", "default": None, "enum": [None, "x"]}}}
    assert clean_schema(schema)["properties"]["a"] == {"type": "string", "enum": [None, "x"]}


def test_nulls_inside_lists_of_objects_are_removed() -> None:
    schema = {"properties": {"a": {"type": "object", "examples": [{"x": None, "y": 1}]}}}
    assert clean_schema(schema)["properties"]["a"]["examples"] == [{"y": 1}]


def test_scalar_property_schemas_are_not_given_object_keys() -> None:
    schema = {"properties": {"n": {"type": "integer", "description": "count"}}}
    assert clean_schema(schema)["properties"]["n"] == {"type": "integer", "description": "count"}


def test_invalid_nested_type_is_removed() -> None:
    schema = {"properties": {"a": {"type": "", "description": "x"}, "b": {"type": ["string", 3]}}}
    properties = clean_schema(schema)["properties"]
    assert properties == {"a": {"description": "x"}, "b": {}}


def test_nested_type_lists_of_strings_are_kept() -> None:
    schema = {"properties": {"a": {"type": ["string", "null"]}}}
    assert clean_schema(schema)["properties"]["a"] == {"type": ["string", "null"]}


def test_array_items_are_cleaned() -> None:
    schema = {
        "properties": {
            "one": {"type": "array", "items": {"type": "object", "required": None}},
            "tuple": {"type": "array", "items": [{"properties": None}]},
        }
    }
    properties = clean_schema(schema)["properties"]
    assert properties["one"]["items"]["required"] == []
    assert properties["tuple"]["items"][0]["properties"] == {}


def test_combinators_and_definitions_are_cleaned() -> None:
    schema = {
        "anyOf": [{"properties": None}],
        "not": {"required": None},
        "$defs": {"entry": {"properties": None, "required": ["value", 1]}},
        "definitions": "broken",
    }
    cleaned = clean_schema(schema)
    assert cleaned["anyOf"][0]["properties"] == {}
    assert cleaned["not"]["required"] == []
    assert cleaned["$defs"]["entry"]["required"] == ["value"]
    assert cleaned["definitions"] == {}


def test_additional_properties_schema_is_cleaned_and_junk_replaced() -> None:
    cleaned = clean_schema({"additionalProperties": {"type": "object", "properties": None}})
    assert cleaned["additionalProperties"]["properties"] == {}
    assert clean_schema({"additionalProperties": "yes"})["additionalProperties"] is True
    assert clean_schema({"additionalProperties": False})["additionalProperties"] is False


def test_non_object_subschemas_become_empty() -> None:
    assert clean_schema({"properties": {"a": None, "b": 3}})["properties"] == {"a": {}, "b": {}}
