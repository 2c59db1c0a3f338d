"""sse_body: one write per upstream chunk, pings on silence, error events, the idle timeout."""

from __future__ import annotations

import asyncio

import pytest

from kirogate.api.streaming import FinalChunk, sse_body, sse_response
from kirogate.convert.anthropic_out import AnthropicStreamRenderer
from kirogate.convert.openai_out import ChatStreamRenderer
from kirogate.protocol.events import AssistantText, event_frame, exception_frame, parse_event
from tests.memory_upstream import FakeAnswer, MemoryUpstream, assembler


def text(content: str) -> bytes:
    return event_frame("assistantResponseEvent", {"content": content})


def anthropic() -> AnthropicStreamRenderer:
    return AnthropicStreamRenderer("claude-sonnet-4.5", "msg_1", 10, False)


async def answer_for(up: MemoryUpstream, **kw: object) -> FakeAnswer:
    """As ``Gateway.open_answer`` hands it over: the first event already read."""
    up.send(text("Hi"))
    first = await up.stream.next_messages()
    assert isinstance(first, list)
    assert [parse_event(m) for m in first] == [AssistantText("Hi")]
    return FakeAnswer(up.stream, first, assembler(**kw))


async def collect(body: object) -> list[bytes]:
    return [chunk async for chunk in body]  # type: ignore[attr-defined]


async def test_every_event_of_an_upstream_chunk_goes_out_in_one_write() -> None:
    up = MemoryUpstream()
    answer = await answer_for(up)
    up.send(text(" one"), text(" two"), text(" three"))
    up.end()
    writes = await collect(sse_body(answer, anthropic()))  # type: ignore[arg-type]
    assert len(writes) == 3  # head with the first event, the chunk, the end
    assert writes[1].count(b"event: content_block_delta") == 3
    assert b'"text":" one"' in writes[1] and b'"text":" three"' in writes[1]
    assert writes[2].endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert answer.closed == 1
    assert up.response.released


async def test_silence_sends_pings_and_the_text_stays_whole() -> None:
    up = MemoryUpstream()
    answer = await answer_for(up)
    loop = asyncio.get_running_loop()
    loop.call_later(0.12, up.send, text(" there"))
    loop.call_later(0.15, up.end)
    writes = await collect(sse_body(answer, anthropic(), ping_interval=0.05))  # type: ignore[arg-type]
    body = b"".join(writes)
    assert body.count(b"event: ping") >= 1
    assert body.index(b'"text":"Hi"') < body.index(b"event: ping") < body.index(b'"text":" there"')


async def test_idle_upstream_ends_with_an_error_event_despite_pings() -> None:
    up = MemoryUpstream(idle_timeout=0.2)
    answer = await answer_for(up)
    writes = await collect(sse_body(answer, anthropic(), ping_interval=0.05))  # type: ignore[arg-type]
    body = b"".join(writes)
    assert body.count(b"event: ping") >= 2
    assert writes[-1].startswith(b"event: error")
    assert b"mid-stream" in writes[-1]
    assert answer.closed == 1
    assert up.response.closed


async def test_events_before_a_mid_chunk_exception_are_written_before_the_error() -> None:
    up = MemoryUpstream()
    answer = await answer_for(up)
    up.send(text(" partial"), exception_frame("InternalServerException", {"message": "boom"}))
    up.end()
    writes = await collect(sse_body(answer, anthropic()))  # type: ignore[arg-type]
    last = writes[-1]
    assert last.index(b'"text":" partial"') < last.index(b"event: error")
    assert b"event: message_stop" not in b"".join(writes)
    assert answer.error is not None  # the request log records how the stream ended
    assert answer.error.status >= 500


async def test_good_events_before_a_corrupt_frame_reach_the_client() -> None:
    bad = bytearray(text(" lost?"))
    bad[-1] ^= 0xFF
    up = MemoryUpstream()
    answer = await answer_for(up)
    up.send(text(" kept"), bytes(bad))
    writes = await collect(sse_body(answer, anthropic()))  # type: ignore[arg-type]
    body = b"".join(writes)
    assert body.index(b'"text":" kept"') < body.index(b"event: error")
    assert b"lost?" not in body


async def test_stop_sequence_mid_chunk_stops_reading_the_chunk() -> None:
    up = MemoryUpstream()
    answer = await answer_for(up, stop_sequences=["STOP"])
    up.send(text(" a STOP b"), text(" never"))
    body = b"".join(await collect(sse_body(answer, anthropic())))  # type: ignore[arg-type]
    assert b"never" not in body
    assert b'"stop_reason":"stop_sequence"' in body
    assert up.response.closed  # the rest of the upstream answer is not read


async def test_openai_stream_ends_with_done() -> None:
    up = MemoryUpstream()
    answer = await answer_for(up)
    up.send(text(" world"))
    up.end()
    renderer = ChatStreamRenderer("claude-sonnet-4.5", "chatcmpl-1", 0, False)
    body = b"".join(await collect(sse_body(answer, renderer)))  # type: ignore[arg-type]
    assert body.endswith(b"data: [DONE]\n\n")
    assert b'"content":" world"' in body


async def test_closing_the_body_early_closes_the_answer() -> None:
    up = MemoryUpstream()
    answer = await answer_for(up)
    up.send(text(" more"))
    body = sse_body(answer, anthropic(), ping_interval=5)  # type: ignore[arg-type]
    await anext(body)
    await body.aclose()
    assert answer.closed == 1
    assert up.response.closed


async def test_empty_upstream_answer_still_ends_the_message() -> None:
    up = MemoryUpstream()
    up.end()
    answer = FakeAnswer(up.stream, None, assembler())
    body = b"".join(await collect(sse_body(answer, anthropic())))  # type: ignore[arg-type]
    assert body.startswith(b"event: message_start")
    assert body.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')


# ---------------------------------------------------------------- the ASGI response


class Client:
    """ASGI receive/send of a client that may hang up."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []
        self.hang_up = asyncio.Event()

    async def receive(self) -> dict[str, object]:
        await self.hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, object]) -> None:
        self.messages.append(message)


SCOPE = {"type": "http", "asgi": {"spec_version": "2.3"}}


async def test_final_chunk_goes_out_with_the_end_of_the_body() -> None:
    async def body():  # type: ignore[no-untyped-def]
        yield b"one"
        yield FinalChunk(b"two")

    client = Client()
    await sse_response(body())(SCOPE, client.receive, client.send)
    assert [m["type"] for m in client.messages] == [
        "http.response.start",
        *["http.response.body"] * 2,
    ]
    assert client.messages[1] == {"type": "http.response.body", "body": b"one", "more_body": True}
    assert client.messages[2] == {"type": "http.response.body", "body": b"two", "more_body": False}
    assert type(client.messages[2]["body"]) is bytes
    headers = dict(client.messages[0]["headers"])  # type: ignore[arg-type]
    assert headers[b"content-type"].startswith(b"text/event-stream")


async def test_hang_up_closes_the_body_at_once_and_ends_quietly() -> None:
    closed = asyncio.Event()

    async def body():  # type: ignore[no-untyped-def]
        try:
            yield b"one"
            await asyncio.sleep(30)
            yield b"never"
        finally:
            closed.set()

    client = Client()
    call = asyncio.ensure_future(sse_response(body())(SCOPE, client.receive, client.send))
    await asyncio.sleep(0.02)
    client.hang_up.set()
    await asyncio.wait_for(call, 2)  # returns normally: no error for uvicorn to log
    assert closed.is_set()
    assert client.messages[-1]["body"] == b"one"


async def test_hang_up_while_a_write_waits_closes_the_suspended_body() -> None:
    closed = asyncio.Event()
    stuck = asyncio.Event()

    async def body():  # type: ignore[no-untyped-def]
        try:
            yield b"one"
            yield b"two"
        finally:
            closed.set()

    client = Client()

    async def slow_send(message: dict[str, object]) -> None:
        client.messages.append(message)
        if message.get("body") == b"one":
            stuck.set()
            await asyncio.sleep(30)  # a client that stopped reading

    call = asyncio.ensure_future(sse_response(body())(SCOPE, client.receive, slow_send))
    await stuck.wait()
    client.hang_up.set()
    await asyncio.wait_for(call, 2)
    assert closed.is_set()


async def test_server_cancellation_is_not_swallowed() -> None:
    async def body():  # type: ignore[no-untyped-def]
        yield b"one"
        await asyncio.sleep(30)
        yield FinalChunk(b"")

    client = Client()
    call = asyncio.ensure_future(sse_response(body())(SCOPE, client.receive, client.send))
    await asyncio.sleep(0.02)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


async def test_disconnect_after_the_end_does_not_cancel_anything() -> None:
    async def body():  # type: ignore[no-untyped-def]
        yield FinalChunk(b"all")

    client = Client()
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        if not message.get("more_body", True):
            # uvicorn answers http.disconnect as soon as the response is complete; let the
            # watcher see it while the last write is still in progress
            client.hang_up.set()
            await asyncio.sleep(0.01)
        sent.append(message)

    await sse_response(body())(SCOPE, client.receive, send)
    assert sent[-1] == {"type": "http.response.body", "body": b"all", "more_body": False}
