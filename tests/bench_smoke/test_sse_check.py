"""The benchmark's response checkers accept every golden transcript and reject broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.sse_check import AnthropicChecker, ChatChecker, EventStreamChecker, InvalidStream

from kirogate.emulator.answers import paced_chunks, text_frames

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
TRANSCRIPTS = sorted(GOLDEN.glob("*.sse"))


def checker_for(path: Path) -> AnthropicChecker | ChatChecker:
    return ChatChecker() if ".openai." in path.name else AnthropicChecker()


def feed_all(
    checker: AnthropicChecker | ChatChecker | EventStreamChecker, data: bytes, step: int
) -> None:
    for start in range(0, len(data), step):
        checker.feed(data[start : start + step])
    checker.finish()


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.name)
def test_golden_transcripts_validate_unless_they_end_in_an_error(path: Path) -> None:
    data = path.read_bytes()
    checker = checker_for(path)
    if b"error" in data and ("_error" in path.name or "_throttle" in path.name):
        with pytest.raises(InvalidStream, match="error"):
            feed_all(checker, data, 7)
        return
    feed_all(checker, data, 7)


def test_text_is_reassembled_from_split_events() -> None:
    data = (GOLDEN / "tv1.anthropic.sse").read_bytes()
    whole, split = AnthropicChecker(), AnthropicChecker()
    feed_all(whole, data, len(data))
    feed_all(split, data, 1)
    assert whole.text == split.text != ""


def test_first_text_is_reported_for_time_to_first_token() -> None:
    checker = ChatChecker()
    lines = (GOLDEN / "tv1.openai.sse").read_bytes().split(b"\n\n")
    assert checker.feed(lines[0] + b"\n\n") is False  # the role chunk
    assert checker.feed(lines[1] + b"\n\n") is True


ANTHROPIC_START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"role":"assistant"}}\n\n'
)
BLOCK = (
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
)
DELTA = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"hi"}}\n\n'
)
STOP = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
MESSAGE_DELTA = (
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":1}}\n\n'
)
MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (BLOCK + DELTA, "first event"),
        (ANTHROPIC_START + DELTA, "not open"),
        (ANTHROPIC_START + BLOCK + BLOCK, "block is open"),
        (ANTHROPIC_START + BLOCK + DELTA + MESSAGE_DELTA, "block is open"),
        (ANTHROPIC_START + BLOCK + DELTA + STOP + MESSAGE_DELTA, "without message_stop"),
        (ANTHROPIC_START + BLOCK + DELTA + STOP + MESSAGE_DELTA + MESSAGE_STOP + DELTA, "after"),
        (ANTHROPIC_START + BLOCK + DELTA + STOP + MESSAGE_STOP, "before message_delta"),
        (ANTHROPIC_START + BLOCK.replace(b'"index":0', b'"index":1'), "expected 0"),
        (ANTHROPIC_START + b"event: ping\ndata: {nope\n\n", "not JSON"),
        (ANTHROPIC_START + b"garbage line\n\n", "unexpected SSE line"),
        (ANTHROPIC_START + BLOCK + DELTA[:-1], "inside an event"),
    ],
)
def test_broken_anthropic_streams_are_rejected(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidStream, match=reason):
        feed_all(AnthropicChecker(), body, 5)


def chunk(delta: str, finish: str = "null", chunk_id: str = "c1") -> bytes:
    return (
        b'data: {"id":"%s","object":"chat.completion.chunk","model":"m","choices":[{"index":0,'
        b'"delta":%s,"finish_reason":%s}]}\n\n'
        % (chunk_id.encode(), delta.encode(), finish.encode())
    )


ROLE = chunk('{"role":"assistant","content":""}')
DONE = b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (chunk('{"content":"x"}') + chunk("{}", '"stop"') + DONE, "role"),
        (ROLE + chunk('{"content":"x"}') + DONE, "before a finish_reason"),
        (ROLE + chunk("{}", '"stop"') + DONE + DONE, "after"),
        (ROLE + chunk('{"content":"x"}', chunk_id="c2"), "changed"),
        (ROLE + chunk("{}", '"stop"') + chunk('{"content":"late"}') + DONE, "after the finish"),
        (ROLE + chunk("{}", '"weird"'), "unknown finish_reason"),
        (ROLE + b'data: {"error":{"message":"x"}}\n\n', "error chunk"),
        (ROLE + chunk("{}", '"stop"'), "without"),
    ],
)
def test_broken_openai_streams_are_rejected(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidStream, match=reason):
        feed_all(ChatChecker(), body, 9)


def test_event_stream_text_is_reassembled_and_a_cut_body_rejected() -> None:
    pieces = paced_chunks(5, 7)
    body = b"".join(text_frames(pieces))
    checker = EventStreamChecker()
    feed_all(checker, body, 3)
    assert checker.text == "".join(pieces)
    with pytest.raises(InvalidStream, match="bad event stream"):
        feed_all(EventStreamChecker(), body[:-2], 3)
