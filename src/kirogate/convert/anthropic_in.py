"""Anthropic ``POST /v1/messages`` (and ``/count_tokens``) bodies to a :class:`Conversation`.

The body is parsed once with pydantic (:mod:`.anthropic_request`), then walked into the
IR. Every error is an
:class:`~kirogate.errors.InvalidRequest` whose ``param`` names the field, e.g.
``messages[2].content[0].source.media_type``; pydantic's own error list never leaves here.
One IR turn is produced per user or assistant message (even an empty one), so the IR turn
index is the client's message index and later stages can name ``messages[i]`` too. System
messages inside ``messages`` follow :mod:`.instructions`: a leading one joins the system
prompt (and has no turn), a later one is a user turn holding an ``Instruction``. When turns
and messages do not line up one to one, ``metadata`` records each turn's message
(:class:`~kirogate.convert.openai_fields.TurnSource`) so errors still name the client's
message.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, cast

import orjson

from kirogate.convert.anthropic_request import (
    Base64Source,
    ContentSource,
    DocumentBlock,
    FileSource,
    ImageBlock,
    Message,
    MessagesRequest,
    RedactedThinkingBlock,
    SearchResultBlock,
    ServerToolUseBlock,
    TextBlock,
    TextSource,
    ThinkingBlock,
    Tool,
    ToolChoiceBody,
    ToolResultBlock,
    ToolUseBlock,
    UrlSource,
    WebSearchToolResultBlock,
    parse_messages_request,
)
from kirogate.convert.instructions import place_system_text
from kirogate.convert.ir import (
    CachePoint,
    Conversation,
    Document,
    Image,
    JsonFormat,
    Part,
    Text,
    Thinking,
    ThinkingConfig,
    ToolCall,
    ToolChoice,
    ToolDef,
    ToolResult,
    Turn,
)
from kirogate.convert.json_format import json_format
from kirogate.convert.limits import check_base64, check_depth
from kirogate.convert.openai_fields import FIELD_KEY, SOURCES_KEY, TurnSource, turn_images
from kirogate.convert.thinking import ANTHROPIC_EFFORTS, EFFORT_BUDGETS
from kirogate.errors import InvalidRequest

IdFactory: TypeAlias = Callable[[], str]

CACHE_TTL = 300.0  # Anthropic's default cache lifetime ("5m"), refreshed on every hit
LONG_CACHE_TTL = 3600.0  # cache_control.ttl "1h"

IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def _new_id() -> str:
    return uuid.uuid4().hex


# ---------------------------------------------------------------- to IR


def messages_to_ir(body: Mapping[str, Any], *, new_id: IdFactory = _new_id) -> Conversation:
    """A ``POST /v1/messages`` body as a Conversation; ``max_tokens`` is required."""
    request = parse_messages_request(body)
    if request.max_tokens is None:
        raise InvalidRequest("max_tokens: field required", param="max_tokens")
    if request.max_tokens < 1:
        raise InvalidRequest("max_tokens: must be at least 1", param="max_tokens")
    return request_to_ir(request, new_id=new_id)


def count_tokens_to_ir(body: Mapping[str, Any], *, new_id: IdFactory = _new_id) -> Conversation:
    """A ``POST /v1/messages/count_tokens`` body (no ``max_tokens``) as a Conversation."""
    return request_to_ir(parse_messages_request(body), new_id=new_id)


def request_to_ir(request: MessagesRequest, *, new_id: IdFactory = _new_id) -> Conversation:
    """A parsed Messages request as a Conversation."""
    if not request.model.strip():
        raise InvalidRequest("model: must not be empty", param="model")
    if not request.messages:
        raise InvalidRequest("messages: at least one message is required", param="messages")
    system = ["\n".join([block.text for block in request.system])]
    turns: list[Turn] = []
    origins: list[int] = []  # the message index of each turn
    for index, message in enumerate(request.messages):
        where = f"messages[{index}]"
        if message.role == "system":
            text = _system_text(message, where)
            instruction = place_system_text(text, started=bool(turns), system=system)
            if not turns:
                continue
            turns.append(Turn("user", (instruction,) if instruction else ()))
        else:
            turns.append(Turn(message.role, _parts(message, where, new_id)))
        origins.append(index)
    tools = (
        tuple(_tool(tool, f"tools[{index}]") for index, tool in enumerate(request.tools))
        if request.tools
        else ()
    )
    if not turns:
        raise InvalidRequest(
            "messages: at least one user or assistant message is required", param="messages"
        )
    user_id = request.metadata.user_id if request.metadata else None
    metadata: dict[str, Any] = {"user_id": user_id} if user_id else {}
    if len(turns) != len(request.messages):
        metadata.update(_sources(turns, origins))
    return Conversation(
        model=request.model,
        turns=tuple(turns),
        system="\n\n".join(text for text in system if text),
        tools=tools,
        tool_choice=_tool_choice(request.tool_choice),
        thinking=_thinking(request),
        max_tokens=request.max_tokens,
        stop_sequences=tuple(request.stop_sequences or ()),
        stream=request.stream,
        session_id=session_id_from_user_id(user_id) if user_id else None,
        metadata=metadata,
        output_format=_output_format(request),
        cache_points=_cache_points(request, origins),
    )


def _cache_points(request: MessagesRequest, origins: list[int]) -> tuple[CachePoint, ...]:
    """The ``cache_control`` breakpoints as prompt segment counts (see :class:`CachePoint`).

    A breakpoint anywhere in a message ends its prefix after that message's turn; one in a
    leading system message or a system block, after the system prompt.
    """
    ttls: dict[int, float] = {}
    tools = request.tools or ()
    for index, tool in enumerate(tools):
        if tool.cache_control is not None:
            _mark(ttls, index + 1, tool.cache_control)
    system_end = len(tools) + 1
    for system_block in request.system:
        if system_block.cache_control is not None:
            _mark(ttls, system_end, system_block.cache_control)
    turn_of: dict[int, int] | None = None  # made at the first breakpoint in a message
    for index, message in enumerate(request.messages):
        for block in message.content:
            control = getattr(block, "cache_control", None)  # thinking blocks have none
            if control is not None:
                if turn_of is None:
                    turn_of = {message: turn for turn, message in enumerate(origins)}
                turn = turn_of.get(index)
                _mark(ttls, system_end if turn is None else system_end + turn + 1, control)
    if request.cache_control is not None:
        _mark(ttls, system_end + len(origins), request.cache_control)
    if not ttls:
        return ()
    return tuple(CachePoint(end, ttl) for end, ttl in sorted(ttls.items()))


def _mark(ttls: dict[int, float], end: int, control: Any) -> None:
    """A breakpoint ending at segment ``end``; the longest lifetime there wins."""
    ttl = (
        LONG_CACHE_TTL if isinstance(control, Mapping) and control.get("ttl") == "1h" else CACHE_TTL
    )
    ttls[end] = max(ttls.get(end, 0.0), ttl)


def _system_text(message: Message, where: str) -> str:
    """The text of a system message inside ``messages``; it may hold only text blocks."""
    texts: list[str] = []
    for index, block in enumerate(message.content):
        if not isinstance(block, TextBlock):
            param = f"{where}.content[{index}].type"
            raise InvalidRequest(
                f"{param}: system messages may hold only text blocks, not {block.type!r}",
                param=param,
            )
        texts.append(block.text)
    return "\n".join(texts)


def _sources(turns: list[Turn], origins: list[int]) -> dict[str, Any]:
    """Conversation metadata naming each turn's message, for ``relocate_error``."""
    sources = tuple(
        TurnSource(
            (f"messages[{index}]",), (f"messages[{index}].content",) * len(turn_images(turn))
        )
        for turn, index in zip(turns, origins, strict=True)
    )
    return {SOURCES_KEY: sources, FIELD_KEY: "messages"}


def _parts(message: Message, path: str, new_id: IdFactory) -> tuple[Part, ...]:
    parts: list[Part] = []
    for index, block in enumerate(message.content):
        if type(block) is TextBlock:  # the usual block, which needs no path for errors
            parts.append(Text(block.text))
            continue
        where = f"{path}.content[{index}]"
        match block:
            case ImageBlock(source=source):
                parts.append(_image(source, f"{where}.source"))
            case DocumentBlock():
                parts.append(_document(block, where))
            case SearchResultBlock():
                parts.append(Text(_search_result_text(block)))
            case ToolUseBlock(id=tool_use_id, name=name, input=tool_input):
                if message.role != "assistant":
                    raise InvalidRequest(
                        f"{where}: tool_use blocks belong in assistant messages", param=where
                    )
                tool_input = _tool_input(tool_input)
                check_depth(tool_input, f"{where}.input")
                parts.append(ToolCall(tool_use_id or f"toolu_{new_id()}", name, tool_input))
            case ToolResultBlock():
                if message.role != "user":
                    raise InvalidRequest(
                        f"{where}: tool_result blocks belong in user messages", param=where
                    )
                parts.append(_tool_result(block, where))
            case ThinkingBlock(thinking=text, signature=signature):
                parts.append(Thinking(text, signature))
            case RedactedThinkingBlock(data=data):
                # Kept so the IR is faithful; the Kiro builder drops it (spec §3.2).
                parts.append(Thinking("", signature=data or None))
            case ServerToolUseBlock():
                pass  # the API layer runs web search itself; the call is not replayed
            case _:  # web_search_tool_result
                summary = _web_search_text(cast(WebSearchToolResultBlock, block).content)
                if summary:
                    parts.append(Text(summary))
    return tuple(parts)


def _tool_input(value: Any) -> dict[str, Any]:
    """Tool input as an object; upstream rejects anything else (AC/K2 sanitise the same way)."""
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            decoded = orjson.loads(value)  # the stdlib parser recurses past the stack
        except ValueError:
            return {"value": value}
        return decoded if isinstance(decoded, dict) else {"value": decoded}
    return {"value": value}


_DATA_URL = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)


def _image(source: Base64Source | UrlSource | FileSource, where: str) -> Image:
    match source:
        case UrlSource():
            raise InvalidRequest(
                f"{where}.type: image URLs are not supported by the upstream; "
                "send the image inline with source.type 'base64'",
                param=f"{where}.type",
            )
        case FileSource():
            raise InvalidRequest(
                f"{where}.type: Files API references are not supported; "
                "send the image inline with source.type 'base64'",
                param=f"{where}.type",
            )
        case _:
            media_type = source.media_type.strip().lower().replace("image/jpg", "image/jpeg")
            if media_type not in IMAGE_MEDIA_TYPES:
                raise InvalidRequest(
                    f"{where}.media_type: {source.media_type!r} is not supported; "
                    f"use one of {', '.join(IMAGE_MEDIA_TYPES)}",
                    param=f"{where}.media_type",
                )
            return Image(media_type, _base64(source.data, f"{where}.data"))


def _base64(data: str, where: str) -> str:
    """The payload of ``data`` (a ``data:`` prefix removed), checked to be base64."""
    data = _DATA_URL.sub("", data.strip())
    if not data:
        raise InvalidRequest(f"{where}: must not be empty", param=where)
    check_base64(data, where)
    return data


def _document(block: DocumentBlock, where: str) -> Document:
    source = block.source
    match source:
        case TextSource(data=data):
            return Document("text/plain", data, block.title)
        case ContentSource(content=content):
            texts = []
            for index, item in enumerate(content):
                if item.get("type") == "text":
                    text = item.get("text", "")
                    if not isinstance(text, str):
                        param = f"{where}.source.content[{index}].text"
                        raise InvalidRequest(f"{param}: must be a string", param=param)
                    texts.append(text)
            return Document("text/plain", "\n".join(texts), block.title)
        case Base64Source(media_type=media_type, data=data):
            return Document(
                media_type.strip().lower(), _base64(data, f"{where}.source.data"), block.title
            )
        case _:
            raise InvalidRequest(
                f"{where}.source.type: {source.type!r} document sources are not supported; "
                "send the document inline",
                param=f"{where}.source.type",
            )


def _search_result_text(block: SearchResultBlock) -> str:
    head = f"[{block.title}]({block.source})" if block.source else block.title
    return "\n".join([head, *(text.text for text in block.content)]).strip()


def _web_search_text(content: Any) -> str:
    """Server web-search results from an earlier turn, as text the model can still read."""
    if not isinstance(content, list):
        return ""
    lines = []
    for item in content:
        url = item.get("url") if isinstance(item, Mapping) else None
        if isinstance(url, str) and url:
            # Only strings are read: anything else would be formatted, however deep.
            title = item.get("title")
            lines.append(f"- {title if isinstance(title, str) and title else url}: {url}")
    return "Web search results:\n" + "\n".join(lines) if lines else ""


def _tool_result(block: ToolResultBlock, where: str) -> ToolResult:
    texts: list[str] = []
    images: list[Image] = []
    for index, item in enumerate(block.content):
        item_where = f"{where}.content[{index}]"
        match item:
            case TextBlock(text=text):
                texts.append(text)
            case ImageBlock(source=source):
                images.append(_image(source, f"{item_where}.source"))
            case SearchResultBlock():
                texts.append(_search_result_text(item))
            case _:
                document = _document(item, item_where)
                if not document.media_type.startswith("text/"):
                    raise InvalidRequest(
                        f"{item_where}: {document.media_type} documents are not supported by "
                        "the upstream; send the text instead",
                        param=item_where,
                    )
                texts.append(document.data)
    return ToolResult(
        tool_use_id=block.tool_use_id,
        content="\n".join(texts),
        is_error=bool(block.is_error),
        images=tuple(images),
    )


# Anthropic-defined tools the client runs itself: they come without input_schema.
_CLIENT_TOOL_DEFAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "bash_": (
        "bash",
        {
            "type": "object",
            "properties": {"command": {"type": "string"}, "restart": {"type": "boolean"}},
        },
    ),
    "text_editor_": (
        "str_replace_based_edit_tool",
        {
            "type": "object",
            "properties": {
                "command": {"type": "string"},
                "path": {"type": "string"},
                "file_text": {"type": "string"},
                "old_str": {"type": "string"},
                "new_str": {"type": "string"},
                "insert_line": {"type": "integer"},
                "view_range": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["command", "path"],
        },
    ),
    "computer_": ("computer", {"type": "object", "properties": {"action": {"type": "string"}}}),
    "memory_": ("memory", {"type": "object", "properties": {"command": {"type": "string"}}}),
}


def _tool(tool: Tool, where: str) -> ToolDef:
    kind = tool.type or "custom"
    if kind == "custom":
        if not tool.name.strip():
            raise InvalidRequest(f"{where}.name: field required", param=f"{where}.name")
        if tool.input_schema is None:
            raise InvalidRequest(
                f"{where}.input_schema: field required", param=f"{where}.input_schema"
            )
        check_depth(tool.input_schema, f"{where}.input_schema")
        return ToolDef(tool.name, tool.description or "", tool.input_schema)
    if kind.startswith("web_search"):
        name, description = tool.name or "web_search", tool.description or ""
        return ToolDef(name, description, {}, kind="web_search", max_uses=tool.max_uses)
    for prefix, (default_name, schema) in _CLIENT_TOOL_DEFAULTS.items():
        if kind.startswith(prefix):
            name = tool.name or default_name
            description = tool.description or f"Anthropic-defined {kind} tool"
            if tool.input_schema is not None:
                check_depth(tool.input_schema, f"{where}.input_schema")
            return ToolDef(name, description, tool.input_schema or schema)
    raise InvalidRequest(
        f"{where}.type: server tool {kind!r} is not supported by this gateway",
        param=f"{where}.type",
    )


def _tool_choice(choice: ToolChoiceBody | None) -> ToolChoice | None:
    if choice is None:
        return None
    if choice.type == "tool" and not choice.name:
        raise InvalidRequest(
            "tool_choice.name: required when tool_choice.type is 'tool'", param="tool_choice.name"
        )
    return ToolChoice(choice.type, choice.name if choice.type == "tool" else None)


def _thinking(request: MessagesRequest) -> ThinkingConfig | None:
    """``thinking`` with ``output_config.effort`` as the upstream's effort tag."""
    wanted = request.output_config.effort if request.output_config else None
    if wanted is not None and wanted not in ANTHROPIC_EFFORTS:
        raise InvalidRequest(
            f"output_config.effort: {wanted!r} is not one of {', '.join(ANTHROPIC_EFFORTS)}",
            param="output_config.effort",
        )
    effort = EFFORT_BUDGETS[wanted][1] if wanted is not None else None
    thinking = request.thinking
    if thinking is None or thinking.type == "disabled":
        return None
    if thinking.type == "adaptive":
        return ThinkingConfig("adaptive", effort=effort)
    if thinking.budget_tokens is None:
        raise InvalidRequest(
            "thinking.budget_tokens: required when thinking.type is 'enabled'",
            param="thinking.budget_tokens",
        )
    if thinking.budget_tokens < 1:
        raise InvalidRequest(
            "thinking.budget_tokens: must be positive", param="thinking.budget_tokens"
        )
    return ThinkingConfig("enabled", budget_tokens=thinking.budget_tokens, effort=effort)


def _output_format(request: MessagesRequest) -> JsonFormat | None:
    """``output_config.format``, else the structured-outputs beta's top-level ``output_format``."""
    spec = request.output_config.format if request.output_config else None
    where = "output_config.format"
    if spec is None:
        spec, where = request.output_format, "output_format"
    if spec is None:
        return None
    return json_format(
        spec.get("type"),
        spec,
        type_where=f"{where}.type",
        spec_where=where,
        kinds=("json_schema",),
        text_allowed=False,
    )


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def session_id_from_user_id(user_id: str) -> str | None:
    """The session UUID Claude Code puts in ``metadata.user_id`` (kiro.rs), else None.

    Two forms: ``user_<hash>_account__session_<uuid>`` and a JSON object with ``session_id``.
    """
    try:
        decoded = orjson.loads(user_id)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        session = decoded.get("session_id")
        if isinstance(session, str) and _UUID.fullmatch(session):
            return session
    position = user_id.find("session_")
    if position >= 0:
        match = _UUID.match(user_id, position + len("session_"))
        if match:
            return match.group(0)
    return None
