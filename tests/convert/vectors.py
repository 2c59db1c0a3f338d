"""Spec data §9 test vectors TV1–TV10 (TV9 is HTTP-level, not a stream) and the pipeline
decode -> assemble -> render that the golden, SDK and benchmark tests share."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kirogate.convert.anthropic_out import (
    AnthropicAggregator,
    AnthropicStreamRenderer,
    BufferedAnthropicRenderer,
)
from kirogate.convert.ir import OutEvent
from kirogate.convert.openai_out import ChatAggregator, ChatStreamRenderer
from kirogate.convert.stream import StreamAssembler
from kirogate.errors import KirogateError
from kirogate.protocol.events import error_frame, event_frame, exception_frame, parse_event
from kirogate.protocol.eventstream import FrameDecoder

MODEL = "claude-sonnet-4.5"
WINDOW = 200_000
INPUT_ESTIMATE = 42
MESSAGE_ID = "msg_0123456789abcdef0123456789abcdef"
COMPLETION_ID = "chatcmpl-0123456789abcdef0123456789abcdef"
CREATED = 1767225600

Dialect = Literal["anthropic", "anthropic-cc", "openai"]
DIALECTS: tuple[Dialect, ...] = ("anthropic", "anthropic-cc", "openai")


def text(content: str) -> bytes:
    return event_frame("assistantResponseEvent", {"content": content})


def tool(payload: dict[str, Any]) -> bytes:
    return event_frame("toolUseEvent", payload)


def metering(usage: float) -> bytes:
    return event_frame("meteringEvent", {"unit": "credit", "unitPlural": "credits", "usage": usage})


def context(percentage: float) -> bytes:
    return event_frame("contextUsageEvent", {"contextUsagePercentage": percentage})


@dataclass(frozen=True)
class Vector:
    name: str
    frames: tuple[bytes, ...]
    thinking: bool = False
    tool_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def body(self) -> bytes:
        return b"".join(self.frames)


_TV2 = "tooluse_Q1w2E3r4T5y6U7i8O9p0As"
_TV6 = (text("Here is a very long essay..."), text(" and it continues"))
_TV10_NOISE = (
    text("Answer"),
    event_frame(
        "followupPromptEvent",
        {
            "followupPrompt": {
                "content": "Tell me more",
                "userIntent": "SUGGEST_ALTERNATE_IMPLEMENTATION",
            }
        },
    ),
    event_frame("codeReferenceEvent", {"references": []}),
    event_frame(
        "supplementaryWebLinksEvent",
        {"supplementaryWebLinks": [{"url": "https://example.com", "title": "Ex"}]},
    ),
    event_frame("messageMetadataEvent", {"conversationId": "c1", "utteranceId": "u1"}),
    text(" done."),
)
_TV10_TAIL = (metering(0.01), context(0.25))

VECTORS: dict[str, Vector] = {
    v.name: v
    for v in [
        Vector("tv1", (text("Hello"), text(", world!"), metering(0.0123), context(1.234))),
        Vector(
            "tv2",
            (
                text("I'll list the files."),
                tool({"name": "Bash", "toolUseId": _TV2, "input": ""}),
                tool({"input": '{"comm', "name": "Bash", "toolUseId": _TV2}),
                tool({"input": 'and": "ls -', "name": "Bash", "toolUseId": _TV2}),
                tool({"input": 'la"}', "name": "Bash", "toolUseId": _TV2}),
                tool({"name": "Bash", "stop": True, "toolUseId": _TV2}),
                metering(0.02),
                context(3.5),
            ),
        ),
        Vector(
            "tv3",
            (
                tool({"name": "Read", "toolUseId": "tooluse_A", "input": '{"file_path":"/tmp/ä'}),
                tool({"input": 'ö.txt"}', "name": "Read", "toolUseId": "tooluse_A"}),
                tool({"name": "Read", "stop": True, "toolUseId": "tooluse_A"}),
                tool(
                    {
                        "name": "Read",
                        "toolUseId": "tooluse_B",
                        "input": '{"file_path":"/tmp/b.txt"}',
                    }
                ),
                tool({"name": "Read", "stop": True, "toolUseId": "tooluse_B"}),
                context(0.9),
            ),
        ),
        Vector(
            "tv4",
            (
                text("\n\n<thin"),
                text("king>\nThe user asks 2+2. Not `</thinking>` yet."),
                text(" It is 4.\n</thi"),
                text("nking>"),
                text("\n\nThe answer is **4**."),
                context(0.5),
            ),
            thinking=True,
        ),
        Vector(
            "tv5",
            (
                text("<thinking>\nNeed to read the file.\n</thinking>"),
                tool({"name": "Read", "toolUseId": "tooluse_C", "input": '{"file_path":"a.py"}'}),
                tool({"name": "Read", "stop": True, "toolUseId": "tooluse_C"}),
                context(2.0),
            ),
            thinking=True,
        ),
        Vector(
            "tv6",
            (
                *_TV6,
                exception_frame(
                    "ContentLengthExceededException",
                    {"message": "Response content length exceeded the limit."},
                ),
            ),
        ),
        Vector(
            "tv6_throttle",
            (*_TV6, exception_frame("ThrottlingException", {"message": "Rate exceeded"})),
        ),
        Vector(
            "tv6_error",
            (
                *_TV6,
                error_frame(
                    "InternalServerException",
                    "Encountered an unexpected error when processing the request, please try again.",
                ),
            ),
        ),
        Vector(
            "tv7",
            (
                text("Writing the file now."),
                tool(
                    {
                        "name": "Write",
                        "toolUseId": "tooluse_W",
                        "input": '{"file_path":"/src/big.py","content":"import os\\n',
                    }
                ),
                tool({"input": "def main():\\n    pri", "name": "Write", "toolUseId": "tooluse_W"}),
            ),
        ),
        Vector("tv8", (text("Ok."), context(100.0))),
        Vector("tv10", (*_TV10_NOISE, *_TV10_TAIL)),
        Vector("tv10_dup", (*_TV10_NOISE, text(" done."), *_TV10_TAIL)),
        Vector(
            "tv10_reasoning",
            (
                event_frame("reasoningContentEvent", {"text": "Let me think."}),
                event_frame("reasoningContentEvent", {"signature": "sig_abc"}),
                *_TV10_NOISE,
                *_TV10_TAIL,
            ),
            thinking=True,
        ),
    ]
}
ERROR_VECTORS = frozenset({"tv6_throttle", "tv6_error"})


def assembler(vector: Vector, **kw: Any) -> StreamAssembler:
    return StreamAssembler(
        thinking_enabled=vector.thinking,
        tool_names=vector.tool_names,
        context_window=WINDOW,
        input_tokens_estimate=INPUT_ESTIMATE,
        **kw,
    )


def split(body: bytes, cuts: Iterable[int]) -> Iterator[bytes]:
    start = 0
    for cut in sorted(cuts):
        yield body[start:cut]
        start = cut
    yield body[start:]


def renderer(
    vector: Vector, dialect: Dialect
) -> AnthropicStreamRenderer | BufferedAnthropicRenderer | ChatStreamRenderer:
    if dialect == "anthropic":
        return AnthropicStreamRenderer(MODEL, MESSAGE_ID, INPUT_ESTIMATE, vector.thinking)
    if dialect == "anthropic-cc":
        return BufferedAnthropicRenderer(MODEL, MESSAGE_ID, INPUT_ESTIMATE, vector.thinking)
    return ChatStreamRenderer(MODEL, COMPLETION_ID, CREATED, include_usage=True)


def transcript(
    vector: Vector, dialect: Dialect, chunks: Iterable[bytes] | None = None, **kw: Any
) -> bytes:
    """The SSE bytes a client gets; ``chunks`` splits the upstream body (default: one piece)."""
    out = renderer(vector, dialect)
    asm = assembler(vector, **kw)
    decoder = FrameDecoder()
    parts = [out.start()]
    try:
        for chunk in chunks if chunks is not None else (vector.body,):
            for message in decoder.feed(chunk):
                parts.append(out.render(asm.feed(parse_event(message))))
        decoder.finish()
        parts.append(out.render(asm.finish()))
    except KirogateError as exc:
        parts.append(out.error(exc))
    return b"".join(parts)


def out_events(vector: Vector, **kw: Any) -> list[OutEvent]:
    """Everything the assembler yields for the vector (raises on fatal exception frames)."""
    asm = assembler(vector, **kw)
    events: list[OutEvent] = []
    decoder = FrameDecoder()
    for message in decoder.feed(vector.body):
        events.extend(asm.feed(parse_event(message)))
    decoder.finish()
    events.extend(asm.finish())
    return events


def anthropic_body(vector: Vector, **kw: Any) -> dict[str, Any]:
    agg = AnthropicAggregator(MODEL, MESSAGE_ID, vector.thinking)
    agg.feed_all(out_events(vector, **kw))
    return agg.body()


def openai_body(vector: Vector, **kw: Any) -> dict[str, Any]:
    agg = ChatAggregator(MODEL, COMPLETION_ID, CREATED)
    agg.feed_all(out_events(vector, **kw))
    return agg.body()


GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"


def check_golden(filename: str, data: bytes) -> None:
    """Compare with ``tests/fixtures/golden/<filename>``; ``UPDATE_GOLDEN=1`` rewrites it."""
    path = GOLDEN / filename
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(data)
        return
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1, then review it"
    assert data.decode() == path.read_text(encoding="utf-8")
