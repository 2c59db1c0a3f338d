"""Typed Kiro stream events, decoded from event-stream messages.

:func:`parse_event` turns one :class:`~kirogate.protocol.eventstream.Message` into one of
the frozen dataclasses below; unknown event types become :class:`UnknownEvent` so the
caller can ignore them. Exception and error frames become :class:`StreamException`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import orjson

from kirogate.protocol.eventstream import Message, encode_frame, event_headers


@dataclass(frozen=True, slots=True)
class AssistantText:
    """``assistantResponseEvent``: an incremental text delta."""

    content: str


@dataclass(frozen=True, slots=True)
class ToolUseFragment:
    """``toolUseEvent``: a slice of one tool call's JSON arguments (``stop`` ends the call)."""

    tool_use_id: str
    name: str
    input: str = ""
    stop: bool = False


@dataclass(frozen=True, slots=True)
class ReasoningText:
    """``reasoningContentEvent`` with ``text``: native thinking."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningSignature:
    """``reasoningContentEvent`` with ``signature`` (closes a native thinking block)."""

    signature: str


@dataclass(frozen=True, slots=True)
class ReasoningRedacted:
    """``reasoningContentEvent`` with ``redactedContent``."""

    data: str


@dataclass(frozen=True, slots=True)
class Metering:
    """``meteringEvent``: credits used by this request."""

    usage: float
    unit: str = "credit"


@dataclass(frozen=True, slots=True)
class ContextUsage:
    """``contextUsageEvent``: share of the model's context window used by the input, in %."""

    percentage: float


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """``metadataEvent`` with ``tokenUsage`` (newer SDK-based clients)."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class CodeReference:
    references: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class FollowupPrompt:
    content: str
    user_intent: str | None = None


@dataclass(frozen=True, slots=True)
class SupplementaryWebLinks:
    links: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class MessageMetadata:
    conversation_id: str | None = None
    utterance_id: str | None = None


@dataclass(frozen=True, slots=True)
class InvalidState:
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class InitialResponse:
    """``initial-response``: only on the awsJson1.0 (``X-Amz-Target``) form of the call."""

    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class StreamException:
    """An ``exception`` or ``error`` frame: the upstream failed after answering 200."""

    exception_type: str
    message: str


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    event_type: str
    payload: bytes


KiroEvent: TypeAlias = (
    AssistantText
    | ToolUseFragment
    | ReasoningText
    | ReasoningSignature
    | ReasoningRedacted
    | Metering
    | ContextUsage
    | TokenUsage
    | CodeReference
    | FollowupPrompt
    | SupplementaryWebLinks
    | MessageMetadata
    | InvalidState
    | InitialResponse
    | StreamException
    | UnknownEvent
)


_orjson_loads = orjson.loads
# Frozen dataclasses set their fields with object.__setattr__ in a Python __init__; the text
# hot path fills the one slot directly (same object, about half the cost).
_new_event = object.__new__
_set_content = AssistantText.__dict__["content"].__set__


def _loads(payload: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


# Payload fields are coerced, never trusted: a wrong-typed value becomes the default
# instead of raising in the middle of a stream.


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None else 0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else ()


def _exception_message(payload: bytes) -> str:
    data = _loads(payload)
    message = data.get("message") or data.get("Message")
    if isinstance(message, str):
        return message
    return payload.decode("utf-8", "replace")


def _tool_fragment(data: dict[str, Any]) -> ToolUseFragment:
    raw = data.get("input")
    if raw is None:
        text = ""
    elif isinstance(raw, str):
        text = raw
    elif raw == {}:
        text = ""  # an empty object on the first frame means "fragments follow"
    else:
        text = orjson.dumps(raw).decode()
    return ToolUseFragment(
        tool_use_id=_str(data.get("toolUseId")),
        name=_str(data.get("name")),
        input=text,
        stop=data.get("stop") is True,
    )


def _followup(value: Any) -> FollowupPrompt:
    prompt = _dict(value)
    return FollowupPrompt(_str(prompt.get("content")), _opt_str(prompt.get("userIntent")))


def _string_header(message: Message, name: str) -> str | None:
    value = message.headers.get(name)
    return value if isinstance(value, str) and value else None


def assistant_text(message: Message) -> str | None:
    """The text of an ``assistantResponseEvent`` frame (what :func:`parse_event` puts in
    :class:`AssistantText`); None for every other frame (parse those with ``parse_event``).

    The streaming hot path calls it first: one text chunk without building the event object.
    """
    headers = message.headers
    if (
        headers.get(":event-type") == "assistantResponseEvent"
        and headers.get(":message-type", "event") == "event"
    ):
        try:
            data = _orjson_loads(message.payload)
        except orjson.JSONDecodeError:
            return None
        if type(data) is dict:
            content = data.get("content")
            if isinstance(content, str):
                return content
    return None


def parse_event(message: Message) -> KiroEvent:
    """Map one frame to a typed event; never raises.

    A malformed or wrong-typed payload yields the event with default fields.
    """
    headers = message.headers
    if headers.get(":message-type", "event") == "event":
        # The hot paths, one per text chunk or tool-call fragment; the general branch below
        # gives the same results.
        event_type = headers.get(":event-type")
        if event_type == "assistantResponseEvent":
            content = assistant_text(message)
            if content is not None:
                event: AssistantText = _new_event(AssistantText)
                _set_content(event, content)  # AssistantText(content), without __init__'s frame
                return event
        elif event_type == "toolUseEvent":
            return _tool_fragment(_loads(message.payload))
    kind = message.message_type
    if kind == "exception":
        return StreamException(
            _string_header(message, ":exception-type") or "UnknownException",
            _exception_message(message.payload),
        )
    if kind == "error":
        return StreamException(
            _string_header(message, ":error-code") or "UnknownError",
            _string_header(message, ":error-message") or _exception_message(message.payload),
        )
    event_type = message.event_type
    data = _loads(message.payload)
    match event_type:
        case "assistantResponseEvent":
            content = data.get("content")
            if isinstance(content, str):
                return AssistantText(content)
            if "followupPrompt" in data:
                return _followup(data["followupPrompt"])
            return AssistantText("")
        case "toolUseEvent":
            return _tool_fragment(data)
        case "reasoningContentEvent":
            # One frame carries one of the three; a signature closes the block, so it wins.
            if isinstance(data.get("signature"), str):
                return ReasoningSignature(data["signature"])
            if isinstance(data.get("redactedContent"), str):
                return ReasoningRedacted(data["redactedContent"])
            return ReasoningText(_str(data.get("text")))
        case "meteringEvent":
            usage = _number(data.get("usage"))
            if usage is None:
                usage = _number(data.get("creditUsage"))
            return Metering(usage or 0.0, _str(data.get("unit")) or "credit")
        case "contextUsageEvent":
            return ContextUsage(_number(data.get("contextUsagePercentage")) or 0.0)
        case "metadataEvent" if isinstance(data.get("tokenUsage"), dict):
            usage = data["tokenUsage"]
            return TokenUsage(
                _int(usage.get("inputTokens")),
                _int(usage.get("outputTokens")),
                _int(usage.get("totalTokens")),
            )
        case "codeReferenceEvent":
            return CodeReference(_items(data.get("references")))
        case "followupPromptEvent":
            return _followup(data.get("followupPrompt"))
        case "supplementaryWebLinksEvent":
            return SupplementaryWebLinks(_items(data.get("supplementaryWebLinks")))
        case "messageMetadataEvent":
            return MessageMetadata(
                _opt_str(data.get("conversationId")), _opt_str(data.get("utteranceId"))
            )
        case "invalidStateEvent":
            return InvalidState(_str(data.get("reason")), _str(data.get("message")))
        case "initial-response":
            return InitialResponse(_opt_str(data.get("conversationId")))
    return UnknownEvent(event_type or "", message.payload)


# ---------------------------------------------------------------- encoding (emulator, tests)


def event_frame(event_type: str, payload: dict[str, Any] | bytes) -> bytes:
    """``E(type, payload)`` of the spec: one event frame with compact JSON in the given key order."""
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return encode_frame(event_headers(event_type), body)


def exception_frame(exception_type: str, payload: dict[str, Any] | bytes) -> bytes:
    """``X(exType, payload)`` of the spec."""
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return encode_frame(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        body,
    )


def error_frame(code: str, message: str) -> bytes:
    """``ERR(code, msg)`` of the spec."""
    return encode_frame(
        {":error-code": code, ":error-message": message, ":message-type": "error"}, b""
    )
