"""Build the Kiro ``generateAssistantResponse`` request for a :class:`Conversation`.

:func:`build_kiro_request` makes every request Anthropic or OpenAI would accept valid for
the upstream (spec §2.3, §3). The pieces live next door: :mod:`.kiro_history` (turn order,
tool pairing, empty content), :mod:`.kiro_tools` (names, descriptions, schemas) and
:mod:`.images` (image limits). This module adds the system prompt and the thinking prefix,
assembles the body and keeps it under the size limit.

System prompt (kiro.rs, spec §3.1, §5.1): the thinking prefix, the client's system text,
the chunked-write policy (only when a ``Write`` or ``Edit`` tool is offered), any tool
documentation moved out of over-long descriptions and the output format's instruction
(:mod:`.json_format`), joined with ``\\n``, become the history
pair ``user(system)`` + ``assistant("I will follow these instructions.")``.

``tool_choice`` ``none`` leaves the client's tools out (history still gets placeholders);
``auto``, ``any`` and ``tool`` are ignored like every peer does (spec §3.5), as are sampling
parameters, ``max_tokens`` and ``stop_sequences``.

Size guard: if the wire JSON is over ``max_request_bytes`` (profileArn not counted), images
in history are replaced by a note, then the oldest user/assistant pairs after the system
pair are dropped (tool results whose calls were dropped go with them) until it fits. If
even the system pair and the current message are too big, :class:`RequestTooLarge`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import orjson

from kirogate.convert.images import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_SIDE,
    MAX_IMAGE_SIDE_MULTI,
    fit_image,
)
from kirogate.convert.ir import Conversation, JsonFormat, ThinkingConfig, ToolDef
from kirogate.convert.json_format import format_instruction
from kirogate.convert.kiro_history import (
    USER_FILLER,
    AssistantDraft,
    Draft,
    Prefill,
    TruncatedCall,
    UserDraft,
    omit_old_images,
    plan_turns,
)
from kirogate.convert.kiro_tools import (
    MAX_TOOL_DESCRIPTION,
    ToolNames,
    convert_tools,
    offered_tools,
    placeholder_tools,
)
from kirogate.convert.models import ModelInfo
from kirogate.convert.thinking import EFFORT_TAGS
from kirogate.errors import RequestTooLarge
from kirogate.protocol.request import (
    AssistantResponseMessage,
    HistoryItem,
    KiroRequest,
    KiroTool,
    KiroToolUse,
    UserInputMessage,
)

SYSTEM_ACK = "I will follow these instructions."
SYSTEM_CHUNKED_POLICY = (
    "When the Write or Edit tool has content size limits, always comply silently. "
    "Never suggest bypassing these limits via alternative tools. "
    "Never ask the user whether to switch approaches. "
    "Complete all chunked operations without commentary."
)
TRUNCATED_TEXT_NOTICE = (
    "[System Notice] Your previous response was truncated by the API due to output size "
    "limitations. Continue from where it stopped, in smaller pieces."
)
DEFAULT_THINKING_BUDGET = 20_000


@dataclass(frozen=True, slots=True)
class KiroBuildOptions:
    """Knobs of the Kiro request builder; the defaults follow kiro.rs where peers disagree."""

    max_request_bytes: int = 600_000
    keep_images_turns: int = 5
    max_image_bytes: int = MAX_IMAGE_BYTES
    max_image_side: int = MAX_IMAGE_SIDE
    max_image_side_multi: int = MAX_IMAGE_SIDE_MULTI
    prefill: Prefill = "continue"
    write_edit_hints: bool = True
    long_tool_descriptions: Literal["system", "truncate"] = "system"
    max_tool_description: int = MAX_TOOL_DESCRIPTION
    thinking_budget_min: int = 1024
    thinking_budget_max: int = 24_576
    # Spec §7.4: calls of earlier responses that upstream cut off, by tool_use_id, and
    # whether the previous text response was cut off. The service layer remembers them.
    truncated_calls: Mapping[str, TruncatedCall] = field(default_factory=dict)
    previous_text_truncated: bool = False


@dataclass(frozen=True, slots=True)
class KiroBuild:
    request: KiroRequest
    tool_names: dict[str, str]  # shortened upstream name -> the client's original name
    notes: list[str]  # what the builder changed, for the debug log
    # The request serialised as the size check made it (no profileArn): the client sends these
    # bytes (with the credential's ARN spliced in), so the request is serialised once.
    body: bytes | None = None


def build_kiro_request(
    conv: Conversation,
    model: ModelInfo,
    *,
    conversation_id: str,
    new_id: Callable[[], str],
    options: KiroBuildOptions = KiroBuildOptions(),
) -> KiroBuild:
    """The Kiro request for ``conv`` on ``model``; raises InvalidRequest or RequestTooLarge."""
    client_tools = offered_tools(conv.tools)
    plan = plan_turns(conv.turns, prefill=options.prefill, truncated=options.truncated_calls)
    notes = list(plan.notes)
    if options.previous_text_truncated:
        plan.current.texts.insert(0, TRUNCATED_TEXT_NOTICE)

    names = ToolNames()
    offered = [] if conv.tool_choice and conv.tool_choice.mode == "none" else client_tools
    converted = convert_tools(
        offered,
        names,
        write_edit_hints=options.write_edit_hints,
        long_descriptions=options.long_tool_descriptions,
        max_description=options.max_tool_description,
    )
    notes.extend(converted.notes)
    system = compose_system(
        conv.system,
        thinking=conv.thinking or model.thinking,
        chunked_policy=options.write_edit_hints and _offers_write_or_edit(offered),
        documentation=converted.documentation,
        options=options,
        output_format=conv.output_format,
    )

    omitted = omit_old_images(plan.history, plan.current, options.keep_images_turns)
    if omitted:
        notes.append(f"omitted {omitted} image(s) from earlier turns")
    _fit_images(plan.history, plan.current, options, notes)

    builder = _Assembler(
        model_id=model.upstream_id,
        conversation_id=conversation_id,
        continuation_id=new_id(),
        system=system,
        tools=converted.tools,
        names=names,
    )
    history = list(plan.history)
    request = builder.assemble(history, plan.current)
    body = orjson.dumps(request.to_wire())
    if len(body) > options.max_request_bytes:
        request = _shrink(builder, history, plan.current, options.max_request_bytes, notes)
        return KiroBuild(request, dict(names.originals), notes)
    return KiroBuild(request, dict(names.originals), notes, body)


# ---------------------------------------------------------------- system prompt


def compose_system(
    system: str,
    *,
    thinking: ThinkingConfig | None,
    chunked_policy: bool,
    documentation: str,
    options: KiroBuildOptions,
    output_format: JsonFormat | None = None,
) -> str:
    """The text of the system history turn (empty when there is nothing to say)."""
    parts = [system] if system else []
    if chunked_policy:
        parts.append(SYSTEM_CHUNKED_POLICY)
    if documentation:
        parts.append(documentation)
    if output_format is not None:
        # Kiro has no response-format field: the last instruction asks for the format, and
        # the answer is checked on the way back (convert/json_format.py).
        parts.append(format_instruction(output_format))
    prefix = thinking_prefix(thinking, options) if thinking else ""
    if prefix and "<thinking_mode>" not in system and "<max_thinking_length>" not in system:
        parts.insert(0, prefix)
    return "\n".join(parts)


def thinking_prefix(thinking: ThinkingConfig, options: KiroBuildOptions) -> str:
    """The tags that switch on prompt-driven thinking (spec §5.1, kiro.rs)."""
    if thinking.mode == "adaptive":
        effort = thinking.effort if thinking.effort in EFFORT_TAGS else "high"
        return f"<thinking_mode>adaptive</thinking_mode><thinking_effort>{effort}</thinking_effort>"
    budget = thinking.budget_tokens or DEFAULT_THINKING_BUDGET
    budget = max(options.thinking_budget_min, min(options.thinking_budget_max, budget))
    return (
        f"<thinking_mode>enabled</thinking_mode><max_thinking_length>{budget}</max_thinking_length>"
    )


def _offers_write_or_edit(tools: list[ToolDef]) -> bool:
    return any(tool.name in ("Write", "Edit") for tool in tools)


# ---------------------------------------------------------------- images


def _fit_images(
    history: list[Draft], current: UserDraft, options: KiroBuildOptions, notes: list[str]
) -> None:
    refs = [
        ref for draft in (*history, current) if isinstance(draft, UserDraft) for ref in draft.images
    ]
    # Anthropic's rule: a request with several images caps each side lower.
    max_side = options.max_image_side_multi if len(refs) > 1 else options.max_image_side
    for ref in refs:
        fitted = fit_image(
            ref.image, param=ref.param, max_bytes=options.max_image_bytes, max_side=max_side
        )
        ref.fitted = fitted.image
        if fitted.resized:
            notes.append(f"downscaled an image in {ref.param}")


# ---------------------------------------------------------------- assembly


@dataclass(frozen=True, slots=True)
class _Assembler:
    model_id: str
    conversation_id: str
    continuation_id: str
    system: str
    tools: tuple[KiroTool, ...]
    names: ToolNames

    def assemble(self, history: list[Draft], current: UserDraft) -> KiroRequest:
        items: list[HistoryItem] = []
        if self.system:
            items.append(UserInputMessage(self.system, self.model_id))
            items.append(AssistantResponseMessage(SYSTEM_ACK))
        items.extend(self.item(draft) for draft in history)
        used = [
            use.name
            for item in items
            if isinstance(item, AssistantResponseMessage)
            for use in item.tool_uses
        ]
        tools = (*self.tools, *placeholder_tools(used, self.tools))
        return KiroRequest(
            conversation_id=self.conversation_id,
            current=self.user(current, tools),
            history=tuple(items),
            agent_continuation_id=self.continuation_id,
        )

    def item(self, draft: Draft) -> HistoryItem:
        if isinstance(draft, UserDraft):
            return self.user(draft, ())
        uses = tuple(
            KiroToolUse(use.id, self.names.upstream(use.name), use.input) for use in draft.uses
        )
        return AssistantResponseMessage(draft.content(), uses)

    def user(self, draft: UserDraft, tools: tuple[KiroTool, ...]) -> UserInputMessage:
        return UserInputMessage(
            content=draft.content(),
            model_id=self.model_id,
            images=tuple(ref.fitted for ref in draft.images if ref.fitted is not None),
            tool_results=tuple(draft.results),
            tools=tools,
        )


def _wire_size(request: KiroRequest) -> int:
    return len(orjson.dumps(request.to_wire()))


def _shrink(
    builder: _Assembler,
    history: list[Draft],
    current: UserDraft,
    limit: int,
    notes: list[str],
) -> KiroRequest:
    """Drop history images, then the oldest history turns, until the body fits in ``limit``.

    The assistant turn whose tool uses the current message answers is always kept.
    """
    omitted = omit_old_images(history, current, keep_turns=1)
    if omitted:
        notes.append(f"omitted {omitted} history image(s) to fit {limit} bytes")
    request = builder.assemble(history, current)
    size = _wire_size(request)
    # Each item's share of the body ("," included), to drop enough turns in one go.
    sizes = [len(orjson.dumps(builder.item(draft).to_wire())) + 1 for draft in history]
    max_cut = len(history) - 1 if current.results else len(history)
    cut = 0
    while size > limit and cut < max_cut:
        excess = size - limit
        while cut < max_cut and excess > 0:
            excess -= sizes[cut]
            cut += 1
        request = builder.assemble(_drop_front(history, cut), current)
        size = _wire_size(request)
    if cut:
        notes.append(f"dropped the {cut} oldest history message(s) to fit {limit} bytes")
    if size > limit:
        raise RequestTooLarge(
            f"the request is {size} bytes even without earlier turns; the upstream limit is "
            f"{limit} bytes (max_request_bytes)"
        )
    return request


def _drop_front(history: list[Draft], cut: int) -> list[Draft]:
    """``history`` without its first ``cut`` items, still starting with a user turn."""
    rest = history[cut:]
    if rest and isinstance(rest[0], AssistantDraft):
        return [UserDraft([USER_FILLER]), *rest]
    if rest and isinstance(rest[0], UserDraft):
        # The tool uses these results answered were dropped with the previous turn.
        return [replace(rest[0], results=[]), *rest[1:]]
    return rest


__all__ = [
    "KiroBuild",
    "KiroBuildOptions",
    "TruncatedCall",
    "build_kiro_request",
    "compose_system",
    "thinking_prefix",
]
