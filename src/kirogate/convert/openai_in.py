"""OpenAI ``POST /v1/chat/completions`` bodies to a :class:`Conversation`.

The body is walked once as plain JSON (no pydantic: the dialect is loose and each error must
name its field, e.g. ``messages[1].content[0].image_url.url``). Decisions where the spec is
silent or peers differ:

- ``system`` and ``developer`` messages follow :mod:`.instructions`: before the first
  other message they form the system prompt (the text parts of one message joined with
  ``\\n``, messages with ``\\n\\n``); later ones stay in place as instructions in a user turn.
- Consecutive messages that map to the same IR role are merged into one turn (tool results
  of several ``tool`` messages land in one user turn, as JW does). ``metadata`` keeps where
  each turn came from (:class:`~kirogate.convert.openai_fields.TurnLog`), so an error the
  Kiro builder raises for a turn can name the client's message again.
- A request with legacy ``functions`` and no ``tools`` is flagged
  (``metadata["legacy_functions"]``): its answer uses ``function_call``, as OpenAI does.
- Unknown roles are a 400 (OpenAI's own behaviour), not normalised to ``user`` as JW does.
- Tool-call ``arguments`` that are not a JSON object are kept as ``{"value": …}`` (the raw
  string when it is not JSON) rather than rejected, so one bad call in the history does
  not brick a session. Legacy ``function_call``/``function`` messages get ids from
  ``new_id``, paired by name in order.
- Images must be ``data:`` URLs: the upstream cannot fetch http(s) URLs (JW skips them; a
  400 tells the client why). ``file`` parts with inline ``file_data`` of a ``text/*`` type
  become documents; PDFs, file ids and ``input_audio`` are a 400.
- ``response_format`` ``json_object``/``json_schema`` becomes the Conversation's
  ``output_format``: an instruction to the model, and the answer is checked
  (:mod:`.json_format`). ``logprobs``, ``n>1`` and audio output are a 400. Sampling
  parameters are accepted and dropped (spec §3.5).
- ``reasoning_effort`` maps to a thinking budget, see
  :data:`~kirogate.convert.thinking.EFFORT_BUDGETS`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeAlias

from kirogate.convert.instructions import place_system_text
from kirogate.convert.ir import (
    Conversation,
    Document,
    Image,
    Part,
    Text,
    Thinking,
    ToolCall,
    ToolChoice,
    ToolDef,
    ToolResult,
)
from kirogate.convert.json_format import json_format
from kirogate.convert.openai_fields import (
    LEGACY_FUNCTIONS,
    TurnLog,
    custom_tool_schema,
    document_from_file,
    expect_list,
    expect_mapping,
    function_parameters,
    image_from_url,
    join_system,
    named_choice,
    optional_bool,
    optional_int,
    optional_str,
    parse_arguments,
    prompt_cache_key,
    require_str,
    session_id_from,
    thinking_for_effort,
)
from kirogate.errors import InvalidRequest

IdFactory: TypeAlias = Callable[[], str]

_MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def _new_call_id() -> str:
    return f"call_{secrets.token_hex(12)}"


# ---------------------------------------------------------------- chat completions


def chat_to_ir(body: Mapping[str, Any], *, new_id: IdFactory = _new_call_id) -> Conversation:
    """A ``POST /v1/chat/completions`` body as a Conversation."""
    body = expect_mapping(body, "body")
    model = require_str(body, "model", "")
    _reject_unsupported(body)
    messages = expect_list(body.get("messages"), "messages")
    if not messages:
        raise InvalidRequest("messages: at least one message is required", param="messages")
    system: list[str] = []
    log = TurnLog()
    pending: dict[str, list[str]] = {}  # legacy function name -> unanswered call ids
    for index, raw in enumerate(messages):
        where = f"messages[{index}]"
        message = expect_mapping(raw, where)
        role = message.get("role")
        images: list[str] = []  # where each image of this message is, for later errors
        if role in ("system", "developer"):
            if message.get("content") is None:
                raise InvalidRequest(f"{where}.content: field required", param=f"{where}.content")
            text = _texts(message.get("content"), f"{where}.content", "\n")
            placed = place_system_text(text, started=bool(log.turns), system=system)
            if placed is not None:
                log.add("user", [placed], where)
        elif role == "user":
            if message.get("content") is None:
                raise InvalidRequest(f"{where}.content: field required", param=f"{where}.content")
            parts = _user_parts(message["content"], f"{where}.content", images)
            log.add("user", parts, where, images)
        elif role == "assistant":
            # OpenAI: "required unless tool_calls or function_call is specified".
            if message.get("content") is None and not (
                message.get("tool_calls") or message.get("function_call")
            ):
                raise InvalidRequest(
                    f"{where}.content: required unless tool_calls or function_call is given",
                    param=f"{where}.content",
                )
            log.add("assistant", _assistant_parts(message, where, new_id, pending), where)
        elif role == "tool":
            log.add("user", [_tool_message(message, where, images)], where, images)
        elif role == "function":
            name = require_str(message, "name", where)
            ids = pending.get(name)
            call_id = ids.pop(0) if ids else new_id()
            content = _texts(message.get("content"), f"{where}.content", "\n")
            log.add("user", [ToolResult(call_id, content)], where)
        else:
            raise InvalidRequest(
                f"{where}.role: must be one of {', '.join(_MESSAGE_ROLES)}", param=f"{where}.role"
            )
    tools = _tools(body)
    output_format = None
    if body.get("response_format") is not None:
        fmt = expect_mapping(body["response_format"], "response_format")
        spec = fmt.get("json_schema")
        if spec is None and fmt.get("type") == "json_schema":
            where = "response_format.json_schema"
            raise InvalidRequest(f"{where}: field required for json_schema", param=where)
        output_format = json_format(
            fmt.get("type"),
            {} if spec is None else expect_mapping(spec, "response_format.json_schema"),
            type_where="response_format.type",
            spec_where="response_format.json_schema",
        )
    metadata: dict[str, Any] = log.metadata("messages")
    if body.get("functions") and not body.get("tools"):
        metadata[LEGACY_FUNCTIONS] = True  # answer with function_call, not tool_calls
    stream = optional_bool(body, "stream")
    options = body.get("stream_options")
    if stream and options is not None:
        options = expect_mapping(options, "stream_options")
        metadata["include_usage"] = optional_bool(options, "include_usage", "stream_options")
    max_tokens = optional_int(body, "max_completion_tokens")
    return Conversation(
        model=model,
        turns=tuple(log.turns),
        system=join_system(*system),
        tools=tools,
        tool_choice=_chat_tool_choice(body, tools),
        thinking=thinking_for_effort(body.get("reasoning_effort"), "reasoning_effort"),
        max_tokens=max_tokens if max_tokens is not None else optional_int(body, "max_tokens"),
        stop_sequences=_stop(body.get("stop")),
        stream=stream,
        session_id=session_id_from(body),
        metadata=metadata,
        output_format=output_format,
        cache_key=prompt_cache_key(body),
    )


def _reject_unsupported(body: Mapping[str, Any]) -> None:
    n = optional_int(body, "n")
    if n is not None and n > 1:
        raise InvalidRequest("n>1 is not supported", param="n")
    if body.get("logprobs") or body.get("top_logprobs"):
        param = "logprobs" if body.get("logprobs") else "top_logprobs"
        raise InvalidRequest(f"{param}: log probabilities are not supported", param=param)
    if body.get("audio") is not None:
        raise InvalidRequest("audio: audio output is not supported", param="audio")
    modalities = body.get("modalities")
    if modalities is not None and any(m != "text" for m in expect_list(modalities, "modalities")):
        raise InvalidRequest("modalities: only ['text'] is supported", param="modalities")


def _texts(content: Any, where: str, sep: str) -> str:
    """Text of a string-or-parts content that may hold only text (and refusal) parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for index, raw in enumerate(expect_list(content, where)):
        part = expect_mapping(raw, f"{where}[{index}]")
        kind = part.get("type")
        if kind == "text":
            texts.append(require_str(part, "text", f"{where}[{index}]", empty=True))
        elif kind == "refusal":
            texts.append(require_str(part, "refusal", f"{where}[{index}]", empty=True))
        else:
            raise InvalidRequest(
                f"{where}[{index}].type: only text parts are allowed here",
                param=f"{where}[{index}].type",
            )
    return sep.join(texts)


def _user_parts(content: Any, where: str, images: list[str]) -> list[Text | Image | Document]:
    """The parts of a user (or tool) message; ``images`` collects each image's path."""
    if isinstance(content, str):
        return [Text(content)] if content else []
    parts: list[Text | Image | Document] = []
    for index, raw in enumerate(expect_list(content, where)):
        at = f"{where}[{index}]"
        part = expect_mapping(raw, at)
        kind = part.get("type")
        if kind == "text":
            parts.append(Text(require_str(part, "text", at, empty=True)))
        elif kind == "image_url":
            image = part.get("image_url")
            if isinstance(image, str):  # a common shorthand
                url, path = image, f"{at}.image_url"
            else:
                url = require_str(
                    expect_mapping(image, f"{at}.image_url"), "url", f"{at}.image_url"
                )
                path = f"{at}.image_url.url"
            parts.append(image_from_url(url, path))
            images.append(path)
        elif kind == "file":
            file = expect_mapping(part.get("file"), f"{at}.file")
            data = optional_str(file, "file_data", f"{at}.file")
            if data is None:
                raise InvalidRequest(
                    f"{at}.file.file_id: file ids are not supported; send file_data inline",
                    param=f"{at}.file.file_id",
                )
            filename = optional_str(file, "filename", f"{at}.file")
            parts.append(document_from_file(data, filename, f"{at}.file.file_data"))
        elif kind == "input_audio":
            raise InvalidRequest(f"{at}: audio input is not supported", param=at)
        else:
            raise InvalidRequest(
                f"{at}.type: must be one of text, image_url, file", param=f"{at}.type"
            )
    return parts


def _assistant_parts(
    message: Mapping[str, Any], where: str, new_id: IdFactory, pending: dict[str, list[str]]
) -> list[Part]:
    parts: list[Part] = []
    reasoning = message.get("reasoning_content")  # echoed back by clients of JW-style output
    if isinstance(reasoning, str) and reasoning:
        parts.append(Thinking(reasoning))
    text = _texts(message.get("content"), f"{where}.content", "")
    if text:
        parts.append(Text(text))
    calls = message.get("tool_calls")
    for index, raw in enumerate(expect_list(calls, f"{where}.tool_calls") if calls else ()):
        parts.append(_tool_call(raw, f"{where}.tool_calls[{index}]", new_id))
    legacy = message.get("function_call")
    if legacy is not None:
        call = expect_mapping(legacy, f"{where}.function_call")
        name = require_str(call, "name", f"{where}.function_call")
        raw_args = optional_str(call, "arguments", f"{where}.function_call") or ""
        call_id = new_id()
        pending.setdefault(name, []).append(call_id)
        arguments = parse_arguments(raw_args, f"{where}.function_call.arguments")
        parts.append(ToolCall(call_id, name, arguments))
    return parts


def _tool_call(raw: Any, where: str, new_id: IdFactory) -> ToolCall:
    call = expect_mapping(raw, where)
    call_id = optional_str(call, "id", where) or new_id()
    if call.get("type") == "custom":
        custom = expect_mapping(call.get("custom"), f"{where}.custom")
        name = require_str(custom, "name", f"{where}.custom")
        return ToolCall(
            call_id, name, {"input": require_str(custom, "input", f"{where}.custom", empty=True)}
        )
    function = expect_mapping(call.get("function"), f"{where}.function")
    name = require_str(function, "name", f"{where}.function")
    arguments = optional_str(function, "arguments", f"{where}.function") or ""
    return ToolCall(call_id, name, parse_arguments(arguments, f"{where}.function.arguments"))


def _tool_message(message: Mapping[str, Any], where: str, paths: list[str]) -> ToolResult:
    call_id = require_str(message, "tool_call_id", where)
    content = message.get("content")
    if content is None or isinstance(content, str):
        return ToolResult(call_id, content or "")
    texts: list[str] = []
    images: list[Image] = []
    for part in _user_parts(content, f"{where}.content", paths):
        if isinstance(part, Image):
            images.append(part)
        else:
            texts.append(part.text if isinstance(part, Text) else part.data)
    return ToolResult(call_id, "\n".join(texts), images=tuple(images))


def _tools(body: Mapping[str, Any]) -> tuple[ToolDef, ...]:
    tools: list[ToolDef] = []
    for index, raw in enumerate(expect_list(body.get("tools") or [], "tools")):
        where = f"tools[{index}]"
        tool = expect_mapping(raw, where)
        kind = tool.get("type", "function")
        if kind == "function":
            tools.append(_function_def(tool.get("function"), f"{where}.function"))
        elif kind == "custom":
            custom = expect_mapping(tool.get("custom"), f"{where}.custom")
            tools.append(
                ToolDef(
                    require_str(custom, "name", f"{where}.custom"),
                    optional_str(custom, "description", f"{where}.custom") or "",
                    custom_tool_schema(custom.get("format"), f"{where}.custom.format"),
                    kind="custom",
                )
            )
        else:
            raise InvalidRequest(
                f"{where}.type: must be 'function' or 'custom'", param=f"{where}.type"
            )
    for index, raw in enumerate(expect_list(body.get("functions") or [], "functions")):
        tools.append(_function_def(raw, f"functions[{index}]"))
    return tuple(tools)


def _function_def(raw: Any, where: str) -> ToolDef:
    function = expect_mapping(raw, where)
    return ToolDef(
        require_str(function, "name", where),
        optional_str(function, "description", where) or "",
        function_parameters(function.get("parameters"), f"{where}.parameters"),
    )


_CHOICE_MODES: dict[str, Literal["auto", "any", "none"]] = {
    "auto": "auto",
    "none": "none",
    "required": "any",
}


def _chat_tool_choice(body: Mapping[str, Any], tools: tuple[ToolDef, ...]) -> ToolChoice | None:
    key = "tool_choice" if body.get("tool_choice") is not None else "function_call"
    choice = body.get(key)
    if choice is None:
        return None
    modes = _CHOICE_MODES
    if isinstance(choice, str):
        if choice not in modes or (key == "function_call" and choice == "required"):
            names = "auto, none, required" if key == "tool_choice" else "auto, none"
            raise InvalidRequest(f"{key}: must be one of {names} or an object", param=key)
        return ToolChoice(modes[choice])
    choice = expect_mapping(choice, key)
    if key == "function_call":
        return named_choice(require_str(choice, "name", key), tools, f"{key}.name")
    kind = choice.get("type")
    if kind in ("function", "custom"):
        inner = expect_mapping(choice.get(kind), f"{key}.{kind}")
        return named_choice(
            require_str(inner, "name", f"{key}.{kind}"), tools, f"{key}.{kind}.name"
        )
    if kind == "allowed_tools":
        allowed = expect_mapping(choice.get("allowed_tools"), f"{key}.allowed_tools")
        mode = allowed.get("mode")
        if mode not in ("auto", "required"):
            raise InvalidRequest(
                f"{key}.allowed_tools.mode: must be 'auto' or 'required'",
                param=f"{key}.allowed_tools.mode",
            )
        return ToolChoice(modes[mode])
    raise InvalidRequest(
        f"{key}.type: must be one of function, custom, allowed_tools", param=f"{key}.type"
    )


def _stop(stop: Any) -> tuple[str, ...]:
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,) if stop else ()
    items = expect_list(stop, "stop")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidRequest(f"stop[{index}]: must be a string", param=f"stop[{index}]")
    return tuple(item for item in items if item)
