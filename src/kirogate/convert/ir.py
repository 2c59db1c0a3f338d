"""The neutral conversation model every client dialect converts into and out of.

Inbound: ``anthropic_in``, ``openai_in`` and ``responses_in`` turn a client request into a
:class:`Conversation`; ``kiro`` turns a Conversation into a Kiro request. Outbound: the
stream assembler turns Kiro events into the :data:`OutEvent` values below, and one renderer
per dialect turns those into SSE bytes or a JSON body. Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

Role: TypeAlias = Literal["user", "assistant"]
StopReason: TypeAlias = Literal[
    "end_turn", "tool_use", "max_tokens", "stop_sequence", "model_context_window_exceeded"
]


# ---------------------------------------------------------------- request side


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Image:
    media_type: str  # image/png, image/jpeg, image/gif, image/webp
    data: str  # base64 without the data: prefix


@dataclass(frozen=True, slots=True)
class Document:
    """A document block (PDF or plain text) from the client."""

    media_type: str
    data: str  # base64 for binary media, plain text for text/plain
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Thinking:
    text: str
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolResult:
    tool_use_id: str
    content: str
    is_error: bool = False
    images: tuple[Image, ...] = ()


@dataclass(frozen=True, slots=True)
class Instruction:
    """System text the client placed at this point of the conversation (see :mod:`.instructions`)."""

    text: str


Part: TypeAlias = Text | Image | Document | Thinking | ToolCall | ToolResult | Instruction


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class ToolDef:
    name: str
    description: str
    input_schema: dict[str, Any]
    # "function": a normal tool; "custom": an OpenAI Responses freeform tool (string input);
    # "web_search": web search served by the gateway (Anthropic's server tool, Responses'
    # hosted tool); offered upstream as a function, see ``kiro_tools.offered_tools``.
    kind: Literal["function", "custom", "web_search"] = "function"
    max_uses: int | None = None  # web_search: the client's limit on searches per request


@dataclass(frozen=True, slots=True)
class ToolChoice:
    mode: Literal["auto", "any", "none", "tool"]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ThinkingConfig:
    mode: Literal["enabled", "adaptive"]
    budget_tokens: int | None = None
    effort: str | None = None  # low | medium | high | max: the upstream's effort tag


@dataclass(frozen=True, slots=True)
class CachePoint:
    """A prompt-cache breakpoint the client set (Anthropic ``cache_control``).

    ``end`` counts the prompt's segments up to it: one per tool, then the system prompt,
    then one per turn (Anthropic's order: tools, system, messages).
    """

    end: int
    ttl: float = 300.0  # seconds: "5m" (the default) or "1h"


@dataclass(frozen=True, slots=True)
class JsonFormat:
    """A requested JSON answer: any JSON object, or a value valid against ``schema``."""

    kind: Literal["json_object", "json_schema"]
    schema: dict[str, Any] | None = None  # set for json_schema
    name: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    """One client request, dialect-free. ``model`` is the name the client asked for."""

    model: str
    turns: tuple[Turn, ...]
    system: str = ""
    tools: tuple[ToolDef, ...] = ()
    tool_choice: ToolChoice | None = None
    thinking: ThinkingConfig | None = None
    max_tokens: int | None = None
    stop_sequences: tuple[str, ...] = ()
    stream: bool = False
    session_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    cache_points: tuple[CachePoint, ...] = ()
    cache_key: str | None = None  # OpenAI's prompt_cache_key
    output_format: JsonFormat | None = None  # see convert/json_format.py


# ---------------------------------------------------------------- response side


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingStop:
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallStart:
    id: str
    name: str  # the client's original name (shortened names already mapped back)


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    partial_json: str


@dataclass(frozen=True, slots=True)
class ToolCallStop:
    """End of a tool call. ``input`` is the parsed arguments; ``truncated`` when the upstream
    cut them off (``input`` is then ``{}`` and is no call to run: renderers leave it out)."""

    id: str
    input: dict[str, Any]
    truncated: bool = False
    truncation_reason: str | None = None


@dataclass(frozen=True, slots=True)
class UsageUpdate:
    input_tokens: int


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """Prompt-cache tokens to report for one request (estimated; see ``cache_estimate``)."""

    read: int = 0
    creation: int = 0


NO_CACHE = CacheUsage()


@dataclass(frozen=True, slots=True)
class Finish:
    stop_reason: StopReason
    input_tokens: int
    output_tokens: int
    stop_sequence: str | None = None
    reasoning_tokens: int = 0  # the share of output_tokens spent on thinking (estimated)


OutEvent: TypeAlias = (
    TextDelta
    | ThinkingDelta
    | ThinkingStop
    | ToolCallStart
    | ToolCallDelta
    | ToolCallStop
    | UsageUpdate
    | Finish
)
