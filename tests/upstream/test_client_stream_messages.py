"""UpstreamStream.next_messages: the frames of a chunk before parse_event, same timeouts."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from kirogate.errors import UpstreamConnectionError, UpstreamTimeout
from kirogate.protocol.events import AssistantText, event_frame, parse_event
from kirogate.upstream.stream import SILENCE
from tests.memory_upstream import MemoryUpstream


def text(content: str) -> bytes:
    return event_frame("assistantResponseEvent", {"content": content})


async def test_next_messages_returns_every_frame_of_a_chunk() -> None:
    up = MemoryUpstream()
    up.send(text("a"), text("b"), text("c"))
    messages = await up.stream.next_messages()
    assert isinstance(messages, list)
    assert [parse_event(m) for m in messages] == [
        AssistantText("a"),
        AssistantText("b"),
        AssistantText("c"),
    ]


async def test_next_messages_marks_the_first_event_and_ends_with_none() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    up.end()
    messages = await up.stream.next_messages()
    assert isinstance(messages, list) and len(messages) == 1
    assert up.stream.first_event_received
    assert await up.stream.next_messages() is None
    assert up.response.released


async def test_next_messages_reports_silence_then_the_idle_timeout() -> None:
    up = MemoryUpstream(idle_timeout=0.2)
    up.send(text("a"))
    await up.stream.next_messages()
    assert await up.stream.next_messages(0.05) is SILENCE
    with pytest.raises(UpstreamTimeout, match="mid-stream"):
        while await up.stream.next_messages(0.05) is SILENCE:
            pass
    assert up.response.closed


async def test_next_messages_before_the_first_event_uses_the_first_deadline() -> None:
    up = MemoryUpstream(first_deadline=0.05, idle_timeout=5.0)
    with pytest.raises(UpstreamTimeout, match="first event"):
        await up.stream.next_messages()
    assert up.response.closed


async def test_buffered_bytes_are_returned_even_after_the_deadline() -> None:
    up = MemoryUpstream(first_deadline=0.01)
    up.send(text("late but here"))
    await asyncio.sleep(0.05)
    messages = await up.stream.next_messages()
    assert isinstance(messages, list) and parse_event(messages[0]) == AssistantText("late but here")


async def test_a_dropped_connection_is_a_connection_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await up.stream.next_messages()
    asyncio.get_running_loop().call_later(0.01, up.drop)
    with pytest.raises(UpstreamConnectionError, match="connection broke mid-answer") as caught:
        await up.stream.next_messages()
    assert up.response.closed
    # The library's exception is the operator's to read, not the client's.
    assert "ClientPayloadError" not in str(caught.value)
    assert "ClientPayloadError" in caplog.text


async def test_aiohttp_read_timeout_is_an_upstream_timeout() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await up.stream.next_messages()
    up.reader.set_exception(aiohttp.ServerTimeoutError("read timeout"))
    with pytest.raises(UpstreamTimeout, match="mid-stream"):
        await up.stream.next_messages()


async def test_an_outside_cancellation_is_not_taken_for_the_deadline() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await up.stream.next_messages()
    reader = asyncio.ensure_future(up.stream.next_messages(10.0))
    await asyncio.sleep(0.01)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
