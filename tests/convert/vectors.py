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
from kirogate.emulator import vectors as emulator_vectors
from kirogate.errors import KirogateError
from kirogate.protocol.events import parse_event
from kirogate.protocol.eventstream import FrameDecoder

MODEL = "claude-sonnet-4.5"
WINDOW = 200_000
INPUT_ESTIMATE = 42
MESSAGE_ID = "msg_0123456789abcdef0123456789abcdef"
COMPLETION_ID = "chatcmpl-0123456789abcdef0123456789abcdef"
CREATED = 1767225600

Dialect = Literal["anthropic", "anthropic-cc", "openai"]
DIALECTS: tuple[Dialect, ...] = ("anthropic", "anthropic-cc", "openai")


@dataclass(frozen=True)
class Vector:
    name: str
    frames: tuple[bytes, ...]
    thinking: bool = False
    tool_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def body(self) -> bytes:
        return b"".join(self.frames)


# The byte-exact frames live with the emulator, which serves them as scenarios.
THINKING_VECTORS = frozenset({"tv4", "tv5", "tv10_reasoning"})
VECTOR_NAMES = (
    "tv1",
    "tv2",
    "tv3",
    "tv4",
    "tv5",
    "tv6",
    "tv6_throttle",
    "tv6_error",
    "tv7",
    "tv8",
    "tv10",
    "tv10_dup",
    "tv10_reasoning",
)


def _frames(name: str) -> tuple[bytes, ...]:
    return tuple(step.data for step in getattr(emulator_vectors, name)())


VECTORS: dict[str, Vector] = {
    name: Vector(name, _frames(name), thinking=name in THINKING_VECTORS) for name in VECTOR_NAMES
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
