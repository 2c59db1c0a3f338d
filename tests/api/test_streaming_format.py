"""sse_body with an output format: the text is held, checked and sent once; pings meanwhile."""

from __future__ import annotations

import asyncio

from kirogate.api.streaming import COMMENT_PING, sse_body
from kirogate.convert.anthropic_out import AnthropicStreamRenderer
from kirogate.convert.ir import JsonFormat
from kirogate.convert.json_format import FormattedAssembler
from kirogate.convert.openai_out import ChatStreamRenderer
from kirogate.protocol.events import event_frame
from tests.memory_upstream import FakeAnswer, MemoryUpstream

TITLE = JsonFormat(
    "json_schema",
    {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
)


def text(content: str) -> bytes:
    return event_frame("assistantResponseEvent", {"content": content})


async def formatted_answer(up: MemoryUpstream, first: str) -> FakeAnswer:
    up.send(text(first))
    event = await up.stream.next_messages()
    assert isinstance(event, list)
    assembler = FormattedAssembler(
        TITLE,
        thinking_enabled=False,
        tool_names={},
        context_window=200_000,
        input_tokens_estimate=10,
    )
    return FakeAnswer(up.stream, event, assembler)


def anthropic() -> AnthropicStreamRenderer:
    return AnthropicStreamRenderer("claude-sonnet-4.5", "msg_1", 10, False)


async def collect(body: object) -> list[bytes]:
    return [chunk async for chunk in body]  # type: ignore[attr-defined]


async def test_held_answer_goes_out_once_and_clean_at_the_end() -> None:
    up = MemoryUpstream()
    answer = await formatted_answer(up, "```json\n")
    up.send(text('{"title": '), text('"A"}\n```'))
    up.end()
    writes = await collect(sse_body(answer, anthropic()))  # type: ignore[arg-type]
    body = b"".join(writes)
    assert body.count(b"event: content_block_delta") == 1
    assert b'"text":"{\\"title\\": \\"A\\"}"' in writes[-1]
    assert b"```" not in body
    assert answer.closed == 1


async def test_mismatch_ends_the_stream_with_an_error_event() -> None:
    up = MemoryUpstream()
    answer = await formatted_answer(up, "no JSON ")
    up.send(text("at all"))
    up.end()
    writes = await collect(sse_body(answer, anthropic()))  # type: ignore[arg-type]
    assert writes[-1].startswith(b"event: error")
    assert b"not JSON" in writes[-1]
    assert b"content_block_delta" not in b"".join(writes)
    assert answer.error is not None and answer.error.status == 502


async def test_held_text_pings_while_the_model_keeps_writing() -> None:
    up = MemoryUpstream()
    answer = await formatted_answer(up, '{"title": "')
    loop = asyncio.get_running_loop()
    for step in range(1, 8):
        loop.call_later(0.03 * step, up.send, text("a"))  # never silent for a ping interval
    loop.call_later(0.27, up.send, text('"}'))
    loop.call_later(0.28, up.end)
    writes = await collect(sse_body(answer, anthropic(), ping_interval=0.05))  # type: ignore[arg-type]
    assert writes.count(anthropic().ping()) >= 2
    assert b'"text":"{\\"title\\": \\"aaaaaaa\\"}"' in writes[-1]


async def test_dialects_without_ping_events_get_sse_comments() -> None:
    up = MemoryUpstream()
    answer = await formatted_answer(up, '{"title": "')
    loop = asyncio.get_running_loop()
    for step in range(1, 8):
        loop.call_later(0.03 * step, up.send, text("b"))
    loop.call_later(0.27, up.send, text('"}'))
    loop.call_later(0.28, up.end)
    renderer = ChatStreamRenderer("claude-sonnet-4.5", "chatcmpl-1", 0, False)
    writes = await collect(sse_body(answer, renderer, ping_interval=0.05))  # type: ignore[arg-type]
    assert writes.count(COMMENT_PING) >= 2
    assert b"data: [DONE]" in writes[-1]
