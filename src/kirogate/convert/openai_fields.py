"""Field readers and conversions shared by the OpenAI dialects (:mod:`.openai_in`, :mod:`.responses_in`).

Client bodies are walked as plain JSON so that every error is an
:class:`~kirogate.errors.InvalidRequest` whose ``param`` names the field exactly, e.g.
``messages[1].content[0].image_url.url``. Errors found later, while the Kiro request is
built, name IR turns instead; :class:`TurnLog` records where each turn came from and
:func:`relocate_error` turns such an error back into the client's own field.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kirogate.convert.images import MAX_IMAGE_BYTES, MAX_IMAGE_SIDE_MULTI, fit_image
from kirogate.convert.ir import (
    Conversation,
    Document,
    Image,
    Part,
    Role,
    ThinkingConfig,
    ToolChoice,
    ToolDef,
    ToolResult,
    Turn,
)
from kirogate.convert.limits import check_base64, check_depth
from kirogate.convert.thinking import EFFORT_BUDGETS
from kirogate.errors import InvalidRequest

IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


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


# ---------------------------------------------------------------- where turns came from

# Conversation.metadata: the Chat request offered legacy ``functions`` and no ``tools``, so
# the answer uses ``function_call`` (see :mod:`.openai_out`).
LEGACY_FUNCTIONS = "legacy_functions"
SOURCES_KEY = "turn_sources"  # Conversation.metadata: one TurnSource per turn
FIELD_KEY = "source_field"  # Conversation.metadata: the body field holding the turns
_TURN_PARAM = re.compile(r"messages\[(\d+)\](.*)", re.DOTALL)
_SIZE_LIMIT = re.compile(r"brought under (\d+) bytes")


@dataclass(frozen=True, slots=True)
class TurnSource:
    """Where one IR turn came from in the client's body.

    ``items`` are the paths of the messages (or input items) merged into the turn, e.g.
    ``("messages[2]", "messages[3]")``; ``images`` the path of each image the turn carries,
    in the order the Kiro builder meets them (the turn's parts in order, a tool result's
    images where the result is).
    """

    items: tuple[str, ...] = ()
    images: tuple[str, ...] = ()


class TurnLog:
    """IR turns built one client message at a time, same-role neighbours merged, with sources."""

    def __init__(self, turns: Sequence[Turn] = (), sources: Sequence[TurnSource] = ()) -> None:
        self.turns = list(turns)
        self.sources = list(sources)

    def add(
        self, role: Role, parts: Sequence[Part], where: str, images: Sequence[str] = ()
    ) -> None:
        if self.turns and self.turns[-1].role == role:
            last = self.sources[-1]
            self.turns[-1] = Turn(role, self.turns[-1].parts + tuple(parts))
            self.sources[-1] = TurnSource((*last.items, where), (*last.images, *images))
        else:
            self.turns.append(Turn(role, tuple(parts)))
            self.sources.append(TurnSource((where,), tuple(images)))

    def metadata(self, field: str) -> dict[str, Any]:
        """The Conversation metadata :func:`relocate_error` reads."""
        return {SOURCES_KEY: tuple(self.sources), FIELD_KEY: field}


def turn_images(turn: Turn) -> list[Image]:
    """The images of ``turn`` in the order the Kiro builder meets them."""
    images: list[Image] = []
    for part in turn.parts:
        if isinstance(part, Image):
            images.append(part)
        elif isinstance(part, ToolResult):
            images.extend(part.images)
    return images


def relocate_error(exc: InvalidRequest, conv: Conversation) -> InvalidRequest:
    """``exc``, raised while building the upstream request for ``conv``, naming the client's field.

    The builder names IR turns (``messages[k].content``); once messages were merged, system
    messages dropped or older turns compressed, ``k`` is not the client's index. Errors
    with any other ``param``, or without recorded sources, come back unchanged.
    """
    param = exc.param
    if param is None:
        return exc
    field = conv.metadata.get(FIELD_KEY, "messages")
    target: str | None = field if param == "messages" else None
    match = _TURN_PARAM.fullmatch(param)
    sources = conv.metadata.get(SOURCES_KEY)
    if match is not None and isinstance(sources, tuple) and len(sources) == len(conv.turns):
        index, rest = int(match[1]), match[2]
        if index < len(sources):
            target = _locate(conv.turns[index], sources[index], rest, exc.message) or field
    if target is None or target == param:
        return exc
    message = exc.message
    if message.startswith(param):
        message = target + message[len(param) :]
    return InvalidRequest(message, param=target)


def _locate(turn: Turn, source: TurnSource, rest: str, message: str) -> str | None:
    if rest.startswith(".content") and source.images:
        images = turn_images(turn)
        if len(images) == len(source.images):
            return source.images[_failing_image(images, message)]
    if not source.items:
        return None
    item = source.items[0]
    return item + rest if item.endswith("]") else item


def _failing_image(images: list[Image], message: str) -> int:
    """Which of a turn's images the builder rejected; only called on the error path."""
    if len(images) == 1:
        return 0
    limit = _SIZE_LIMIT.search(message)
    max_bytes = int(limit[1]) if limit else MAX_IMAGE_BYTES
    for position, image in enumerate(images):
        try:
            fit_image(image, param="", max_bytes=max_bytes, max_side=MAX_IMAGE_SIDE_MULTI)
        except InvalidRequest:
            return position
    return 0


def function_parameters(value: Any, where: str) -> dict[str, Any]:
    """A function tool's JSON schema; a missing one means "no arguments"."""
    if value is None:
        return {"type": "object", "properties": {}}
    schema = dict(expect_mapping(value, where))
    check_depth(schema, where)
    return schema


def parse_arguments(raw: str, where: str = "arguments") -> dict[str, Any]:
    """Tool-call arguments (a JSON string) as an object; see the module notes for non-objects.

    ``where`` names the arguments in the error for a value nested too deep."""
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"value": raw}
    check_depth(value, where)
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
    check_base64(data, where, "image data is not valid base64")
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
    except ValueError:  # binascii.Error, UnicodeDecodeError, or a non-ASCII character
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


def custom_tool_input(data: Mapping[str, Any] | None) -> str:
    """The raw string of a freeform tool call, unwrapped from the model's ``{"input": ...}``."""
    if not data:
        return ""
    value = data.get("input")
    if isinstance(value, str):
        return value
    if len(data) == 1:
        (only,) = data.values()
        if isinstance(only, str):
            return only  # the model named the property differently
    return orjson.dumps(data).decode()


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


def prompt_cache_key(body: Mapping[str, Any]) -> str | None:
    """``prompt_cache_key``, the key prompt-cache estimates group requests by; others None."""
    value = body.get("prompt_cache_key")
    return value if isinstance(value, str) and value else None


def join_system(*texts: str) -> str:
    return "\n\n".join(text for text in texts if text)


def named_choice(name: str, tools: tuple[ToolDef, ...], where: str) -> ToolChoice:
    if not any(tool.name == name for tool in tools):
        raise InvalidRequest(f"{where}: no tool named {name!r} is defined", param=where)
    return ToolChoice("tool", name)
