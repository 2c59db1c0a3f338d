"""The Anthropic Messages request body as pydantic models, parsed once at the edge.

:func:`parse_messages_request` validates a ``POST /v1/messages`` body and turns pydantic's
errors into one :class:`~kirogate.errors.InvalidRequest` whose ``param`` names the field the
way a client wrote it (``messages[2].content[0].source.media_type``). Unknown top-level
fields are ignored; a bare string stands for one text block wherever content may be a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
)

from kirogate.convert.limits import MAX_JSON_DEPTH, deep_path
from kirogate.errors import InvalidRequest

# Far past what a kept value may nest (MAX_JSON_DEPTH, checked where each is read, naming
# it), and well under the ~1,000 levels where repr() fails inside pydantic.
MAX_BODY_DEPTH = 6 * MAX_JSON_DEPTH


def _text_list(value: Any) -> Any:
    """A bare string stands for one text block (message, tool_result and system content)."""
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    return [] if value is None else value


def _message_content(value: Any) -> Any:
    """A message's content: a string or a list of blocks; null is refused, as Anthropic does."""
    if value is None:
        raise ValueError("must be a string or a list of content blocks, not null")
    return _text_list(value)


# Anthropic takes integers only where it asks for one: not true, not "100" (pydantic's lax
# mode would take both).
Int = Annotated[int, Strict()]


# An empty list made fresh for each parsed value: a ``[]`` default is deep-copied by pydantic
# on every use, which cost as much as the rest of a short request's validation. The schema
# still shows the ``[]`` default.
_EMPTY: Any = Field(default_factory=list, json_schema_extra={"default": []})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Cacheable(_Model):
    # A prompt-cache breakpoint; any value is accepted (only an estimate reads it).
    cache_control: Any = None


class TextBlock(_Cacheable):
    type: Literal["text"]
    text: str


class Base64Source(_Model):
    type: Literal["base64"]
    media_type: str
    data: str


class UrlSource(_Model):
    type: Literal["url"]
    url: str = ""


class FileSource(_Model):
    type: Literal["file"]
    file_id: str = ""


class TextSource(_Model):
    type: Literal["text"]
    media_type: str = "text/plain"
    data: str


class ContentSource(_Model):
    type: Literal["content"]
    content: Annotated[list[dict[str, Any]], BeforeValidator(_text_list)]


ImageSource = Annotated[Base64Source | UrlSource | FileSource, Field(discriminator="type")]
DocumentSource = Annotated[
    Base64Source | UrlSource | FileSource | TextSource | ContentSource,
    Field(discriminator="type"),
]


class ImageBlock(_Cacheable):
    type: Literal["image"]
    source: ImageSource


class DocumentBlock(_Cacheable):
    type: Literal["document"]
    source: DocumentSource
    title: str | None = None


class SearchResultBlock(_Cacheable):
    type: Literal["search_result"]
    source: str = ""
    title: str = ""
    content: list[TextBlock] = _EMPTY


ResultBlock = Annotated[
    TextBlock | ImageBlock | DocumentBlock | SearchResultBlock, Field(discriminator="type")
]


class ToolUseBlock(_Cacheable):
    type: Literal["tool_use"]
    id: str = ""
    name: str
    input: Any = None


class ToolResultBlock(_Cacheable):
    type: Literal["tool_result"]
    tool_use_id: str
    content: Annotated[list[ResultBlock], BeforeValidator(_text_list)] = _EMPTY
    is_error: bool | None = None


class ThinkingBlock(_Model):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(_Model):
    type: Literal["redacted_thinking"]
    data: str = ""


class ServerToolUseBlock(_Cacheable):
    type: Literal["server_tool_use"]


class WebSearchToolResultBlock(_Cacheable):
    type: Literal["web_search_tool_result"]
    content: Any = None


ContentBlock = Annotated[
    TextBlock
    | ImageBlock
    | DocumentBlock
    | SearchResultBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
    | ServerToolUseBlock
    | WebSearchToolResultBlock,
    Field(discriminator="type"),
]


class Message(_Model):
    # "system": a mid-conversation system message (Anthropic's beta; text blocks only).
    role: Literal["user", "assistant", "system"]
    content: Annotated[list[ContentBlock], BeforeValidator(_message_content)]


class SystemBlock(_Cacheable):
    type: Literal["text"] = "text"
    text: str


class Tool(_Cacheable):
    name: str = ""
    type: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    max_uses: Int | None = None  # web_search server tools


class ToolChoiceBody(_Model):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None


class ThinkingBody(_Model):
    type: Literal["enabled", "adaptive", "disabled"]
    budget_tokens: Int | None = None


class OutputConfig(_Model):
    effort: str | None = None
    format: dict[str, Any] | None = None  # {"type": "json_schema", "schema": {...}}


class Metadata(_Model):
    user_id: str | None = None


class MessagesRequest(_Model):
    """The fields of a Messages request the gateway reads; sampling fields are accepted."""

    model: str
    messages: list[Message]
    system: Annotated[list[SystemBlock], BeforeValidator(_text_list)] = _EMPTY
    max_tokens: Int | None = None
    stop_sequences: list[str] | None = None
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: Int | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoiceBody | None = None
    thinking: ThinkingBody | None = None
    output_config: OutputConfig | None = None
    output_format: dict[str, Any] | None = None  # the structured-outputs beta's older place
    metadata: Metadata | None = None
    cache_control: Any = None  # automatic caching: a breakpoint after the last message


# ---------------------------------------------------------------- errors

_BLOCK_TAGS = frozenset(
    {
        "text",
        "image",
        "document",
        "search_result",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "server_tool_use",
        "web_search_tool_result",
    }
)
_SOURCE_TAGS = frozenset({"base64", "url", "file", "text", "content"})


def _param(loc: tuple[int | str, ...]) -> str:
    """``('messages', 2, 'content', 0, 'image', 'source', 'base64', 'data')`` to a path.

    pydantic puts the discriminator value of a tagged union into ``loc``; those are dropped.
    """
    parts: list[str] = []
    for index, item in enumerate(loc):
        previous = loc[index - 1] if index else None
        if isinstance(item, int):
            parts.append(f"[{item}]")
            continue
        is_block_tag = (
            isinstance(previous, int) and index >= 2 and loc[index - 2] == "content"
        ) and item in _BLOCK_TAGS
        if is_block_tag or (previous == "source" and item in _SOURCE_TAGS):
            continue
        parts.append(f".{item}" if parts else item)
    return "".join(parts)


def _invalid(exc: ValidationError, prefix: tuple[str, int] | None = None) -> InvalidRequest:
    """``prefix``: the list and start index of the items ``exc`` was raised for."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error["loc"])
    if prefix is not None and loc and isinstance(loc[0], int):
        field, start = prefix
        loc = (field, start + loc[0], *loc[1:])
    param = _param(loc)
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "union_tag_invalid":
        param = f"{param}.type"
        message = f"{ctx.get('tag')!r} is not a supported type; expected one of {ctx.get('expected_tags')}"
    elif kind == "union_tag_not_found":
        param = f"{param}.type"
        message = "field required"
    elif kind == "missing":
        message = "field required"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    return InvalidRequest(f"{param}: {message}" if param else message, param=param or None)


def parse_messages_request(body: Mapping[str, Any]) -> MessagesRequest:
    """Validate a Messages body; errors are InvalidRequest naming the field."""
    if type(body) is not dict and not isinstance(body, Mapping):
        raise InvalidRequest("the request body must be a JSON object")
    # pydantic prints a traceback to stderr when repr() of a value this deep fails; no field
    # it keeps may nest this deep anyway (kept values stop at MAX_JSON_DEPTH).
    too_deep = deep_path(body, MAX_BODY_DEPTH)
    if too_deep is not None:
        raise InvalidRequest(
            f"{too_deep}: nested more than {MAX_BODY_DEPTH} levels deep", param=too_deep
        )
    messages = body.get("messages")
    if isinstance(messages, list) and len(messages) > _SLICE:
        return _parse_in_slices(body, messages)
    try:
        return MessagesRequest.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from None


# A long conversation is validated a slice of messages at a time: one validation call
# holds the interpreter throughout (~0.3 s for 20,000 messages), so a worker thread could
# not let the event loop run meanwhile; a slice takes ~3 ms.
_SLICE = 256
_MESSAGES: TypeAdapter[list[Message]] = TypeAdapter(list[Message])


def _parse_in_slices(body: Mapping[str, Any], messages: list[Any]) -> MessagesRequest:
    try:
        head = MessagesRequest.model_validate({**body, "messages": []})
    except ValidationError as exc:
        raise _invalid(exc) from None
    parsed: list[Message] = []
    for start in range(0, len(messages), _SLICE):
        try:
            parsed += _MESSAGES.validate_python(messages[start : start + _SLICE])
        except ValidationError as exc:
            raise _invalid(exc, ("messages", start)) from None
    return head.model_copy(update={"messages": parsed})
