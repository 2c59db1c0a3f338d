"""The plain-text fast path gives the bytes, counts and stop reasons of the general path.

``StreamAssembler.text_passes`` + ``render_text`` (what ``api.streaming.sse_body`` does per
text chunk, for the Anthropic, OpenAI Chat and Responses renderers) against ``render(feed(AssistantText(text)))``, over random streams of text,
``<thinking>``-like fragments, stop sequences, tool fragments and ``max_tokens`` edges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kirogate.convert.anthropic_out import AnthropicStreamRenderer
from kirogate.convert.ir import OutEvent, TextDelta
from kirogate.convert.openai_out import ChatStreamRenderer
from kirogate.convert.responses_out import ResponsesStreamRenderer
from kirogate.convert.stops import OutputEstimate
from kirogate.convert.stream import StreamAssembler
from kirogate.errors import MalformedAnswer
from kirogate.protocol.events import (
    AssistantText,
    KiroEvent,
    ReasoningText,
    ToolUseFragment,
    assistant_text,
    event_frame,
    exception_frame,
    parse_event,
)
from kirogate.protocol.eventstream import FrameDecoder, Message, iter_messages

_PIECES = st.sampled_from(
    ["<thinking>", "</thinking>", "<think", "ing>", "</", "STOP", "ST", "OP", "\n\n", "中文", "😀"]
)
_TEXT = st.one_of(st.text(max_size=12), _PIECES)
_EVENT = st.one_of(
    _TEXT.map(AssistantText),
    _TEXT.map(AssistantText),
    _TEXT.map(AssistantText),
    st.builds(ToolUseFragment, st.sampled_from(["t1", "t2", ""]), st.just("Write"), _TEXT),
    _TEXT.map(ReasoningText),
)


def _pair(dialect: str, options: dict[str, Any]) -> tuple[StreamAssembler, Any]:
    asm = StreamAssembler(
        tool_names={}, context_window=200_000, input_tokens_estimate=10, **options
    )
    if dialect == "anthropic":
        return asm, AnthropicStreamRenderer("m", "msg_1", 10, options["thinking_enabled"])
    if dialect == "responses":
        return asm, _responses()
    return asm, ChatStreamRenderer("m", "chatcmpl-1", 0, True)


def _responses() -> ResponsesStreamRenderer:
    """A Responses renderer whose ids and clock repeat from one instance to the next."""
    ids = iter(range(1000))
    return ResponsesStreamRenderer(
        "m", "resp_1", 5, new_id=lambda: f"{next(ids):04d}", now=lambda: 7
    )


def _general(events: list[KiroEvent], dialect: str, options: dict[str, Any]) -> tuple[bytes, Any]:
    asm, renderer = _pair(dialect, options)
    out = [renderer.start()]
    for event in events:
        if asm.done:
            break
        out.append(renderer.render(asm.feed(event)))
    finish = asm.finish()
    out.append(renderer.render(finish))
    return b"".join(out), finish


def _outcome(run: Callable[[], tuple[bytes, Any]]) -> tuple[bytes, Any] | str:
    """What a path gives, or the error it ends with (random tool fragments are rarely JSON)."""
    try:
        return run()
    except MalformedAnswer as exc:
        return exc.message


def _fast(events: list[KiroEvent], dialect: str, options: dict[str, Any]) -> tuple[bytes, Any]:
    asm, renderer = _pair(dialect, options)
    out = [renderer.start()]
    for event in events:
        if asm.done:
            break
        if type(event) is AssistantText and asm.text_passes(event.content):
            out.append(renderer.render_text(event.content))
            continue
        out.append(renderer.render(asm.feed(event)))
    finish = asm.finish()
    out.append(renderer.render(finish))
    return b"".join(out), finish


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(_EVENT, max_size=25),
    dialect=st.sampled_from(["anthropic", "openai", "responses"]),
    thinking=st.booleans(),
    stops=st.sampled_from([(), ("STOP",), ("\n\n", "中")]),
    max_tokens=st.one_of(st.none(), st.integers(min_value=1, max_value=40)),
)
def test_fast_path_gives_the_same_bytes_and_finish(
    events: list[KiroEvent],
    dialect: str,
    thinking: bool,
    stops: tuple[str, ...],
    max_tokens: int | None,
) -> None:
    options = {"thinking_enabled": thinking, "stop_sequences": stops, "max_tokens": max_tokens}
    assert _outcome(lambda: _fast(events, dialect, options)) == _outcome(
        lambda: _general(events, dialect, options)
    )


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(max_size=30), max_size=30), limit=st.integers(0, 60))
def test_add_within_agrees_with_fits_and_add(texts: list[str], limit: int) -> None:
    fast, slow = OutputEstimate(), OutputEstimate()
    for text in texts:
        fits = slow.fits(text, limit)
        assert fast.add_within(text, limit) is fits
        if fits:
            slow.add(text)
        assert (fast.cjk, fast.other) == (slow.cjk, slow.other)


def test_text_passes_leaves_the_assembler_untouched_when_it_declines() -> None:
    asm = StreamAssembler(
        thinking_enabled=False,
        tool_names={},
        context_window=200_000,
        input_tokens_estimate=10,
        max_tokens=3,
    )
    assert asm.text_passes("abcd")
    assert not asm.text_passes("x" * 40)  # over the limit: feed() cuts it
    assert asm.feed(AssistantText("x" * 40)) == [TextDelta("xxxxxxxx")]
    assert asm.done


def test_text_passes_declines_empty_text_and_open_tool_calls() -> None:
    asm = StreamAssembler(
        thinking_enabled=False, tool_names={}, context_window=200_000, input_tokens_estimate=10
    )
    assert not asm.text_passes("")
    asm.feed(ToolUseFragment("t1", "Bash", '{"a":1'))
    assert not asm.text_passes("after the call")  # feed() must close the call first


@given(st.text())
def test_render_text_is_render_of_a_text_delta(text: str) -> None:
    for make in (
        lambda: AnthropicStreamRenderer("m", "msg_1", 1, False),
        lambda: ChatStreamRenderer("m", "chatcmpl-1", 0, False),
        _responses,
    ):
        fast, slow = make(), make()
        for _ in range(2):  # opening the block, then inside it
            assert fast.render_text(text) == slow.render([TextDelta(text)])


_PAYLOADS = st.one_of(
    st.text().map(lambda text: {"content": text}),
    st.just({"content": 5}),
    st.just({"followupPrompt": {"content": "more?"}}),
    st.just({}),
)


@given(payload=_PAYLOADS, event_type=st.sampled_from(["assistantResponseEvent", "toolUseEvent"]))
def test_assistant_text_is_what_parse_event_puts_in_assistant_text(
    payload: dict[str, Any], event_type: str
) -> None:
    (message,) = iter_messages(event_frame(event_type, payload))
    event = parse_event(message)
    text = assistant_text(message)
    if text is not None:
        assert event == AssistantText(text)
    else:
        assert (
            event_type != "assistantResponseEvent"
            or "content" not in payload
            or (not isinstance(payload["content"], str))
        )


def test_assistant_text_ignores_non_event_frames() -> None:
    for message in (
        Message({":message-type": "exception"}, b'{"content":"x"}'),
        Message({":event-type": "assistantResponseEvent"}, b"[1]"),
        Message({":event-type": "assistantResponseEvent"}, b""),
        next(iter_messages(exception_frame("X", {"content": "x"}))),
    ):
        assert assistant_text(message) is None


def test_decoded_messages_and_text_events_equal_constructed_ones() -> None:
    frame = event_frame("assistantResponseEvent", {"content": "héllo"})
    whole = FrameDecoder().feed(frame)
    split = FrameDecoder()
    parts = split.feed(frame[:7]) + split.feed(frame[7:])  # through the bytearray buffer
    for message in (*whole, *parts):
        assert type(message) is Message
        assert message == Message(dict(message.headers), b'{"content":"h\xc3\xa9llo"}')
        event = parse_event(message)
        assert event == AssistantText("héllo") and hash(event) == hash(AssistantText("héllo"))
        assert repr(event) == "AssistantText(content='héllo')"


def test_plain_text_delta_equals_a_constructed_one() -> None:
    asm = StreamAssembler(
        thinking_enabled=False, tool_names={}, context_window=200_000, input_tokens_estimate=10
    )
    out: list[OutEvent] = asm.feed(AssistantText("hi"))
    assert out == [TextDelta("hi")] and type(out[0]) is TextDelta
    assert hash(out[0]) == hash(TextDelta("hi"))
