"""Context compression: summarise the older turns of a long conversation (claude-api's feature).

Off by default (``settings.compression.enabled``). When a conversation's estimated input
passes ``max_tokens`` (or its turns pass ``max_messages`` when that is above 0), the turns
before the last ``keep_last`` are summarised through the upstream and replaced by one user
turn carrying the summary, plus an assistant acknowledgement when the kept turns start
with a user turn, so the history still alternates. The cut never separates a tool call
from its result: it moves to an earlier turn until every kept tool result has its call.

Summaries are cached per conversation, keyed by the session id and a hash of the turns
they cover, so the next request of the same conversation reuses the summary without an
upstream call; it is re-summarised only when the reused summary plus the newer turns still
pass the limit, and then incrementally (the previous summary plus the turns that aged out
since). Aged turns that do not fit one summary request are folded in the same way, a
chunk at a time. A failed summary never fails the request: the conversation goes on
uncompressed (or with the last good summary), and the failure is logged.

The splitting, rendering and composing steps are pure functions; :class:`Compressor` adds
the cache and the upstream call, which the caller injects as ``summarise``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import orjson

from kirogate.convert.ir import (
    Conversation,
    Document,
    Image,
    Instruction,
    Part,
    Text,
    ToolCall,
    ToolResult,
    Turn,
)
from kirogate.convert.openai_fields import SOURCES_KEY, TurnSource, turn_images
from kirogate.convert.tokens import estimate_conversation_tokens
from kirogate.settings import CompressionSettings

log = logging.getLogger(__name__)

Summarise = Callable[[Conversation], Awaitable[str]]

# One summary request stays well under the upstream's ~600 KB body limit.
SUMMARY_INPUT_BYTES: Final = 300_000
TOOL_TEXT_LIMIT: Final = 4_000  # longer tool inputs/results keep their head and tail
TOOL_TEXT_KEEP: Final = 1_500

SUMMARY_SYSTEM: Final = (
    "You compress conversations between a user and an AI assistant. Write a faithful, "
    "self-contained summary of the conversation you are given, so that the assistant can "
    "carry on the work without it. Keep: what the user asked for and how the request "
    "changed; decisions taken and their reasons; every file path, code identifier "
    "(function, class, variable, command, endpoint) and value that still matters, spelled "
    "exactly; errors met and how they were fixed; what the tools returned that matters; "
    "the state of the work at the end; open tasks and unanswered questions. Do not invent, "
    "do not answer or continue the conversation, do not address the user. Write in the "
    "language of the conversation, as concise Markdown with the headings: Requests, "
    "Decisions, Files and code, Errors and fixes, Current state, Open tasks."
)
SUMMARY_HEADER: Final = (
    "[Conversation summary: the gateway compressed the {count} earliest messages of this "
    "conversation into the summary below.]"
)
SUMMARY_FOOTER: Final = "[End of summary. The most recent messages follow unchanged.]"
SUMMARY_ACK: Final = (
    "Understood. I have the summary of our earlier conversation and will continue from it."
)


# ---------------------------------------------------------------- deciding and cutting


def needs_compression(conv: Conversation, settings: CompressionSettings) -> bool:
    """Whether ``conv`` passes the configured size (estimated tokens, or turns)."""
    if settings.max_messages > 0 and len(conv.turns) > settings.max_messages:
        return True
    return estimate_conversation_tokens(conv) > settings.max_tokens


def is_safe_split(turns: Sequence[Turn], index: int) -> bool:
    """Whether cutting before ``turns[index]`` keeps every tool result with its call.

    A result whose call appears nowhere (an orphan the builder turns into text) does not
    block a cut.
    """
    if not 0 < index < len(turns):
        return False
    older = {part.id for turn in turns[:index] for part in turn.parts if isinstance(part, ToolCall)}
    return not any(
        isinstance(part, ToolResult) and part.tool_use_id in older
        for turn in turns[index:]
        for part in turn.parts
    )


def split_index(turns: Sequence[Turn], keep_last: int) -> int:
    """How many leading turns to summarise so that about ``keep_last`` stay; 0 for none.

    The cut moves to earlier turns until it is safe (:func:`is_safe_split`); the last turn,
    the current message, is always kept.
    """
    index = len(turns) - max(1, keep_last)
    while index > 0 and not is_safe_split(turns, index):
        index -= 1
    return max(index, 0)


def compressed_turns(summary: str, kept: Sequence[Turn], summarised: int) -> tuple[Turn, ...]:
    """The summary turn (plus an acknowledgement when needed) followed by the kept turns."""
    text = "\n".join(
        (
            SUMMARY_HEADER.format(count=summarised),
            "<summary>",
            summary,
            "</summary>",
            SUMMARY_FOOTER,
        )
    )
    head = [Turn("user", (Text(text),))]
    if kept and kept[0].role == "user":
        head.append(Turn("assistant", (Text(SUMMARY_ACK),)))
    return (*head, *kept)


def compressed_conversation(
    conv: Conversation, summary: str, summarised: int, *, cached: bool
) -> Conversation:
    """``conv`` with its first ``summarised`` turns replaced by ``summary``.

    The per-turn sources (used to name client fields in errors) follow the kept turns.
    """
    kept = conv.turns[summarised:]
    turns = compressed_turns(summary, kept, summarised)
    added = len(turns) - len(kept)
    sources = conv.metadata.get(SOURCES_KEY)
    if not (isinstance(sources, tuple) and len(sources) == len(conv.turns)):
        # Anthropic requests keep one turn per message.
        sources = tuple(
            TurnSource((f"messages[{index}]",), (f"messages[{index}].content",) * len(images))
            for index, images in enumerate(turn_images(turn) for turn in conv.turns)
        )
    metadata: dict[str, Any] = {
        **conv.metadata,
        SOURCES_KEY: (TurnSource(),) * added + sources[summarised:],
        "compression": {"summarised_turns": summarised, "cached": cached},
    }
    return dataclasses.replace(conv, turns=turns, metadata=metadata)


# ---------------------------------------------------------------- the summary request


def _clip(text: str, limit: int = TOOL_TEXT_LIMIT, keep: int = TOOL_TEXT_KEEP) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:keep]}\n[... {len(text) - 2 * keep} characters left out ...]\n{text[-keep:]}"


def _render_part(part: Part) -> str | None:
    match part:
        case Text(text=text):
            return text or None
        case Instruction(text=text):
            return f"[system instruction]\n{text}"
        case Image(media_type=media_type):
            return f"[image: {media_type}]"
        case Document(title=title, media_type=media_type, data=data):
            head = f"[document: {title or media_type}]"
            return f"{head}\n{_clip(data)}" if media_type.startswith("text/") else head
        case ToolCall(id=call_id, name=name, input=arguments):
            return f"[tool call {name} id={call_id}]\n{_clip(_json(arguments).decode())}"
        case ToolResult(tool_use_id=call_id, content=content, is_error=is_error):
            label = "tool error" if is_error else "tool result"
            return f"[{label} for {call_id}]\n{_clip(content)}"
        case _:  # Thinking: the assistant's private reasoning; its outcome is in the text
            return None


def render_turn(turn: Turn) -> str:
    """One turn as plain text for the summariser."""
    body = "\n".join(text for part in turn.parts if (text := _render_part(part)) is not None)
    return f"[{turn.role}]\n{body or '(empty)'}"


def chunk_texts(texts: Sequence[str], budget: int) -> list[list[str]]:
    """``texts`` in order, grouped so that each group's UTF-8 size stays within ``budget``.

    A text larger than the budget on its own is cut to its head and tail.
    """
    groups: list[list[str]] = []
    size = budget + 1
    for text in texts:
        length = len(text.encode())
        if length > budget:
            keep = budget // 8  # characters; up to 4 bytes each
            text = _clip(text, limit=0, keep=keep)
            length = len(text.encode())
        if size + length > budget:
            groups.append([])
            size = 0
        groups[-1].append(text)
        size += length + 2
    return groups


def summary_request(
    model: str, rendered: Sequence[str], previous: str | None, max_tokens: int
) -> Conversation:
    """The conversation that asks the upstream for a summary of ``rendered`` turns."""
    blocks = []
    if previous:
        blocks += [
            "Here is the summary of the conversation so far:",
            f"<previous_summary>\n{previous}\n</previous_summary>",
            "And here is how the conversation continued:",
        ]
    else:
        blocks.append("Here is the conversation:")
    blocks.append("<conversation>\n" + "\n\n".join(rendered) + "\n</conversation>")
    blocks.append(
        "Write the updated summary of the whole conversation now, merging the previous "
        "summary with what followed."
        if previous
        else "Write the summary now."
    )
    blocks.append(f"Stay well under {max_tokens} tokens.")
    return Conversation(
        model=model,
        turns=(Turn("user", (Text("\n\n".join(blocks)),)),),
        system=SUMMARY_SYSTEM,
        max_tokens=max_tokens,
        metadata={"purpose": "compression"},
    )


def prefix_digests(turns: Sequence[Turn]) -> list[str]:
    """``digests[n]`` identifies ``turns[:n]`` (a chained SHA-256 of each turn's JSON)."""
    digests = [hashlib.sha256(b"kirogate-compression-v1").hexdigest()]
    for turn in turns:
        digest = hashlib.sha256(digests[-1].encode() + _json(turn)).hexdigest()
        digests.append(digest)
    return digests


def _json(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers past 64 bits (Anthropic bodies may carry them)
        return repr(value).encode()


def _clean_summary(text: str) -> str:
    text = text.strip()
    if text.startswith("<summary>") and text.endswith("</summary>"):
        text = text[len("<summary>") : -len("</summary>")].strip()
    return text


# ---------------------------------------------------------------- the compressor


class Compressor:
    """Compresses conversations that pass the configured size; one per gateway.

    ``summarise`` sends a summary request (see :func:`summary_request`) upstream and returns
    the answer's text. Summaries are kept in an LRU cache of ``cache_size`` entries.
    """

    def __init__(
        self,
        settings: CompressionSettings,
        summarise: Summarise,
        *,
        cache_size: int = 1000,
    ) -> None:
        self._settings = settings
        self._summarise = summarise
        self._cache_size = max(0, cache_size)
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        # One summary per key at a time: concurrent requests of a conversation share it.
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    async def apply(self, conv: Conversation) -> Conversation:
        """``conv``, compressed when it passes the configured size; never raises for a
        failed summary (the conversation then goes on uncompressed, or with the last
        good summary)."""
        settings = self._settings
        if not settings.enabled or not needs_compression(conv, settings):
            return conv
        turns = conv.turns
        session = conv.session_id or ""
        digests = prefix_digests(turns)
        reused = self._lookup(session, digests, turns)
        candidate = conv
        start, previous = reused if reused is not None else (0, None)
        if previous is not None:
            candidate = compressed_conversation(conv, previous, start, cached=True)
            if not needs_compression(candidate, settings):
                log.debug("compression: reused the summary of %d turns", start)
                return candidate
        index = split_index(turns, settings.keep_last)
        if index <= start:
            log.info(
                "compression: %d turns pass the limit but the last %d must be kept; "
                "sending them as they are",
                len(turns) - start,
                settings.keep_last,
            )
            return candidate
        key = (session, digests[index])
        try:
            summary = await self._summary_for(key, conv, start, index, previous)
        except Exception as exc:  # a failed summary must not fail the request
            log.warning(
                "compression failed (%s: %.200s); sending the conversation %s",
                type(exc).__name__,
                str(exc),
                "with its earlier summary" if previous is not None else "uncompressed",
            )
            return candidate
        result = compressed_conversation(conv, summary, index, cached=False)
        log.info(
            "compression: summarised %d of %d turns (%s), about %d -> %d input tokens",
            index,
            len(turns),
            "incrementally" if previous is not None else "from the start",
            estimate_conversation_tokens(conv),
            estimate_conversation_tokens(result),
        )
        return result

    def _lookup(
        self, session: str, digests: Sequence[str], turns: Sequence[Turn]
    ) -> tuple[int, str] | None:
        """The cached summary covering the longest prefix of ``turns`` (never the last turn)."""
        for count in range(len(turns) - 1, 0, -1):
            summary = self._cache.get((session, digests[count]))
            if summary is not None and is_safe_split(turns, count):
                self._cache.move_to_end((session, digests[count]))
                return count, summary
        return None

    async def _summary_for(
        self,
        key: tuple[str, str],
        conv: Conversation,
        start: int,
        end: int,
        previous: str | None,
    ) -> str:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                summary = self._cache.get(key)
                if summary is None:
                    summary = await self._summarise_turns(conv, start, end, previous)
                    self._remember(key, summary)
                return summary
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _summarise_turns(
        self, conv: Conversation, start: int, end: int, previous: str | None
    ) -> str:
        """Fold ``conv.turns[start:end]`` into ``previous``, one summary request per chunk."""
        max_tokens = self._settings.summary_max_tokens
        # Room for the previous summary: up to ~4 characters per token, 4 bytes each.
        budget = max(SUMMARY_INPUT_BYTES - 16 * max_tokens, SUMMARY_INPUT_BYTES // 4)
        rendered = [render_turn(turn) for turn in conv.turns[start:end]]
        summary = previous
        for group in chunk_texts(rendered, budget):
            answer = await self._summarise(summary_request(conv.model, group, summary, max_tokens))
            text = _clean_summary(answer)
            if not text:
                raise ValueError("the upstream answered the summary request with no text")
            summary = text
        assert summary is not None  # end > start, so there was at least one group
        return summary

    def _remember(self, key: tuple[str, str], summary: str) -> None:
        if self._cache_size == 0:
            return
        self._cache[key] = summary
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
