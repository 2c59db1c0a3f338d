"""Building blocks for generated replies: echo text, benchmark text, tool-call fragments.

Formulas (documented so tests and benchmarks can check the bytes):

- echo: ``"Echo: " + content`` where ``content`` is the current user message content with
  ``[[emu:…]]`` markers and injected thinking tags removed and surrounding whitespace
  stripped; when that is empty and the message carries tool results, the texts of the
  results joined with ``"\\n"``. Sent in chunks of ``max(8, ceil(len/64))`` characters.
- paced (benchmark) text: chunk ``k`` (0-based) of size ``s`` is
  ``"".join(ALPHABET[(k + j) % 26] for j in range(s))``; neighbours always differ.
- input tokens: ``ceil(len(raw request body) / 4)``; ``contextUsagePercentage`` is
  ``round(tokens * 100 / window, 4)`` with the model's window.
- credits: ``round(0.01 + len(reply text) / 100_000, 5)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Final

import orjson

from kirogate.protocol.events import event_frame

ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz"
MARKER_RE: Final = re.compile(r"\[\[emu:(?P<name>[A-Za-z0-9_.-]+)(?P<args>[^\]]*)\]\]")
THINKING_TAGS_RE: Final = re.compile(
    r"<(thinking_mode|max_thinking_length|thinking_effort|thinking_instruction)>.*?</\1>\s*",
    re.DOTALL,
)
THINKING_MODE_RE: Final = re.compile(r"<thinking_mode>\s*(enabled|adaptive|interleaved)\s*<")
TOOL_FRAGMENT_CHARS: Final = 7


def clean_content(content: str) -> str:
    """The user's words: markers and prompt-injected thinking tags removed."""
    return THINKING_TAGS_RE.sub("", MARKER_RE.sub("", content)).strip()


def echo_text(content: str, tool_result_texts: Iterable[str]) -> str:
    said = clean_content(content)
    if not said:
        said = "\n".join(tool_result_texts)
    return f"Echo: {said}"


def split_text(text: str, size: int) -> list[str]:
    """Split into pieces of about ``size`` characters, no two neighbours equal.

    JW drops a text event identical to the previous one (spec data §4.4), so a piece that
    would repeat its predecessor is lengthened by a character (or, at the end, merged).
    """
    pieces: list[str] = []
    start, end_of_text, step = 0, len(text), max(size, 1)
    while start < end_of_text:
        end = min(start + step, end_of_text)
        while pieces and text[start:end] == pieces[-1] and end < end_of_text:
            end += 1
        piece = text[start:end]
        if pieces and piece == pieces[-1]:
            pieces[-1] += piece
        else:
            pieces.append(piece)
        start = end
    return pieces


def echo_chunk_size(text: str) -> int:
    return max(8, math.ceil(len(text) / 64))


def paced_chunks(count: int, size: int) -> list[str]:
    return ["".join(ALPHABET[(k + j) % 26] for j in range(size)) for k in range(count)]


def input_tokens(raw_size: int) -> int:
    return max(1, math.ceil(raw_size / 4))


def context_percentage(raw_size: int, window: int) -> float:
    return round(input_tokens(raw_size) * 100 / window, 4)


def credits_for(text: str) -> float:
    return round(0.01 + len(text) / 100_000, 5)


# ---------------------------------------------------------------- frames


def text_frames(pieces: Iterable[str]) -> list[bytes]:
    return [event_frame("assistantResponseEvent", {"content": piece}) for piece in pieces]


def metering_frame(credits: float) -> bytes:
    return event_frame(
        "meteringEvent", {"unit": "credit", "unitPlural": "credits", "usage": credits}
    )


def context_frame(percentage: float) -> bytes:
    return event_frame("contextUsageEvent", {"contextUsagePercentage": percentage})


def tool_call_frames(
    name: str, tool_use_id: str, arguments: str, fragment_chars: int = TOOL_FRAGMENT_CHARS
) -> list[bytes]:
    """One call as spec data §4.3 recommends (JW-friendly key order, name + id on every frame).

    The first frame opens the call with an empty ``input``; fragments are character slices of
    ``arguments``; the last frame carries ``stop: true``.
    """
    out = [event_frame("toolUseEvent", {"name": name, "toolUseId": tool_use_id, "input": ""})]
    step = max(fragment_chars, 1)
    for start in range(0, len(arguments), step):
        fragment = arguments[start : start + step]
        out.append(
            event_frame("toolUseEvent", {"input": fragment, "name": name, "toolUseId": tool_use_id})
        )
    out.append(event_frame("toolUseEvent", {"name": name, "stop": True, "toolUseId": tool_use_id}))
    return out


def reasoning_frames(text: str, signature: str, chunk: int = 24) -> list[bytes]:
    """Native thinking (spec data §5.4): text events, then the closing signature."""
    out = [
        event_frame("reasoningContentEvent", {"text": piece}) for piece in split_text(text, chunk)
    ]
    out.append(event_frame("reasoningContentEvent", {"signature": signature}))
    return out


def json_arguments(value: object) -> str:
    return orjson.dumps(value).decode()
