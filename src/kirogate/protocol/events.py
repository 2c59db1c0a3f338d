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


def _loads(payload: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


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
        tool_use_id=str(data.get("toolUseId") or ""),
        name=str(data.get("name") or ""),
        input=text,
        stop=bool(data.get("stop", False)),
    )


def parse_event(message: Message) -> KiroEvent:
    """Map one frame to a typed event. Malformed JSON payloads yield empty/unknown events."""
    headers = message.headers
    kind = headers.get(":message-type", "event")
    if kind == "exception":
        ex_type = headers.get(":exception-type")
        return StreamException(
            str(ex_type) if ex_type else "UnknownException", _exception_message(message.payload)
        )
    if kind == "error":
        code = headers.get(":error-code")
        text = headers.get(":error-message")
        return StreamException(
            str(code) if code else "UnknownError",
            str(text) if text else _exception_message(message.payload),
        )
    event_type = headers.get(":event-type")
    if event_type == "assistantResponseEvent":
        data = _loads(message.payload)
        content = data.get("content")
        if isinstance(content, str):
            return AssistantText(content)
        if "followupPrompt" in data:
            prompt = data["followupPrompt"] or {}
            return FollowupPrompt(str(prompt.get("content", "")), prompt.get("userIntent"))
        return AssistantText("")
    if event_type == "toolUseEvent":
        return _tool_fragment(_loads(message.payload))
    data = _loads(message.payload)
    match event_type:
        case "reasoningContentEvent":
            if "signature" in data:
                return ReasoningSignature(str(data["signature"]))
            if "redactedContent" in data:
                return ReasoningRedacted(str(data["redactedContent"]))
            return ReasoningText(str(data.get("text") or ""))
        case "meteringEvent":
            usage = data.get("usage", data.get("creditUsage", 0.0))
            return Metering(float(usage or 0.0), str(data.get("unit") or "credit"))
        case "contextUsageEvent":
            return ContextUsage(float(data.get("contextUsagePercentage") or 0.0))
        case "metadataEvent" if isinstance(data.get("tokenUsage"), dict):
            usage = data["tokenUsage"]
            return TokenUsage(
                int(usage.get("inputTokens") or 0),
                int(usage.get("outputTokens") or 0),
                int(usage.get("totalTokens") or 0),
            )
        case "codeReferenceEvent":
            return CodeReference(tuple(data.get("references") or ()))
        case "followupPromptEvent":
            prompt = data.get("followupPrompt") or {}
            return FollowupPrompt(str(prompt.get("content", "")), prompt.get("userIntent"))
        case "supplementaryWebLinksEvent":
            return SupplementaryWebLinks(tuple(data.get("supplementaryWebLinks") or ()))
        case "messageMetadataEvent":
            return MessageMetadata(data.get("conversationId"), data.get("utteranceId"))
        case "invalidStateEvent":
            return InvalidState(str(data.get("reason", "")), str(data.get("message", "")))
        case "initial-response":
            return InitialResponse(data.get("conversationId"))
    return UnknownEvent(str(event_type or ""), message.payload)


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
