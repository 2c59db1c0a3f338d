"""Field readers and conversions shared by the OpenAI dialects (:mod:`.openai_in`, :mod:`.responses_in`).

Client bodies are walked as plain JSON so that every error is an
:class:`~kirogate.errors.InvalidRequest` whose ``param`` names the field exactly, e.g.
``messages[1].content[0].image_url.url``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kirogate.convert.ir import (
    Document,
    Image,
    Part,
    Role,
    ThinkingConfig,
    ToolChoice,
    ToolDef,
    Turn,
)
from kirogate.errors import InvalidRequest

IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# reasoning effort -> (thinking budget in tokens, adaptive effort). "high" is RS's default
# budget for -thinking models; the top end stays within AC's clamp and the 64k output cap.
EFFORT_BUDGETS: dict[str, tuple[int, str]] = {
    "minimal": (1024, "low"),
    "low": (4096, "low"),
    "medium": (10240, "medium"),
    "high": (20000, "high"),
    "xhigh": (24576, "max"),
    "max": (32000, "max"),
}


# ---------------------------------------------------------------- field readers


def expect_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{where}: must be an object", param=where)
    return value


def expect_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidRequest(f"{where}: must be an array", param=where)
    return value


def require_str(obj: Mapping[str, Any], key: str, where: str, *, empty: bool = False) -> str:
    """``obj[key]`` as a string; missing, non-string or (unless ``empty``) blank is a 400."""
    path = f"{where}.{key}" if where else key
    value = obj.get(key)
    if value is None:
        raise InvalidRequest(f"{path}: field required", param=path)
    if not isinstance(value, str):
        raise InvalidRequest(f"{path}: must be a string", param=path)
    if not empty and not value.strip():
        raise InvalidRequest(f"{path}: must not be empty", param=path)
    return value


def optional_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    path = f"{where}.{key}" if where else key
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{path}: must be a string", param=path)
    return value


def optional_int(obj: Mapping[str, Any], key: str, *, minimum: int = 1) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{key}: must be an integer", param=key)
    if value < minimum:
        raise InvalidRequest(f"{key}: must be at least {minimum}", param=key)
    return value


def optional_bool(obj: Mapping[str, Any], key: str, where: str = "") -> bool:
    path = f"{where}.{key}" if where else key
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"{path}: must be a boolean", param=path)
    return value


# ---------------------------------------------------------------- shared helpers


def append_turn(turns: list[Turn], role: Role, parts: Sequence[Part]) -> None:
    """Add ``parts`` as a ``role`` turn, merged into the last turn when it has the same role."""
    if turns and turns[-1].role == role:
        turns[-1] = Turn(role, turns[-1].parts + tuple(parts))
    else:
        turns.append(Turn(role, tuple(parts)))


def function_parameters(value: Any, where: str) -> dict[str, Any]:
    """A function tool's JSON schema; a missing one means "no arguments"."""
    if value is None:
        return {"type": "object", "properties": {}}
    return dict(expect_mapping(value, where))


def parse_arguments(raw: str) -> dict[str, Any]:
    """Tool-call arguments (a JSON string) as an object; see the module notes for non-objects."""
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"value": raw}
    return value if isinstance(value, dict) else {"value": value}


def image_from_url(url: str, where: str) -> Image:
    """An ``image_url`` that must be a base64 ``data:`` URL of a supported image type."""
    media_type, data = _split_data_url(url, where, what="image")
    media_type = media_type.replace("image/jpg", "image/jpeg")
    if media_type not in IMAGE_MEDIA_TYPES:
        raise InvalidRequest(
            f"{where}: image type {media_type or 'unknown'!r} is not supported; "
            f"use one of {', '.join(IMAGE_MEDIA_TYPES)}",
            param=where,
        )
    try:
        binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        raise InvalidRequest(f"{where}: image data is not valid base64", param=where) from None
    return Image(media_type, data)


def document_from_file(file_data: str, filename: str | None, where: str) -> Document:
    """Inline file data (a ``data:`` URL or bare base64) as a text document."""
    if file_data.startswith("data:"):
        media_type, data = _split_data_url(file_data, where, what="file")
    else:
        media_type, data = _guess_media_type(filename), file_data.strip()
    if not media_type.startswith("text/") and media_type not in _TEXT_LIKE:
        raise InvalidRequest(
            f"{where}: {media_type or 'unknown'} files are not supported by the upstream; "
            "send the text of the file instead",
            param=where,
        )
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(f"{where}: is not base64 of UTF-8 text", param=where) from None
    return Document("text/plain", text, filename)


_TEXT_LIKE = frozenset({"application/json", "application/xml", "application/x-yaml"})
_TEXT_SUFFIXES = (".txt", ".md", ".csv", ".json", ".xml", ".yaml", ".yml", ".log", ".py")


def _guess_media_type(filename: str | None) -> str:
    name = (filename or "").lower()
    if name.endswith(".pdf"):
        return "application/pdf"
    return "text/plain" if name.endswith(_TEXT_SUFFIXES) else ""


def _split_data_url(url: str, where: str, *, what: str) -> tuple[str, str]:
    if url.startswith(("http://", "https://")):
        raise InvalidRequest(
            f"{where}: {what} URLs are not supported because the upstream cannot fetch them; "
            f"send the {what} inline as a base64 data: URL",
            param=where,
        )
    head, comma, data = url.partition(",")
    if not head.startswith("data:") or not comma or not head.endswith(";base64"):
        raise InvalidRequest(
            f"{where}: must be a base64 data: URL (data:<media type>;base64,<data>)",
            param=where,
        )
    data = data.strip()
    if not data:
        raise InvalidRequest(f"{where}: data must not be empty", param=where)
    media_type = head[len("data:") : -len(";base64")].split(";")[0]
    return media_type.strip().lower(), data


def thinking_for_effort(effort: Any, where: str) -> ThinkingConfig | None:
    """``reasoning_effort`` as a thinking config; ``none`` (or null) means no thinking."""
    if effort is None or effort == "none":
        return None
    if not isinstance(effort, str) or effort not in EFFORT_BUDGETS:
        raise InvalidRequest(
            f"{where}: must be one of none, {', '.join(EFFORT_BUDGETS)}", param=where
        )
    budget, label = EFFORT_BUDGETS[effort]
    return ThinkingConfig("enabled", budget_tokens=budget, effort=label)


def custom_tool_schema(fmt: Any, where: str) -> dict[str, Any]:
    """The JSON schema that lets the model call a freeform (custom) tool: one string ``input``.

    Takes the Responses form ``{"type":"grammar","syntax","definition"}`` and the Chat form
    ``{"type":"grammar","grammar":{"syntax","definition"}}``; the grammar goes into the
    description since the upstream cannot constrain decoding.
    """
    description = "The raw input for this tool, as free text (not JSON)."
    if fmt is not None:
        fmt = expect_mapping(fmt, where)
        if fmt.get("type") == "grammar":
            grammar = fmt.get("grammar", fmt)
            grammar = expect_mapping(grammar, f"{where}.grammar" if "grammar" in fmt else where)
            syntax = grammar.get("syntax") or "lark"
            definition = grammar.get("definition") or ""
            description = (
                "The raw input for this tool, as free text (not JSON). It must match this "
                f"{syntax} grammar:\n{definition}"
            )
        elif fmt.get("type") not in (None, "text"):
            raise InvalidRequest(
                f"{where}.type: must be 'text' or 'grammar'", param=f"{where}.type"
            )
    return {
        "type": "object",
        "properties": {"input": {"type": "string", "description": description}},
        "required": ["input"],
    }


def json_format_instruction(
    kind: Any, schema_spec: Mapping[str, Any], *, type_where: str, spec_where: str
) -> str:
    """A system-prompt instruction emulating a JSON response format ("" for plain text)."""
    if kind in (None, "text"):
        return ""
    if kind == "json_object":
        return (
            "Respond with a single valid JSON object and nothing else: "
            "no prose and no Markdown code fences."
        )
    if kind != "json_schema":
        raise InvalidRequest(
            f"{type_where}: must be one of text, json_object, json_schema", param=type_where
        )
    schema = schema_spec.get("schema")
    if schema is None:
        where = f"{spec_where}.schema"
        raise InvalidRequest(f"{where}: field required for json_schema", param=where)
    name = schema_spec.get("name") or "response"
    about = schema_spec.get("description")
    lines = [
        "Respond with a single JSON value and nothing else (no prose, no Markdown code "
        f"fences). It must validate against this JSON Schema named {name!r}:",
        orjson.dumps(schema).decode(),
    ]
    if about:
        lines.insert(1, f"Purpose: {about}")
    return "\n".join(lines)


def session_id_from(body: Mapping[str, Any]) -> str | None:
    """``metadata.session_id``, else ``prompt_cache_key`` (Codex's conversation id), else ``user``."""
    metadata = body.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("session_id"), str):
        return str(metadata["session_id"])
    for key in ("prompt_cache_key", "user"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def join_system(*texts: str) -> str:
    return "\n\n".join(text for text in texts if text)


def named_choice(name: str, tools: tuple[ToolDef, ...], where: str) -> ToolChoice:
    if not any(tool.name == name for tool in tools):
        raise InvalidRequest(f"{where}: no tool named {name!r} is defined", param=where)
    return ToolChoice("tool", name)
