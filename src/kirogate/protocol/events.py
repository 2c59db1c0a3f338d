"""Typed Kiro stream events, decoded from event-stream messages.

:func:`parse_event` turns one :class:`~kirogate.protocol.eventstream.Message` into one of
the frozen dataclasses below; unknown event types become :class:`UnknownEvent` so the
caller can ignore them (the upstream may add kinds). Exception and error frames become
:class:`StreamException`. A known event whose payload is not a JSON object, or has a field
of the wrong JSON type, becomes :class:`MalformedEvent`: never an event with made-up
defaults, so that nothing the model said is dropped without a word.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, TypeAlias

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
class MalformedEvent:
    """A known event type whose payload does not decode; ``problem`` names the field and the
    JSON type found, never a value (payloads carry the user's content)."""

    event_type: str
    problem: str


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
    | MalformedEvent
    | UnknownEvent
)


_orjson_loads = orjson.loads
# Frozen dataclasses set their fields with object.__setattr__ in a Python __init__; the text
# hot path fills the one slot directly (same object, about half the cost).
_new_event = object.__new__
_set_content = AssistantText.__dict__["content"].__set__
# The last header block seen on a text event (see assistant_text); held strongly, so the
# identity check can never match a different block that reused its address.
_text_headers: object = None


class _WrongType(Exception):
    """A payload that does not decode. Never leaves this module: parse_event returns it as a
    :class:`MalformedEvent` (so it is no branch of the error tree in ``errors.py``)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


_JSON_TYPES: Final = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _wrong(name: str, value: Any, wanted: str) -> _WrongType:
    return _WrongType(f"{name} is {_JSON_TYPES.get(type(value), 'null')}, not {wanted}")


def _loads(payload: bytes) -> dict[str, Any]:
    """The payload's JSON object; an empty payload is an empty object."""
    try:
        data = orjson.loads(payload) if payload else {}
    except orjson.JSONDecodeError:
        raise _WrongType("the payload is not JSON") from None
    if not isinstance(data, dict):
        raise _wrong("the payload", data, "an object")
    return data


# Payload fields are checked, never trusted: an absent or null field is the default, any
# other JSON type than the one the spec gives makes the whole event a MalformedEvent.


def _str(data: dict[str, Any], name: str) -> str:
    return _opt_str(data, name) or ""


def _opt_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _wrong(name, value, "a string")


def _number(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(name, value, "a number")
    return float(value)


def _int(data: dict[str, Any], name: str) -> int:
    number = _number(data, name)
    return int(number) if number is not None else 0


def _dict(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise _wrong(name, value, "an object")


def _items(data: dict[str, Any], name: str) -> tuple[Any, ...]:
    value = data.get(name)
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(value)
    raise _wrong(name, value, "an array")


def _exception_message(payload: bytes) -> str:
    try:
        data = _loads(payload)
    except _WrongType:
        data = {}
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
        text = orjson.dumps(raw).decode()  # any other JSON value: the assembler judges it
    stop = data.get("stop")
    if stop is not None and not isinstance(stop, bool):
        raise _wrong("stop", stop, "a boolean")
    return ToolUseFragment(
        tool_use_id=_str(data, "toolUseId"),
        name=_str(data, "name"),
        input=text,
        stop=stop is True,
    )


def _followup(data: dict[str, Any]) -> FollowupPrompt:
    prompt = _dict(data, "followupPrompt")
    return FollowupPrompt(_str(prompt, "content"), _opt_str(prompt, "userIntent"))


def _string_header(message: Message, name: str) -> str | None:
    value = message.headers.get(name)
    return value if isinstance(value, str) and value else None


def assistant_text(message: Message) -> str | None:
    """The text of an ``assistantResponseEvent`` frame (what :func:`parse_event` puts in
    :class:`AssistantText`); None for every other frame (parse those with ``parse_event``).

    The streaming hot path calls it first: one text chunk without building the event object.
    """
    global _text_headers
    headers = message.headers
    # The decoder shares one read-only mapping per header block, so every text frame of a
    # stream carries the same object: one identity check instead of two lookups.
    if headers is not _text_headers:
        if (
            headers.get(":event-type") != "assistantResponseEvent"
            or headers.get(":message-type", "event") != "event"
        ):
            return None
        if type(headers) is MappingProxyType:  # the decoder's; a caller's dict may change
            _text_headers = headers
    try:
        data = _orjson_loads(message.payload)
    except orjson.JSONDecodeError:
        return None
    if type(data) is dict:
        content = data.get("content")
        if type(content) is str:
            return content
    return None


def parse_event(message: Message) -> KiroEvent:
    """Map one frame to a typed event; never raises.

    A known event with an undecodable payload is a :class:`MalformedEvent`.
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
            try:
                return _tool_fragment(_loads(message.payload))
            except _WrongType as exc:
                return MalformedEvent("toolUseEvent", exc.problem)
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
    event_type = message.event_type or ""
    if event_type not in _KNOWN:
        return UnknownEvent(event_type, message.payload)
    try:
        known = _known_event(event_type, _loads(message.payload))
    except _WrongType as exc:
        return MalformedEvent(event_type, exc.problem)
    return UnknownEvent(event_type, message.payload) if known is None else known


_KNOWN: Final = frozenset(
    {
        "assistantResponseEvent",
        "toolUseEvent",
        "reasoningContentEvent",
        "meteringEvent",
        "contextUsageEvent",
        "metadataEvent",
        "codeReferenceEvent",
        "followupPromptEvent",
        "supplementaryWebLinksEvent",
        "messageMetadataEvent",
        "invalidStateEvent",
        "initial-response",
    }
)


def _known_event(event_type: str, data: dict[str, Any]) -> KiroEvent | None:
    """The event of a known type from its decoded payload (None: nothing the gateway reads);
    raises :class:`_WrongType`."""
    match event_type:
        case "assistantResponseEvent":
            content = _opt_str(data, "content")
            if content is not None:
                return AssistantText(content)
            if "followupPrompt" in data:
                return _followup(data)
            return AssistantText("")
        case "toolUseEvent":
            return _tool_fragment(data)
        case "reasoningContentEvent":
            # One frame carries one of the three; a signature closes the block, so it wins.
            signature = _opt_str(data, "signature")
            if signature is not None:
                return ReasoningSignature(signature)
            redacted = _opt_str(data, "redactedContent")
            if redacted is not None:
                return ReasoningRedacted(redacted)
            return ReasoningText(_str(data, "text"))
        case "meteringEvent":
            usage = _number(data, "usage")
            if usage is None:
                usage = _number(data, "creditUsage")
            return Metering(usage or 0.0, _str(data, "unit") or "credit")
        case "contextUsageEvent":
            return ContextUsage(_number(data, "contextUsagePercentage") or 0.0)
        case "metadataEvent":
            if data.get("tokenUsage") is None:
                return None  # other metadata: nothing the gateway reads
            tokens = _dict(data, "tokenUsage")
            return TokenUsage(
                _int(tokens, "inputTokens"),
                _int(tokens, "outputTokens"),
                _int(tokens, "totalTokens"),
            )
        case "codeReferenceEvent":
            return CodeReference(_items(data, "references"))
        case "followupPromptEvent":
            return _followup(data)
        case "supplementaryWebLinksEvent":
            return SupplementaryWebLinks(_items(data, "supplementaryWebLinks"))
        case "messageMetadataEvent":
            return MessageMetadata(_opt_str(data, "conversationId"), _opt_str(data, "utteranceId"))
        case "invalidStateEvent":
            return InvalidState(_str(data, "reason"), _str(data, "message"))
    return InitialResponse(_opt_str(data, "conversationId"))  # "initial-response"


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
