"""The JSON output format: parsing the request's format, the instruction, checking answers."""

from typing import Any

import pytest

from kirogate.convert.ir import (
    Finish,
    JsonFormat,
    OutEvent,
    TextDelta,
    ThinkingDelta,
    ThinkingStop,
    ToolCallStart,
    ToolCallStop,
)
from kirogate.convert.json_format import (
    MAX_JSON_STARTS,
    FormattedAssembler,
    check_answer,
    format_instruction,
    json_candidates,
    json_format,
)
from kirogate.errors import InvalidRequest, OutputFormatMismatch
from kirogate.protocol.events import (
    AssistantText,
    KiroEvent,
    ReasoningSignature,
    ReasoningText,
    ToolUseFragment,
)

SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["title"],
    "additionalProperties": False,
}
TITLE = JsonFormat("json_schema", SCHEMA, name="session_title")
ANY_OBJECT = JsonFormat("json_object")


def parse(kind: Any, spec: dict[str, Any], **kw: Any) -> JsonFormat | None:
    return json_format(kind, spec, type_where="f.type", spec_where="f", **kw)


def refused(kind: Any, spec: dict[str, Any], **kw: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse(kind, spec, **kw)
    return caught.value


def mismatch(fmt: JsonFormat, text: str) -> OutputFormatMismatch:
    with pytest.raises(OutputFormatMismatch) as caught:
        check_answer(fmt, text)
    return caught.value


# ---------------------------------------------------------------- the request's format


def test_text_and_absent_kinds_mean_no_format() -> None:
    assert parse("text", {}) is None
    assert parse(None, {}) is None


def test_json_schema_keeps_schema_name_and_description() -> None:
    spec = {"schema": SCHEMA, "name": "t", "description": "a title", "strict": True}
    assert parse("json_schema", spec) == JsonFormat("json_schema", SCHEMA, "t", "a title")


def test_json_object_needs_no_schema() -> None:
    assert parse("json_object", {}) == ANY_OBJECT


def test_unknown_kind_names_the_type_field_and_the_choices() -> None:
    error = refused("xml", {})
    assert error.param == "f.type"
    assert "text, json_object, json_schema" in error.message


def test_missing_kind_is_refused_where_text_is_not_allowed() -> None:
    assert refused(None, {}, text_allowed=False).param == "f.type"


def test_kinds_limit_the_accepted_types() -> None:
    error = refused("json_object", {}, kinds=("json_schema",), text_allowed=False)
    assert error.message == "f.type: must be one of json_schema"


def test_missing_schema_names_the_schema_field() -> None:
    assert refused("json_schema", {"name": "x"}).param == "f.schema"


def test_schema_that_is_not_an_object_is_refused() -> None:
    assert refused("json_schema", {"schema": True}).param == "f.schema"


def test_invalid_schema_is_refused_with_the_reason() -> None:
    error = refused("json_schema", {"schema": {"type": "object", "required": "title"}})
    assert error.param == "f.schema"
    assert "not a valid JSON Schema" in error.message


def test_non_string_description_is_refused() -> None:
    assert refused("json_schema", {"schema": SCHEMA, "description": 1}).param == "f.description"


# ---------------------------------------------------------------- the instruction


def test_schema_instruction_carries_the_schema_and_forbids_fences() -> None:
    text = format_instruction(JsonFormat("json_schema", {"type": "object"}, "t", "why"))
    assert "no Markdown code fences" in text
    assert "Schema name: t\nWhat the answer is for: why\n" in text
    assert text.endswith('{"type":"object"}')


def test_object_instruction_asks_for_an_object() -> None:
    assert "one valid JSON object" in format_instruction(ANY_OBJECT)


# ---------------------------------------------------------------- finding the JSON


def test_bare_json_is_returned_as_written() -> None:
    assert check_answer(TITLE, '  {"title": "Fix the build"}\n') == '{"title": "Fix the build"}'


def test_code_fence_is_removed() -> None:
    text = 'Here it is:\n```json\n{"title": "A"}\n```\nDone.'
    assert check_answer(TITLE, text) == '{"title": "A"}'


def test_fence_without_language_is_removed() -> None:
    assert check_answer(TITLE, '```\n{"title": "A"}\n```') == '{"title": "A"}'


def test_prose_around_the_object_is_removed() -> None:
    text = 'Sure! {"title": "A", "count": 2} I hope this helps.'
    assert check_answer(TITLE, text) == '{"title": "A", "count": 2}'


def test_a_later_object_that_matches_wins_over_an_earlier_one() -> None:
    text = 'For example {"name": 1} would be wrong; the answer: {"title": "B"}'
    assert check_answer(TITLE, text) == '{"title": "B"}'


def test_array_schema_takes_an_array() -> None:
    fmt = JsonFormat("json_schema", {"type": "array", "items": {"type": "integer"}})
    assert check_answer(fmt, "The list: [1, 2, 3].") == "[1, 2, 3]"


def test_scalar_schema_takes_a_whole_scalar_answer() -> None:
    assert check_answer(JsonFormat("json_schema", {"type": "integer"}), " 42 ") == "42"


def test_nan_is_not_json() -> None:
    assert list(json_candidates('{"x": NaN}')) == []


def test_the_search_in_prose_is_bounded() -> None:
    text = "{" * (MAX_JSON_STARTS + 10) + ' {"title": "late"}'
    assert list(json_candidates(text)) == []


def test_json_object_format_takes_any_object() -> None:
    assert check_answer(ANY_OBJECT, '```json\n{"anything": [1]}\n```') == '{"anything": [1]}'


# ---------------------------------------------------------------- answers that do not match


def test_text_without_json_is_a_mismatch() -> None:
    error = mismatch(TITLE, "I cannot do that.")
    assert error.status == 502
    assert "not JSON" in error.message


def test_missing_property_is_named() -> None:
    error = mismatch(TITLE, '{"count": 1}')
    assert error.message.endswith("$: missing required property 'title'")


def test_wrong_type_names_the_path_and_rule_without_the_value() -> None:
    error = mismatch(TITLE, '{"title": "secret-ish words", "count": "many"}')
    assert "$.count: does not satisfy the schema's 'type' rule ('integer')" in error.message
    assert "many" not in error.message  # the model's output stays out of the message


def test_extra_property_is_a_mismatch_without_its_name() -> None:
    error = mismatch(TITLE, '{"title": "A", "private_name": 1}')
    assert "has properties the schema does not allow" in error.message
    assert "private_name" not in error.message


def test_json_object_format_refuses_an_array() -> None:
    assert "not the JSON object" in mismatch(ANY_OBJECT, "[1, 2]").message


def test_unresolvable_ref_is_the_clients_error() -> None:
    fmt = JsonFormat("json_schema", {"$ref": "#/$defs/missing"})
    with pytest.raises(InvalidRequest):
        check_answer(fmt, "{}")


REMOTE = "http://127.0.0.1:9/schema.json"


def test_a_ref_that_does_not_resolve_is_refused_with_the_request() -> None:
    error = refused("json_schema", {"schema": {"$ref": "#/$defs/missing"}})
    assert error.param == "f.schema"
    assert (
        error.message
        == "f.schema: not a valid JSON Schema: $ref '#/$defs/missing' does not resolve inside the schema"
    )


def test_a_remote_ref_is_refused_and_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    # jsonschema's default registry fetched it with urllib, from the event loop.
    def fetch(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a $ref was fetched")

    monkeypatch.setattr("urllib.request.urlopen", fetch)
    schema = {"type": "object", "properties": {"a": {"$ref": REMOTE}}}
    assert refused("json_schema", {"schema": schema}).param == "f.schema"
    with pytest.raises(InvalidRequest):
        check_answer(JsonFormat("json_schema", schema), '{"a": 1}')


def test_refs_that_resolve_are_accepted() -> None:
    schema = {
        "$defs": {"Step": {"type": "object"}},
        "anyOf": [{"$ref": "#/$defs/Step"}, {"$ref": "#"}],
        "properties": {"nested": {"$id": "https://example.com/n", "$ref": "#/elsewhere"}},
    }
    fmt = parse("json_schema", {"schema": schema})
    assert fmt is not None and fmt.schema == schema
    assert parse("json_schema", {"schema": {"$defs": {"A": {}}, "$ref": "#/$defs/A"}})


def test_ref_to_defs_is_followed() -> None:
    schema = {
        "$defs": {"Step": {"type": "object", "required": ["n"]}},
        "type": "object",
        "properties": {"steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}}},
    }
    fmt = JsonFormat("json_schema", schema)
    assert check_answer(fmt, '{"steps": [{"n": 1}]}') == '{"steps": [{"n": 1}]}'
    assert "$.steps[0]" in mismatch(fmt, '{"steps": [{"m": 1}]}').message


# ---------------------------------------------------------------- the assembler


def assembler(fmt: JsonFormat = TITLE, **kw: Any) -> FormattedAssembler:
    options: dict[str, Any] = {
        "thinking_enabled": False,
        "tool_names": {},
        "context_window": 200_000,
        "input_tokens_estimate": 10,
    }
    options.update(kw)
    return FormattedAssembler(fmt, **options)


def run(asm: FormattedAssembler, *events: KiroEvent) -> list[OutEvent]:
    out: list[OutEvent] = []
    for event in events:
        out += asm.feed(event)
    return out + asm.finish()


def texts(events: list[OutEvent]) -> list[str]:
    return [event.text for event in events if isinstance(event, TextDelta)]


def test_assembler_holds_text_and_sends_clean_json_at_the_end() -> None:
    asm = assembler()
    assert asm.holds_text
    assert not asm.text_passes('{"title"')
    assert asm.feed(AssistantText('```json\n{"title"')) == []
    assert asm.feed(AssistantText(': "A"}\n```')) == []
    out = asm.finish()
    assert out[0] == TextDelta('{"title": "A"}')
    assert isinstance(out[1], Finish) and out[1].stop_reason == "end_turn"


def test_assembler_counts_the_held_text_as_output() -> None:
    out = run(assembler(), AssistantText('{"title": "' + "x" * 400 + '"}'))
    finish = out[-1]
    assert isinstance(finish, Finish) and finish.output_tokens > 50


def test_assembler_raises_at_the_end_for_a_mismatch() -> None:
    asm = assembler()
    asm.feed(AssistantText("no json here"))
    with pytest.raises(OutputFormatMismatch):
        asm.finish()


def test_thinking_passes_while_text_is_held() -> None:
    asm = assembler()
    first = asm.feed(ReasoningText("let me think"))
    assert first == [ThinkingDelta("let me think")]
    second = asm.feed(ReasoningSignature("sig"))
    assert second == [ThinkingStop("sig")]
    out = run(asm, AssistantText('{"title": "T"}'))
    assert texts(out) == ['{"title": "T"}']


def test_tag_thinking_passes_and_only_the_answer_is_checked() -> None:
    out = run(
        assembler(thinking_enabled=True),
        AssistantText("<thinking>\nhmm {not json}\n"),
        AssistantText("</thinking>\n\n"),
        AssistantText('{"title": "T"}'),
    )
    assert [e for e in out if isinstance(e, ThinkingDelta)]
    assert texts(out) == ['{"title": "T"}']


def test_text_before_a_tool_call_goes_out_unchecked_before_it() -> None:
    out = run(
        assembler(),
        AssistantText("Let me look."),
        ToolUseFragment("t1", "Read", '{"path": "a"}', stop=True),
    )
    assert out[0] == TextDelta("Let me look.")
    assert isinstance(out[1], ToolCallStart)
    assert any(isinstance(e, ToolCallStop) for e in out)
    finish = out[-1]
    assert isinstance(finish, Finish) and finish.stop_reason == "tool_use"


def test_text_cut_by_max_tokens_goes_out_unchecked() -> None:
    out = run(assembler(max_tokens=2), AssistantText('{"title": "a long title"}'))
    finish = out[-1]
    assert isinstance(finish, Finish) and finish.stop_reason == "max_tokens"
    assert texts(out) and texts(out)[0].startswith('{"ti')


def test_text_ended_by_a_stop_sequence_goes_out_unchecked() -> None:
    out = run(assembler(stop_sequences=("END",)), AssistantText('{"title": END'))
    finish = out[-1]
    assert isinstance(finish, Finish) and finish.stop_reason == "stop_sequence"
    assert texts(out) == ['{"title": ']


def test_instruction_without_name_or_description_is_the_rule_and_the_schema() -> None:
    text = format_instruction(JsonFormat("json_schema", {"type": "object"}))
    assert text.count("\n") == 1
    assert "Schema name" not in text and "What the answer is for" not in text


def test_rule_with_a_structured_value_is_named_without_the_value() -> None:
    fmt = JsonFormat("json_schema", {"anyOf": [{"type": "integer"}, {"type": "boolean"}]})
    assert mismatch(fmt, '"text"').message.endswith("$: does not satisfy the schema's 'anyOf' rule")


def test_jsonschema_is_imported_only_for_a_schema() -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from kirogate.convert.openai_in import chat_to_ir\n"
        "body = {'model': 'm', 'messages': [{'role': 'user', 'content': 'x'}]}\n"
        "chat_to_ir(body)\n"
        "chat_to_ir({**body, 'response_format': {'type': 'json_object'}})\n"
        "assert 'jsonschema' not in sys.modules\n"
        "fmt = {'type': 'json_schema', 'json_schema': {'name': 'n', 'schema': {}}}\n"
        "chat_to_ir({**body, 'response_format': fmt})\n"
        "assert 'jsonschema' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
