"""OpenAI Responses API (``POST /v1/responses``, used by Codex CLI) bodies to a Conversation.

Decisions where the spec is silent:

- ``instructions`` and the text of leading ``system``/``developer`` input messages form
  the system prompt (in that order); later ones stay in place as instructions in a user
  turn (:mod:`.instructions`). As in OpenAI, instructions are not carried over by
  ``previous_response_id``; system/developer *messages* are (they are input items), so the
  Conversation keeps the leading ones apart in ``metadata["message_system"]``.
- Freeform (``custom``) tools become :class:`ToolDef` kind ``custom`` whose schema is one
  string property ``input`` (the grammar, if any, is described in it); calls and outputs
  in the history use ``{"input": raw}``. :mod:`.responses_out` unwraps the model's JSON.
- ``web_search`` (and ``web_search_preview``...) becomes a ``web_search`` ToolDef the gateway
  serves (docs/tools.md); ``web_search_call`` items in the input become assistant text (the
  search results, when the gateway still knows them). A ``namespace`` tool (Codex) becomes
  one function (or freeform tool) per member, named ``<namespace>__<name>``;
  ``metadata["namespaces"]`` maps that name back, and call items with a ``namespace`` use it
  too. Other hosted
  tools (``file_search``, ``computer_use_preview``, ``mcp``, ``local_shell``, ...) are
  declined: the upstream cannot run them. Their types are listed in
  ``metadata["declined_tools"]`` for the caller to log; a ``tool_choice`` naming one falls
  back to ``auto``.
- ``reasoning`` items become thinking (their ``content`` text, else the summary text);
  ``encrypted_content`` is ignored. ``item_reference`` resolves against the items of the
  ``previous`` Conversation (see :func:`continue_conversation`), then against
  ``references`` (items of any stored response), else it is a 400 naming ``input[i].id``.
- ``metadata`` records which input items each turn came from (turns of the ``previous``
  response count as ``previous_response_id``), so a later builder error names the item:
  see :func:`~kirogate.convert.openai_fields.relocate_error`.
- ``text.format`` ``json_object``/``json_schema`` becomes the Conversation's
  ``output_format``, as for Chat Completions (:mod:`.json_format`). ``background``,
  ``conversation``, ``prompt`` and log probabilities are a 400; sampling parameters,
  ``truncation``, ``include`` and ``parallel_tool_calls`` are accepted (the last is
  echoed, not enforced).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from kirogate.convert.instructions import place_system_text
from kirogate.convert.ir import (
    Conversation,
    Document,
    Image,
    JsonFormat,
    Part,
    Role,
    Text,
    Thinking,
    ToolCall,
    ToolChoice,
    ToolDef,
    ToolResult,
)
from kirogate.convert.json_format import json_format
from kirogate.convert.limits import check_depth, shown
from kirogate.convert.openai_fields import (
    TurnLog,
    append_turn,
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
    turn_images,
)
from kirogate.errors import InvalidRequest

IdFactory: TypeAlias = Callable[[], str]

_TEXT_PARTS = ("input_text", "output_text", "text", "summary_text", "reasoning_text")
NAMESPACE_SEPARATOR = "__"
# A key the gateway adds to the web_search_call items it keeps (never sent to a client):
# the text the model was given for that search.
SEARCH_RESULTS_KEY = "x_kirogate_results"


def _new_call_id() -> str:
    return f"call_{secrets.token_hex(12)}"


# The request fields a response object repeats (``responses_out.response_echo``) that
# hold objects; the scalar ones are checked for their type in :func:`_check_echoed`.
_ECHOED = ("metadata", "reasoning", "text", "tool_choice", "tools")
_TRUNCATIONS = ("auto", "disabled")


def responses_to_ir(
    body: Mapping[str, Any],
    *,
    previous: Conversation | None = None,
    references: Mapping[str, Mapping[str, Any]] | None = None,
    new_id: IdFactory = _new_call_id,
) -> Conversation:
    """A ``POST /v1/responses`` body as a Conversation.

    With ``previous_response_id`` the caller passes the stored Conversation of that response
    (built by :func:`continue_conversation`) as ``previous``; its turns come first.
    ``references`` holds the output items of stored responses by id, for ``item_reference``
    items sent without ``previous_response_id`` (the Vercel AI SDK's tool loop).
    """
    body = expect_mapping(body, "body")
    model = require_str(body, "model", "")
    _reject_unsupported(body)
    if body.get("previous_response_id") is not None and previous is None:
        raise InvalidRequest(
            f"previous_response_id: response {shown(body['previous_response_id'])} not found",
            param="previous_response_id",
        )
    items: dict[str, Mapping[str, Any]] = (
        dict(previous.metadata.get("items", {})) if previous else {}
    )
    known = references or {}
    log = TurnLog()
    for turn in previous.turns if previous else ():
        # Earlier requests checked these turns; errors in them name previous_response_id.
        kept = ("previous_response_id",)
        log.add(turn.role, turn.parts, kept[0], kept * len(turn_images(turn)))
    system: list[str] = [previous.metadata.get("message_system", "")] if previous else []
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        log.add("user", [Text(raw_input)] if raw_input else [], "input")
    elif raw_input is not None:
        for index, raw in enumerate(expect_list(raw_input, "input")):
            where = f"input[{index}]"
            item = expect_mapping(raw, where)
            if item.get("type") == "item_reference":
                ref = require_str(item, "id", where)
                found = items.get(ref) or known.get(ref)
                if found is None:
                    raise InvalidRequest(
                        f"{where}.id: item {ref!r} is unknown (not stored or expired); "
                        "send the item inline",
                        param=f"{where}.id",
                    )
                item = items[ref] = found
            elif isinstance(item.get("id"), str):
                # A web_search_call sent back inline lacks the results the gateway kept.
                item = (
                    known.get(item["id"], item) if item.get("type") == "web_search_call" else item
                )
                items[item["id"]] = item
            images: list[str] = []
            converted = item_parts(item, where, new_id, images)
            if converted is None:
                text = _message_text(item, where)
                instruction = place_system_text(text, started=bool(log.turns), system=system)
                if instruction is not None:
                    log.add("user", [instruction], where)
            elif converted[1] or item.get("type") != "reasoning":
                log.add(*converted, where, images)
    tools, declined, namespaces = _tools(body.get("tools"))
    _check_echoed(body)
    metadata: dict[str, Any] = {
        **log.metadata("input"),
        "items": items,
        "message_system": join_system(*system),
        "store": body.get("store") is not False,
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
    }
    if declined:
        metadata["declined_tools"] = declined
    if namespaces:
        metadata["namespaces"] = namespaces
    reasoning = expect_mapping(body.get("reasoning") or {}, "reasoning")
    if reasoning.get("summary") or reasoning.get("generate_summary"):
        metadata["reasoning_summary"] = reasoning.get("summary") or reasoning["generate_summary"]
    instructions = optional_str(body, "instructions", "") or ""
    return Conversation(
        model=model,
        turns=tuple(log.turns),
        system=join_system(instructions, *system),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        thinking=thinking_for_effort(reasoning.get("effort"), "reasoning.effort"),
        max_tokens=optional_int(body, "max_output_tokens"),
        stream=optional_bool(body, "stream"),
        session_id=session_id_from(body) or (previous.session_id if previous else None),
        metadata=metadata,
        output_format=_output_format(body.get("text")),
        cache_key=prompt_cache_key(body),
    )


def continue_conversation(conv: Conversation, response: Mapping[str, Any]) -> Conversation:
    """``conv`` with a finished response's ``output`` items appended as an assistant turn.

    Store the result under the response id; pass it as ``previous`` when a later request
    names that id in ``previous_response_id``.
    """
    turns = list(conv.turns)
    items = dict(conv.metadata.get("items", {}))
    for index, raw in enumerate(response.get("output") or ()):
        item = expect_mapping(raw, f"output[{index}]")
        if isinstance(item.get("id"), str):
            items[item["id"]] = item
        converted = item_parts(item, f"output[{index}]", _new_call_id)
        if converted is not None and converted[1]:
            append_turn(turns, *converted)
    return dataclasses.replace(conv, turns=tuple(turns), metadata={**conv.metadata, "items": items})


def item_parts(
    item: Mapping[str, Any], where: str, new_id: IdFactory, images: list[str] | None = None
) -> tuple[Role, Sequence[Part]] | None:
    """The role and IR parts of one input or output item; None for a system message.

    ``images`` collects the path of each image the item carries.
    """
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        if role in ("system", "developer"):
            return None
        if role not in ("user", "assistant"):
            raise InvalidRequest(
                f"{where}.role: must be one of user, assistant, system, developer",
                param=f"{where}.role",
            )
        return role, _content_parts(item.get("content"), f"{where}.content", images)
    if kind in ("function_call", "custom_tool_call"):
        call_id = optional_str(item, "call_id", where) or new_id()
        name = require_str(item, "name", where)
        namespace = optional_str(item, "namespace", where)
        if namespace:
            name = f"{namespace}{NAMESPACE_SEPARATOR}{name}"
        if kind == "custom_tool_call":
            return "assistant", [ToolCall(call_id, name, {"input": _input(item, where)})]
        arguments = optional_str(item, "arguments", where) or ""
        tool_input = parse_arguments(arguments, f"{where}.arguments")
        return "assistant", [ToolCall(call_id, name, tool_input)]
    if kind in ("function_call_output", "custom_tool_call_output"):
        call_id = require_str(item, "call_id", where)
        return "user", [_tool_output(call_id, item.get("output"), f"{where}.output", images)]
    if kind == "reasoning":
        texts = _part_texts(item.get("content"), f"{where}.content") or _part_texts(
            item.get("summary"), f"{where}.summary"
        )
        return "assistant", [Thinking("\n\n".join(texts))] if texts else []
    if kind == "web_search_call":
        return "assistant", [Text(_search_text(item, where))]
    raise InvalidRequest(
        f"{where}.type: {shown(kind)} items are not supported by this gateway",
        param=f"{where}.type",
    )


def _search_text(item: Mapping[str, Any], where: str) -> str:
    """A past web search as the model reads it: the results it was given, else the query."""
    results = item.get(SEARCH_RESULTS_KEY)
    if isinstance(results, str) and results:
        return results
    action = expect_mapping(item.get("action") or {}, f"{where}.action")
    query = action.get("query")
    if isinstance(query, str) and query:
        return f'(Searched the web for "{query}".)'
    return "(Searched the web.)"


def _input(item: Mapping[str, Any], where: str) -> str:
    return require_str(item, "input", where, empty=True)


def _message_text(item: Mapping[str, Any], where: str) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    texts = []
    for part in _content_parts(content, f"{where}.content"):
        if not isinstance(part, Text):
            raise InvalidRequest(
                f"{where}.content: system messages may hold only text", param=f"{where}.content"
            )
        texts.append(part.text)
    return "\n".join(texts)


def _part_texts(parts: Any, where: str) -> list[str]:
    texts = []
    for index, raw in enumerate(expect_list(parts or [], where)):
        part = expect_mapping(raw, f"{where}[{index}]")
        text = require_str(part, "text", f"{where}[{index}]", empty=True)
        if text:
            texts.append(text)
    return texts


def _content_parts(
    content: Any, where: str, images: list[str] | None = None
) -> list[Text | Image | Document]:
    if content is None:
        raise InvalidRequest(f"{where}: field required", param=where)
    if isinstance(content, str):
        return [Text(content)] if content else []
    parts: list[Text | Image | Document] = []
    for index, raw in enumerate(expect_list(content, where)):
        at = f"{where}[{index}]"
        part = expect_mapping(raw, at)
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            parts.append(Text(require_str(part, "text", at, empty=True)))
        elif kind == "refusal":
            parts.append(Text(require_str(part, "refusal", at, empty=True)))
        elif kind == "input_image":
            url = optional_str(part, "image_url", at)
            if url is None:
                raise InvalidRequest(
                    f"{at}.file_id: file ids are not supported; send image_url as a data: URL",
                    param=f"{at}.file_id",
                )
            parts.append(image_from_url(url, f"{at}.image_url"))
            if images is not None:
                images.append(f"{at}.image_url")
        elif kind == "input_file":
            data = optional_str(part, "file_data", at)
            if data is None:
                raise InvalidRequest(
                    f"{at}: file ids and file URLs are not supported; send file_data inline",
                    param=at,
                )
            filename = optional_str(part, "filename", at)
            parts.append(document_from_file(data, filename, f"{at}.file_data"))
        else:
            raise InvalidRequest(
                f"{at}.type: {shown(kind)} content is not supported by this gateway",
                param=f"{at}.type",
            )
    return parts


def _tool_output(
    call_id: str, output: Any, where: str, paths: list[str] | None = None
) -> ToolResult:
    if output is None or isinstance(output, str):
        return ToolResult(call_id, output or "")
    texts: list[str] = []
    images: list[Image] = []
    for part in _content_parts(output, where, paths):
        if isinstance(part, Image):
            images.append(part)
        else:
            texts.append(part.text if isinstance(part, Text) else part.data)
    return ToolResult(call_id, "\n".join(texts), images=tuple(images))


def _tools(
    raw: Any,
) -> tuple[tuple[ToolDef, ...], list[str], dict[str, tuple[str, str]]]:
    """The tools, the types declined, and each namespaced function's (namespace, name)."""
    tools: list[ToolDef] = []
    declined: list[str] = []
    namespaces: dict[str, tuple[str, str]] = {}
    for index, value in enumerate(expect_list(raw or [], "tools")):
        where = f"tools[{index}]"
        tool = expect_mapping(value, where)
        kind = require_str(tool, "type", where)
        if kind in ("function", "custom"):
            tools.append(_function_tool(tool, kind, where))
        elif kind.startswith("web_search"):
            tools.append(ToolDef("web_search", "", {}, kind="web_search"))
        elif kind == "namespace":
            namespace = require_str(tool, "name", where)
            for number, member in enumerate(expect_list(tool.get("tools") or [], f"{where}.tools")):
                at = f"{where}.tools[{number}]"
                member = expect_mapping(member, at)
                member_kind = require_str(member, "type", at)
                if member_kind not in ("function", "custom"):
                    declined.append(f"{kind}/{member_kind}")
                    continue
                inner = _function_tool(member, member_kind, at)
                flat = f"{namespace}{NAMESPACE_SEPARATOR}{inner.name}"
                namespaces[flat] = (namespace, inner.name)
                tools.append(dataclasses.replace(inner, name=flat))
        else:
            declined.append(kind)  # hosted tools the upstream cannot run
    return tuple(tools), declined, namespaces


def _function_tool(tool: Mapping[str, Any], kind: str, where: str) -> ToolDef:
    name = require_str(tool, "name", where)
    description = optional_str(tool, "description", where) or ""
    if kind == "function":
        return ToolDef(
            name, description, function_parameters(tool.get("parameters"), f"{where}.parameters")
        )
    schema = custom_tool_schema(tool.get("format"), f"{where}.format")
    return ToolDef(name, description, schema, kind="custom")


def _tool_choice(choice: Any, tools: tuple[ToolDef, ...]) -> ToolChoice | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        if choice == "auto":
            return ToolChoice("auto")
        if choice == "none":
            return ToolChoice("none")
        if choice == "required":
            return ToolChoice("any")
        raise InvalidRequest(
            "tool_choice: must be one of auto, none, required or an object", param="tool_choice"
        )
    choice = expect_mapping(choice, "tool_choice")
    kind = choice.get("type")
    if kind in ("function", "custom"):
        return named_choice(require_str(choice, "name", "tool_choice"), tools, "tool_choice.name")
    if kind == "allowed_tools":
        mode = choice.get("mode")
        if mode not in ("auto", "required"):
            raise InvalidRequest(
                "tool_choice.mode: must be 'auto' or 'required'", param="tool_choice.mode"
            )
        return ToolChoice("auto" if mode == "auto" else "any")
    return ToolChoice("auto")  # a hosted tool, which was dropped


def _output_format(text: Any) -> JsonFormat | None:
    if text is None:
        return None
    fmt = expect_mapping(text, "text").get("format")
    if fmt is None:
        return None
    fmt = expect_mapping(fmt, "text.format")
    return json_format(
        fmt.get("type"), fmt, type_where="text.format.type", spec_where="text.format"
    )


def _check_echoed(body: Mapping[str, Any]) -> None:
    """The fields a response object repeats must serialise: objects within the depth limit,
    scalars of their own type (a nested value in ``truncation`` was a 500 at the end)."""
    for key in _ECHOED:
        check_depth(body.get(key), key)
    optional_bool(body, "store")
    optional_bool(body, "parallel_tool_calls")
    optional_str(body, "user", "")
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidRequest(f"{key}: must be a number", param=key)
    truncation = body.get("truncation")
    if truncation is not None and truncation not in _TRUNCATIONS:
        raise InvalidRequest(
            f"truncation: must be one of {', '.join(_TRUNCATIONS)}", param="truncation"
        )


def _reject_unsupported(body: Mapping[str, Any]) -> None:
    for key, why in (
        ("background", "background responses are not supported"),
        ("conversation", "the Conversations API is not supported; use previous_response_id"),
        ("prompt", "stored prompt templates are not supported"),
        ("top_logprobs", "log probabilities are not supported"),
    ):
        if body.get(key):
            raise InvalidRequest(f"{key}: {why}", param=key)
