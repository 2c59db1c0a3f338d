"""sse_body's plain-text fast path writes the bytes the general path renders."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kirogate.api.streaming import sse_body
from kirogate.convert.anthropic_out import AnthropicStreamRenderer
from kirogate.convert.ir import OutEvent, TextDelta
from kirogate.convert.openai_out import ChatStreamRenderer
from kirogate.convert.render import StreamRenderer
from kirogate.convert.stream import StreamAssembler
from kirogate.errors import KirogateError, MalformedAnswer
from kirogate.protocol.events import event_frame, parse_event
from kirogate.protocol.eventstream import iter_messages
from tests.memory_upstream import FakeAnswer, MemoryUpstream, assembler

_TEXT = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["<thinking>", "</thinking>", "STOP", "\n\n", "中文", "😀"]),
)
_FRAME = st.one_of(
    _TEXT.map(lambda t: event_frame("assistantResponseEvent", {"content": t})),
    _TEXT.map(lambda t: event_frame("assistantResponseEvent", {"content": t})),
    _TEXT.map(
        lambda t: event_frame("toolUseEvent", {"toolUseId": "t1", "name": "Bash", "input": t})
    ),
    st.just(event_frame("meteringEvent", {"usage": 0.1})),
)


class _NoTextRenderer(StreamRenderer):
    """A renderer drawing text through ``render`` only: the general path's bytes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def start(self) -> bytes:
        return self.inner.start()  # type: ignore[no-any-return]

    def render(self, events: list[OutEvent]) -> bytes:
        return self.inner.render(events)  # type: ignore[no-any-return]

    def render_text(self, text: str) -> bytes:
        return self.render([TextDelta(text)])

    def error(self, exc: KirogateError) -> bytes:
        return self.inner.error(exc)  # type: ignore[no-any-return]


def _renderer(dialect: str, thinking: bool) -> Any:
    if dialect == "anthropic":
        return AnthropicStreamRenderer("m", "msg_1", 10, thinking)
    return ChatStreamRenderer("m", "chatcmpl-1", 0, True)


def _expected(frames: list[bytes], dialect: str, options: dict[str, Any]) -> bytes:
    asm: StreamAssembler = assembler(**options)
    renderer = _renderer(dialect, options["thinking_enabled"])
    out = [renderer.start()]
    try:
        for frame in frames:
            for message in iter_messages(frame):
                if not asm.done:
                    out.append(renderer.render(asm.feed(parse_event(message))))
        out.append(renderer.render(asm.finish()))
    except MalformedAnswer as exc:  # random tool fragments are rarely JSON: the error event
        out.append(renderer.error(exc))
    return b"".join(out)


async def _streamed(frames: list[bytes], renderer: Any, options: dict[str, Any]) -> bytes:
    up = MemoryUpstream()
    up.send(frames[0])
    first = await up.stream.next_messages()
    assert isinstance(first, list)
    for frame in frames[1:]:
        up.send(frame)
    up.end()
    answer = FakeAnswer(up.stream, first, assembler(**options))
    return b"".join([chunk async for chunk in sse_body(answer, renderer)])  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.lists(_FRAME, min_size=1, max_size=12),
    dialect=st.sampled_from(["anthropic", "openai"]),
    thinking=st.booleans(),
    stops=st.sampled_from([(), ("STOP",)]),
    max_tokens=st.one_of(st.none(), st.integers(1, 30)),
)
def test_sse_body_writes_what_the_general_path_renders(
    frames: list[bytes],
    dialect: str,
    thinking: bool,
    stops: tuple[str, ...],
    max_tokens: int | None,
) -> None:
    options = {"thinking_enabled": thinking, "stop_sequences": stops, "max_tokens": max_tokens}
    expected = _expected(frames, dialect, options)
    fast = asyncio.run(_streamed(frames, _renderer(dialect, thinking), options))
    plain = asyncio.run(_streamed(frames, _NoTextRenderer(_renderer(dialect, thinking)), options))
    assert fast == expected
    assert plain == expected
