"""Turn IR turns into an alternating Kiro history plus a current user message (spec §3.2-3.3).

The result satisfies spec §2.3-1, -2, -7 and -8 whatever the client sent:

- consecutive same-role turns are merged (user text joined with ``\\n``, assistant content
  with ``\\n\\n``, images, tool results and tool uses concatenated);
- a trailing assistant turn (prefill) is either kept in history with ``Continue`` as the
  current message (AIClient/kiro-gateway) or dropped (kiro.rs), see ``prefill``;
- history starts with a user turn (a ``Continue`` turn is inserted if needed) and ends with
  an assistant turn;
- a tool use must be answered in the next user turn, or it is removed (kiro.rs); a tool
  result must answer a tool use of the previous assistant turn, or it becomes text
  (kiro-gateway); duplicate tool-use ids are dropped, results follow the order of the uses;
- a mid-conversation system instruction becomes a marked block in its user message
  (:mod:`.instructions`);
- empty content is filled: a user turn with nothing gets ``Continue``, an assistant turn
  with only tool uses gets ``" "`` (kiro.rs), an empty assistant turn ``OK``. A user turn
  with tool results or images may keep ``""`` content (kiro.rs sends it, spec §2.2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from kirogate.convert.instructions import render_instruction
from kirogate.convert.ir import (
    Document,
    Image,
    Instruction,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    Turn,
)
from kirogate.errors import InvalidRequest
from kirogate.protocol.request import KiroImage, KiroToolResult

USER_FILLER = "Continue"
ASSISTANT_FILLER = "OK"
TOOL_ONLY_ASSISTANT = " "
EMPTY_RESULT = "(empty result)"
Prefill: TypeAlias = Literal["continue", "drop"]


@dataclass(frozen=True, slots=True)
class TruncatedCall:
    """A tool call of an earlier response that upstream cut off (spec §7.4)."""

    size_bytes: int
    reason: str = "the input JSON was incomplete"


@dataclass(slots=True)
class ImageRef:
    image: Image
    param: str  # where the client sent it, for errors
    fitted: KiroImage | None = None


@dataclass(slots=True)
class UserDraft:
    texts: list[str] = field(default_factory=list)
    images: list[ImageRef] = field(default_factory=list)
    results: list[KiroToolResult] = field(default_factory=list)
    omitted_images: int = 0

    def content(self) -> str:
        text = "\n".join(part for part in self.texts if part)
        if self.omitted_images:
            n = self.omitted_images
            line = (
                "[image omitted from earlier turn]"
                if n == 1
                else f"[{n} images omitted from earlier turn]"
            )
            text = f"{text}\n{line}" if text else line
        if not text.strip() and not self.results and not self.images:
            return USER_FILLER
        return text


@dataclass(slots=True)
class AssistantDraft:
    segments: list[str] = field(default_factory=list)
    uses: list[ToolCall] = field(default_factory=list)

    def content(self) -> str:
        text = "\n\n".join(self.segments)
        if text:
            return text
        return TOOL_ONLY_ASSISTANT if self.uses else ASSISTANT_FILLER


Draft: TypeAlias = UserDraft | AssistantDraft


@dataclass(frozen=True, slots=True)
class Plan:
    history: list[Draft]  # alternating, user first, assistant last (or empty)
    current: UserDraft
    notes: list[str]


def plan_turns(
    turns: Sequence[Turn],
    *,
    prefill: Prefill = "continue",
    drop_tools: Iterable[str] = (),
    truncated: Mapping[str, TruncatedCall] | None = None,
) -> Plan:
    """The history and current message for ``turns``; ``drop_tools`` names (any case) vanish."""
    notes: list[str] = []
    dropped = {name.lower() for name in drop_tools}
    drafts = _merge(
        _draft(turn, index, dropped, truncated or {}) for index, turn in enumerate(turns)
    )
    if not drafts:
        raise InvalidRequest("messages: at least one message is required", param="messages")
    if isinstance(drafts[-1], AssistantDraft):
        if prefill == "drop":
            drafts.pop()
            notes.append("dropped the trailing assistant message (prefill)")
            if not drafts:
                raise InvalidRequest(
                    "messages: the conversation has no user message", param="messages"
                )
        else:
            drafts.append(UserDraft([USER_FILLER]))
            notes.append("answered the trailing assistant message (prefill) with 'Continue'")
    if isinstance(drafts[0], AssistantDraft):
        drafts.insert(0, UserDraft([USER_FILLER]))
    _pair_tools(drafts, notes)
    current = drafts.pop()
    assert isinstance(current, UserDraft)
    return Plan(drafts, current, notes)


def _draft(
    turn: Turn, index: int, dropped: set[str], truncated: Mapping[str, TruncatedCall]
) -> Draft:
    where = f"messages[{index}].content"
    if turn.role == "assistant":
        return _assistant_draft(turn, where, dropped)
    user = UserDraft()
    for part in turn.parts:
        match part:
            case Text(text=text):
                user.texts.append(text)
            case Instruction(text=text):
                user.texts.append(render_instruction(text))
            case Image():
                user.images.append(ImageRef(part, where))
            case Document():
                user.texts.append(_document_text(part, where))
            case ToolResult(tool_use_id=tool_use_id):
                if tool_use_id in truncated:
                    part = _truncation_notice(part, truncated[tool_use_id])
                user.results.append(_result(part))
                user.images.extend(ImageRef(image, where) for image in part.images)
            case ToolCall(id=tool_use_id, name=name, input=tool_input):
                user.texts.append(f"[Tool call {name} ({tool_use_id})]\n{json.dumps(tool_input)}")
            case _:
                pass  # thinking in a user turn has nowhere to go
    return user


def _assistant_draft(turn: Turn, where: str, dropped: set[str]) -> AssistantDraft:
    thinking: list[str] = []
    texts: list[str] = []
    uses: list[ToolCall] = []
    for part in turn.parts:
        match part:
            case Thinking(text=text):
                thinking.append(text)  # signatures and redacted thinking are dropped (§3.2)
            case Text(text=text):
                texts.append(text)
            case ToolCall(name=name):
                if name.lower() not in dropped:
                    uses.append(part)
            case ToolResult(tool_use_id=tool_use_id, content=content):
                texts.append(f"[Tool result ({tool_use_id})]\n{content}")
            case Document():
                texts.append(_document_text(part, where))
            case _:
                pass  # images: assistants cannot send them upstream
    reasoning, text = "".join(thinking), "".join(texts)
    if reasoning and text:
        content = f"<thinking>{reasoning}</thinking>\n\n{text}"
    elif reasoning:
        content = f"<thinking>{reasoning}</thinking>"
    else:
        content = text
    return AssistantDraft([content] if content.strip() else [], uses)


def _document_text(document: Document, where: str) -> str:
    if not document.media_type.startswith("text/"):
        # Kiro has no document input (spec §2.1): PDFs cannot be passed on.
        raise InvalidRequest(
            f"{where}: {document.media_type} documents are not supported by the upstream; "
            "send the text of the document instead",
            param=where,
        )
    return f"[Document: {document.title}]\n{document.data}" if document.title else document.data


def _result(result: ToolResult) -> KiroToolResult:
    status: Literal["success", "error"] = "error" if result.is_error else "success"
    return KiroToolResult(result.tool_use_id, result.content or EMPTY_RESULT, status)


def _truncation_notice(result: ToolResult, call: TruncatedCall) -> ToolResult:
    """Tell the model its earlier call never ran because upstream cut it off (spec §7.4)."""
    if call.size_bytes <= 1024:
        text = (
            "[Upstream Glitch] Your tool call was cut off mid-transmission by the upstream API, "
            "so it did not run. Retry the same call."
        )
    else:
        text = (
            "[API Limitation] Your tool call was truncated by the upstream API because of its "
            f"size ({call.size_bytes} bytes; {call.reason}), so it did not run. Split the work "
            "into smaller calls: write at most 50 lines per call, then append the rest with edits."
        )
    return ToolResult(result.tool_use_id, text, is_error=True, images=result.images)


def _merge(drafts: Iterable[Draft]) -> list[Draft]:
    merged: list[Draft] = []
    for draft in drafts:
        previous = merged[-1] if merged else None
        if isinstance(previous, UserDraft) and isinstance(draft, UserDraft):
            previous.texts.extend(draft.texts)
            previous.images.extend(draft.images)
            previous.results.extend(draft.results)
        elif isinstance(previous, AssistantDraft) and isinstance(draft, AssistantDraft):
            previous.segments.extend(draft.segments)
            previous.uses.extend(draft.uses)
        else:
            merged.append(draft)
    return merged


def _pair_tools(drafts: list[Draft], notes: list[str]) -> None:
    """Make tool uses and results match pairwise (spec §2.3-2, -8); ``drafts`` alternate."""
    seen: set[str] = set()
    offered: list[ToolCall] = []
    for index, draft in enumerate(drafts):
        if isinstance(draft, AssistantDraft):
            answer = drafts[index + 1]
            assert isinstance(answer, UserDraft)
            answered = {result.tool_use_id for result in answer.results}
            kept: list[ToolCall] = []
            for use in draft.uses:
                if use.id and use.id not in seen and use.id in answered:
                    kept.append(use)
                seen.add(use.id)
            if len(kept) != len(draft.uses):
                notes.append(f"removed {len(draft.uses) - len(kept)} unanswered tool use(s)")
            draft.uses = kept
            offered = kept
            continue
        if not draft.results:  # nothing to match or to turn into text
            offered = []
            continue
        order = {use.id: position for position, use in enumerate(offered)}
        matched: dict[str, KiroToolResult] = {}
        orphans: list[str] = []
        for result in draft.results:
            if result.tool_use_id in order and result.tool_use_id not in matched:
                matched[result.tool_use_id] = result
            elif result.tool_use_id in order:
                notes.append(f"dropped a duplicate tool result for {result.tool_use_id}")
            else:
                marker = " (error)" if result.status == "error" else ""
                orphans.append(f"[Tool result for {result.tool_use_id}{marker}]\n{result.text}")
        if orphans:
            notes.append(f"turned {len(orphans)} unmatched tool result(s) into text")
        draft.texts[:0] = orphans
        draft.results = sorted(matched.values(), key=lambda result: order[result.tool_use_id])
        offered = []


def omit_old_images(history: Sequence[Draft], current: UserDraft, keep_turns: int) -> int:
    """Replace images outside the last ``keep_turns`` user turns by a note; how many went."""
    users = [draft for draft in history if isinstance(draft, UserDraft)] + [current]
    keep = users[-keep_turns:] if keep_turns > 0 else []
    omitted = 0
    for draft in users:
        if draft.images and not any(draft is kept for kept in keep):
            omitted += len(draft.images)
            draft.omitted_images += len(draft.images)
            draft.images = []
    return omitted
