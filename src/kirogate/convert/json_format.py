"""Structured output the upstream has no field for: instruct the model, then check its answer.

Kiro's request has no response-format field. So a requested JSON format (Anthropic
``output_config.format``, Chat Completions ``response_format``, Responses ``text.format``)
becomes :class:`~kirogate.convert.ir.JsonFormat` on the Conversation, the Kiro builder ends
the system prompt with :func:`format_instruction`, and :func:`check_answer` turns the model's
final text into clean JSON: code fences and prose around the value are dropped, the value is
parsed and validated against the schema (``jsonschema``, imported only when a request has a
format), and an answer that does not match raises
:class:`~kirogate.errors.OutputFormatMismatch` instead of reaching the client.

:class:`FormattedAssembler` holds such a request's text back until the end of the answer, so
the streamed and the non-streamed answers are checked in one place; thinking and tool calls
pass as they come. Requests without a format use the plain
:class:`~kirogate.convert.stream.StreamAssembler` and its per-chunk fast path.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson

from kirogate.convert.ir import Finish, JsonFormat, OutEvent, TextDelta, ToolCallStart
from kirogate.convert.limits import check_depth
from kirogate.convert.stream import StreamAssembler
from kirogate.errors import InvalidRequest, OutputFormatMismatch
from kirogate.protocol.events import KiroEvent

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator
    from referencing import Registry

log = logging.getLogger(__name__)

FORMAT_KINDS: Final = ("json_object", "json_schema")
# Bounds the search for a JSON value inside prose: each start is one parse attempt.
MAX_JSON_STARTS: Final = 64
_FENCE = re.compile(r"```[\w+-]*[ \t]*\r?\n(.*?)```", re.DOTALL)


# ---------------------------------------------------------------- request side


def json_format(
    kind: Any,
    spec: Mapping[str, Any],
    *,
    type_where: str,
    spec_where: str,
    kinds: tuple[str, ...] = FORMAT_KINDS,
    text_allowed: bool = True,
) -> JsonFormat | None:
    """The JSON format a request asks for (None for plain text); errors name the field.

    ``kind`` is one of ``kinds`` or (when ``text_allowed``) ``text`` or absent. ``spec``
    holds ``schema`` and the optional ``name`` and ``description``, found at ``spec_where``
    in the client's body; the schema must be a valid JSON Schema.
    """
    if text_allowed and kind in (None, "text"):
        return None
    if kind is None:
        raise InvalidRequest(f"{type_where}: field required", param=type_where)
    if kind not in kinds:
        named = ("text", *kinds) if text_allowed else kinds
        raise InvalidRequest(f"{type_where}: must be one of {', '.join(named)}", param=type_where)
    if kind == "json_object":
        return JsonFormat("json_object")
    schema = spec.get("schema")
    where = f"{spec_where}.schema"
    if schema is None:
        raise InvalidRequest(f"{where}: field required for json_schema", param=where)
    if not isinstance(schema, dict):
        raise InvalidRequest(f"{where}: must be a JSON Schema object", param=where)
    check_depth(schema, where)
    problem = schema_problem(schema) or ref_problem(schema)
    if problem is not None:
        raise InvalidRequest(f"{where}: not a valid JSON Schema: {problem}", param=where)
    return JsonFormat(
        "json_schema",
        schema,
        name=_optional_text(spec, "name", spec_where),
        description=_optional_text(spec, "description", spec_where),
    )


def _optional_text(spec: Mapping[str, Any], key: str, where: str) -> str | None:
    value = spec.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise InvalidRequest(f"{where}.{key}: must be a string", param=f"{where}.{key}")


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not a usable JSON Schema, or None."""
    from jsonschema.exceptions import SchemaError

    try:
        _validator(_schema_key(schema))
    except SchemaError as exc:
        return _short(exc.message)
    return None


def ref_problem(schema: dict[str, Any]) -> str | None:
    """The first ``$ref`` of ``schema`` that does not resolve inside it, or None.

    Only the schema itself is looked in: nothing is fetched.
    Skipped when a nested ``$id`` moves the base a ``$ref`` resolves against.
    """
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    refs: list[str] = []
    stack: list[Any] = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item is not schema and isinstance(item.get("$id"), str):
                return None
            ref = item.get("$ref")
            if isinstance(ref, str):
                refs.append(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    if not refs:
        return None
    resolver = _registry().resolver_with_root(DRAFT202012.create_resource(schema))
    for ref in refs:
        try:
            resolver.lookup(ref)
        except Unresolvable:
            return f"$ref {_short(repr(ref))} does not resolve inside the schema"
    return None


def _registry() -> Registry[Any]:
    """An empty registry: a ``$ref`` resolves inside its schema or not at all. jsonschema's
    default registry fetches a remote ``$ref`` with urllib: a request to any host a client
    names, made while the event loop waits."""
    from referencing import Registry

    return Registry()


def format_instruction(fmt: JsonFormat) -> str:
    """What the system prompt tells the model about the answer's format."""
    if fmt.kind == "json_object":
        return (
            "Answer with only one valid JSON object: no text before or after it and no "
            "Markdown code fences."
        )
    lines = [
        "Answer with only one JSON value that is valid against the JSON Schema below: no "
        "text before or after it and no Markdown code fences.",
    ]
    if fmt.name:
        lines.append(f"Schema name: {fmt.name}")
    if fmt.description:
        lines.append(f"What the answer is for: {fmt.description}")
    lines.append(orjson.dumps(fmt.schema).decode())
    return "\n".join(lines)


# ---------------------------------------------------------------- answer side


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# NaN and Infinity are not JSON: a client's parser would refuse them.
_DECODER: Final = json.JSONDecoder(parse_constant=_no_constants)


def json_candidates(text: str) -> Iterator[tuple[str, Any]]:
    """JSON values in a model's answer with their exact text, the likeliest first.

    The whole text, then the body of each Markdown code fence, then each value that starts
    at a ``{`` or ``[`` in the prose (at most :data:`MAX_JSON_STARTS` attempts).
    """
    for piece in (text, *(match.group(1) for match in _FENCE.finditer(text))):
        found = _parse(piece.strip())
        if found is not None:
            yield found
    position = attempts = 0
    while attempts < MAX_JSON_STARTS:
        starts = [at for at in (text.find("{", position), text.find("[", position)) if at >= 0]
        if not starts:
            return
        start = min(starts)
        attempts += 1
        try:
            value, end = _DECODER.raw_decode(text, start)
        except ValueError:
            position = start + 1
            continue
        yield text[start:end], value
        position = end


def _parse(text: str) -> tuple[str, Any] | None:
    try:
        return text, _DECODER.decode(text)
    except ValueError:
        return None


def check_answer(fmt: JsonFormat, text: str) -> str:
    """The JSON text in ``text`` that satisfies ``fmt``; raises OutputFormatMismatch.

    The first candidate (see :func:`json_candidates`) that matches wins; the error
    describes why the first JSON value found did not.
    """
    validator = _validator(_schema_key(fmt.schema)) if fmt.schema is not None else None
    problem: str | None = None
    for raw, value in json_candidates(text):
        if validator is None:
            if isinstance(value, dict):
                return raw
            problem = "not an object"
            continue
        error = _first_error(validator, value)
        if error is None:
            return raw
        problem = problem or describe_error(error)
    log.debug("answer does not match the output format: %r", text[:2000])
    if problem is None:
        raise OutputFormatMismatch(
            "the model's answer is not JSON, though the request asked for a JSON answer"
        )
    if validator is None:
        raise OutputFormatMismatch("the model's answer is JSON but not the JSON object asked for")
    raise OutputFormatMismatch(
        f"the model's answer does not match the requested JSON schema: {problem}"
    )


def _first_error(validator: Validator, value: Any) -> ValidationError | None:
    from jsonschema.exceptions import best_match
    from referencing.exceptions import Unresolvable

    try:
        error: ValidationError | None = best_match(validator.iter_errors(value))
    except Unresolvable as exc:
        raise InvalidRequest(f"the output format's schema has an unresolvable $ref: {exc}") from exc
    return error


def describe_error(error: ValidationError) -> str:
    """Where the value fails and which rule of the schema it breaks.

    Built from the schema, not from the value: the message is also logged, and the value is
    the model's output (a body), which stays out of logs above DEBUG.
    """
    path = error.json_path
    rule = str(error.validator)
    expected = error.validator_value
    if rule == "required" and isinstance(error.instance, dict) and isinstance(expected, list):
        missing = [name for name in expected if name not in error.instance]
        return f"{path}: missing required property {', '.join(map(repr, missing))}"
    if rule == "additionalProperties" and expected is False:
        return f"{path}: has properties the schema does not allow"
    if isinstance(expected, dict | list):
        return f"{path}: does not satisfy the schema's {rule!r} rule"
    return f"{path}: does not satisfy the schema's {rule!r} rule ({_short(repr(expected))})"


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _schema_key(schema: Any) -> bytes:
    return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)


@functools.lru_cache(maxsize=64)
def _validator(key: bytes) -> Validator:
    """A checked validator for the schema serialised as ``key`` (clients repeat schemas)."""
    from jsonschema.validators import validator_for

    schema = orjson.loads(key)
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, registry=_registry())


# ---------------------------------------------------------------- the assembler


class FormattedAssembler(StreamAssembler):
    """A :class:`StreamAssembler` for a request with an output format: text is held back.

    Text before a tool call goes out (unchecked) just before the call: it is not the answer.
    At the end, the text of an answer that ended normally (``end_turn``) goes out as one
    checked, clean JSON delta, or :meth:`finish` raises
    :class:`~kirogate.errors.OutputFormatMismatch`. After any other stop (``max_tokens``, a
    stop sequence, a tool call, a full context) the text goes out as the model wrote it: the
    stop reason tells the client why it may not match.
    """

    __slots__ = ("_format", "_held")
    holds_text = True

    def __init__(self, output_format: JsonFormat, **options: Any) -> None:
        super().__init__(**options)
        self._format = output_format
        self._held: list[str] = []

    def text_passes(self, content: str) -> bool:
        return False  # every chunk goes through feed(), which holds its text

    def feed(self, event: KiroEvent) -> list[OutEvent]:
        out = super().feed(event)
        return self._hold(out) if out else out

    def finish(self) -> list[OutEvent]:
        *events, finish = super().finish()
        assert type(finish) is Finish
        out = self._hold(events)
        text = "".join(self._held)
        self._held = []
        if finish.stop_reason == "end_turn":
            text = check_answer(self._format, text)
        if text:
            out.append(TextDelta(text))
        out.append(finish)
        return out

    def _hold(self, events: list[OutEvent]) -> list[OutEvent]:
        held = self._held
        out: list[OutEvent] = []
        for event in events:
            if type(event) is TextDelta:
                held.append(event.text)
                continue
            if type(event) is ToolCallStart and held:
                out.append(TextDelta("".join(held)))
                held.clear()
            out.append(event)
        return out


__all__ = [
    "FormattedAssembler",
    "check_answer",
    "format_instruction",
    "json_candidates",
    "json_format",
]
