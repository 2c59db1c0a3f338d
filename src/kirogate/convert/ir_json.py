"""The request-side IR as plain JSON, so a :class:`~.ir.Conversation` can be kept in the store.

Every dataclass becomes an object tagged with its class name under ``"@"``; tuples become
lists. Decoding follows the dataclasses' own field annotations: a field typed ``tuple[...]``
is read back as a tuple, a field typed with IR classes only accepts objects tagged with one
of them, and every other field (``dict[str, Any]`` schemas and inputs, strings, numbers)
is taken as it is, so a client's own ``"@"`` keys inside a tool input are never mistaken
for tags. What is not a well-formed encoding raises :class:`ValueError`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kirogate.convert import ir

TAG = "@"

_CLASSES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        ir.Text,
        ir.Image,
        ir.Document,
        ir.Thinking,
        ir.ToolCall,
        ir.ToolResult,
        ir.Instruction,
        ir.Turn,
        ir.ToolDef,
        ir.ToolChoice,
        ir.ThinkingConfig,
        ir.CachePoint,
        ir.JsonFormat,
        ir.Conversation,
    )
}
_PART = "Text | Image | Document | Thinking | ToolCall | ToolResult | Instruction"
_ALIASES = {"Part": _PART}


def to_json(value: Any) -> Any:
    """``value`` (an IR dataclass, or anything inside one) as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        encoded = {TAG: type(value).__name__}
        for item in dataclasses.fields(value):
            encoded[item.name] = to_json(getattr(value, item.name))
        return encoded
    if isinstance(value, tuple):
        return [to_json(item) for item in value]
    return value


def conversation_from_json(data: Any) -> ir.Conversation:
    """The :class:`~.ir.Conversation` that :func:`to_json` encoded as ``data``."""
    conversation = _decode("Conversation", data)
    if not isinstance(conversation, ir.Conversation):  # pragma: no cover - _decode checks tags
        raise ValueError("not a conversation")
    return conversation


def _decode(annotation: str, data: Any) -> Any:
    annotation = _ALIASES.get(annotation, annotation)
    if annotation.startswith("tuple["):
        if not isinstance(data, list):
            raise ValueError(f"expected a list for {annotation}")
        inner = annotation.removeprefix("tuple[").removesuffix(", ...]")
        return tuple(_decode(inner, item) for item in data)
    names = [name.strip() for name in annotation.split("|")]
    classes = [name for name in names if name in _CLASSES]
    if not classes:
        return data  # str, int, dict[str, Any], Literal[...]: JSON as it is
    if data is None and "None" in names:
        return None
    if not isinstance(data, dict) or data.get(TAG) not in classes:
        raise ValueError(f"expected one of {', '.join(classes)}")
    cls = _CLASSES[data[TAG]]
    values = {}
    for item in dataclasses.fields(cls):
        if item.name in data:
            values[item.name] = _decode(str(item.type), data[item.name])
    try:
        return cls(**values)
    except TypeError as exc:  # a required field is missing
        raise ValueError(f"incomplete {cls.__name__}: {exc}") from None
