"""Tool definitions for a Kiro request (spec §2.3-3..6, §3.5).

Names over 63 characters are shortened reversibly the way kiro.rs does (first 54
characters, ``_``, 8 hex of sha256); the short -> original map goes back to the caller so
streamed tool calls can be renamed. Empty descriptions become ``Tool: {name}``; a
description over the limit is moved into the system prompt (as kiro-gateway does) or
truncated (as kiro.rs does). Schemas are normalised like kiro.rs and stripped of ``null``
values. A web-search tool (``ToolDef.kind == "web_search"``) is offered as a plain function
with one ``query`` parameter; the API layer serves the model's calls of it (docs/tools.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from kirogate.convert.ir import ToolDef
from kirogate.protocol.request import (
    PLACEHOLDER_TOOL_DESCRIPTION,
    PLACEHOLDER_TOOL_SCHEMA,
    KiroTool,
)

MAX_TOOL_NAME = 63  # upstream's limit is 64; kiro.rs keeps one character of margin
MAX_TOOL_DESCRIPTION = 10_000
_HASH_CHARS = 8

WEB_SEARCH_DESCRIPTION = (
    "Search the web for current information. Returns the title, URL and a snippet of the top "
    "results; cite the URLs you use."
)
WEB_SEARCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "The search query"}},
    "required": ["query"],
    "additionalProperties": False,
}

# kiro.rs (spec §3.5, §7.4): ask for chunked writes so large tool inputs are not cut off.
WRITE_TOOL_SUFFIX = (
    "- IMPORTANT: If the content to write exceeds 150 lines, you MUST only write the first 50 "
    "lines using this tool, then use `Edit` tool to append the remaining content in chunks of "
    "no more than 50 lines each. If needed, leave a unique placeholder to help append content. "
    "Do NOT attempt to write all content at once."
)
EDIT_TOOL_SUFFIX = (
    "- IMPORTANT: If the `new_string` content exceeds 50 lines, you MUST split it into multiple "
    "Edit calls, each replacing no more than 50 lines at a time. If used to append content, "
    "leave a unique placeholder to help append content. On the final chunk, do NOT include the "
    "placeholder."
)
_SUFFIXES = {"Write": WRITE_TOOL_SUFFIX, "Edit": EDIT_TOOL_SUFFIX}


@dataclass(slots=True)
class ToolNames:
    """Shortens names over the limit and remembers short -> original."""

    originals: dict[str, str] = field(default_factory=dict)

    def upstream(self, name: str) -> str:
        if len(name) <= MAX_TOOL_NAME:
            return name
        short = shorten_tool_name(name)
        self.originals[short] = name
        return short


def shorten_tool_name(name: str) -> str:
    """A stable name of at most 63 characters for ``name`` (kiro.rs's rule)."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_CHARS]
    return f"{name[: MAX_TOOL_NAME - 1 - _HASH_CHARS]}_{digest}"


def served_web_search(defs: Iterable[ToolDef]) -> ToolDef | None:
    """The web-search tool the gateway serves for these tools, if any.

    A client function of the same name (any case) wins: the client runs its own tool.
    """
    defs = tuple(defs)
    functions = {tool.name.lower() for tool in defs if tool.kind != "web_search"}
    for tool in defs:
        if tool.kind == "web_search" and tool.name.lower() not in functions:
            return tool
    return None


def offered_tools(defs: Iterable[ToolDef]) -> list[ToolDef]:
    """The tools to offer upstream: a served web search becomes a function with a ``query``."""
    defs = tuple(defs)
    served = served_web_search(defs)
    offered = []
    for tool in defs:
        if tool.kind != "web_search":
            offered.append(tool)
        elif tool is served:
            description = tool.description.strip() or WEB_SEARCH_DESCRIPTION
            offered.append(replace(tool, description=description, input_schema=WEB_SEARCH_SCHEMA))
    return offered


@dataclass(frozen=True, slots=True)
class ConvertedTools:
    tools: tuple[KiroTool, ...]
    documentation: str  # descriptions moved out of the tool list, for the system prompt
    notes: tuple[str, ...]


def convert_tools(
    defs: Iterable[ToolDef],
    names: ToolNames,
    *,
    write_edit_hints: bool,
    long_descriptions: Literal["system", "truncate"],
    max_description: int = MAX_TOOL_DESCRIPTION,
) -> ConvertedTools:
    """Client tool definitions (see :func:`offered_tools`) as Kiro tools."""
    tools: list[KiroTool] = []
    docs: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    for tool in defs:
        name = names.upstream(tool.name)
        if name.lower() in seen:
            notes.append(f"dropped duplicate tool definition {tool.name!r}")
            continue
        seen.add(name.lower())
        description = tool.description.strip() or f"Tool: {tool.name}"
        suffix = _SUFFIXES.get(tool.name) if write_edit_hints else None
        if suffix:
            description = f"{description}\n{suffix}"
        if len(description) > max_description:
            if long_descriptions == "system":
                docs.append(f"## Tool: {name}\n\n{description}")
                description = f"[Full documentation in system prompt under '## Tool: {name}']"
                notes.append(f"moved the long description of {tool.name!r} to the system prompt")
            else:
                description = description[:max_description]
                notes.append(f"truncated the description of {tool.name!r}")
        tools.append(KiroTool(name, description, clean_schema(tool.input_schema)))
    documentation = "# Tool documentation\n\n" + "\n\n".join(docs) if docs else ""
    return ConvertedTools(tuple(tools), documentation, tuple(notes))


def placeholder_tools(used: Iterable[str], defined: Iterable[KiroTool]) -> list[KiroTool]:
    """Placeholders for tool names used in history but not defined (case-insensitive)."""
    known = {tool.name.lower() for tool in defined}
    placeholders: list[KiroTool] = []
    for name in used:
        if name.lower() not in known:
            known.add(name.lower())
            placeholders.append(
                KiroTool(name, PLACEHOLDER_TOOL_DESCRIPTION, dict(PLACEHOLDER_TOOL_SCHEMA))
            )
    return placeholders


# ---------------------------------------------------------------- JSON Schema

_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMAS = ("not", "if", "then", "else", "contains", "propertyNames")
_SCHEMA_MAPS = ("definitions", "$defs", "patternProperties", "dependentSchemas")
_SCHEMA_KEYS = frozenset(
    {"items", "properties", "additionalProperties", *_SUBSCHEMA_LISTS, *_SUBSCHEMAS, *_SCHEMA_MAPS}
)


def clean_schema(schema: Any) -> dict[str, Any]:
    """A copy of ``schema`` that upstream accepts: kiro.rs's normalisation, nulls removed.

    The root is always an object schema with ``type``, ``properties``, ``required`` (strings
    only) and ``additionalProperties``; nested object schemas get the same treatment.
    """
    return _clean(schema, root=True)


def _clean(schema: Any, *, root: bool) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        if root:
            return {
                "type": "object",
                "properties": {},
                "required": [],
                "additionalProperties": True,
            }
        return {}
    # Subschemas are cleaned by recursion below; other values (default, examples, enum) only
    # lose null object members.
    node = {
        key: value if key in _SCHEMA_KEYS else _strip_nulls(value)
        for key, value in schema.items()
        if value is not None
    }
    object_like = (
        root
        or _mentions_object(node.get("type"))
        # Checked on the original keys: {"properties": null} is still an object schema.
        or any(key in schema for key in ("properties", "required", "additionalProperties"))
    )
    if "items" in node:
        items = node["items"]
        node["items"] = (
            [_clean(item, root=False) for item in items]
            if isinstance(items, list)
            else _clean(items, root=False)
        )
    for key in _SUBSCHEMA_LISTS:
        if isinstance(node.get(key), list):
            node[key] = [_clean(item, root=False) for item in node[key]]
    for key in _SUBSCHEMAS:
        if key in node:
            node[key] = _clean(node[key], root=False)
    for key in _SCHEMA_MAPS:
        if key in node:
            value = node[key]
            node[key] = (
                {name: _clean(sub, root=False) for name, sub in value.items()}
                if isinstance(value, Mapping)
                else {}
            )
    kind = node.get("type")
    valid_type = (isinstance(kind, str) and kind) or (
        isinstance(kind, list) and kind and all(isinstance(k, str) and k for k in kind)
    )
    if root and not (isinstance(kind, str) and kind):
        # Upstream wants a string here; ["object", "null"] and friends become "object".
        node["type"] = "object"
    elif not valid_type:
        node.pop("type", None)
    if object_like:
        properties = node.get("properties")
        node["properties"] = (
            {name: _clean(sub, root=False) for name, sub in properties.items()}
            if isinstance(properties, Mapping)
            else {}
        )
        required = node.get("required")
        node["required"] = (
            [item for item in required if isinstance(item, str)]
            if isinstance(required, list)
            else []
        )
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            node["additionalProperties"] = _clean(extra, root=False)
        elif not isinstance(extra, bool):
            node["additionalProperties"] = True
    return node


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _strip_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_strip_nulls(item) for item in value]
    return value


def _mentions_object(kind: Any) -> bool:
    return kind == "object" or (isinstance(kind, list) and "object" in kind)
