"""UpstreamStream's read path: batches, silence, the one-timer deadlines, deferred decode errors."""

from __future__ import annotations

import asyncio

import pytest

from kirogate.errors import CorruptFrame, ShuttingDown, UpstreamConnectionError, UpstreamTimeout
from kirogate.protocol.events import AssistantText, Metering, event_frame
from kirogate.upstream.stream import SILENCE
from tests.memory_upstream import MemoryUpstream, events, next_batch


def text(content: str) -> bytes:
    return event_frame("assistantResponseEvent", {"content": content})


def corrupt(frame: bytes) -> bytes:
    raw = bytearray(frame)
    raw[-1] ^= 0xFF
    return bytes(raw)


async def test_next_batch_returns_every_event_of_a_chunk() -> None:
    up = MemoryUpstream()
    up.send(text("a"), text("b"), event_frame("meteringEvent", {"usage": 0.5}))
    assert await next_batch(up.stream) == [AssistantText("a"), AssistantText("b"), Metering(0.5)]
    assert up.stream.first_event_received


async def test_next_batch_is_none_at_the_end_and_releases_the_connection() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    up.end()
    assert await next_batch(up.stream) == [AssistantText("a")]
    assert await next_batch(up.stream) is None
    assert up.stream.closed
    assert up.response.released
    assert not up.response.closed


async def test_silence_is_reported_and_reading_goes_on() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await next_batch(up.stream)
    assert await next_batch(up.stream, 0.05) is SILENCE
    assert await next_batch(up.stream, 0.05) is SILENCE
    up.send(text("b"))
    assert await next_batch(up.stream, 0.05) == [AssistantText("b")]
    assert not up.stream.closed


async def test_idle_timeout_counts_the_whole_silence_across_pings() -> None:
    up = MemoryUpstream(idle_timeout=0.3)
    up.send(text("a"))
    await next_batch(up.stream)
    loop = asyncio.get_running_loop()
    started = loop.time()
    silences = 0
    with pytest.raises(UpstreamTimeout, match="mid-stream"):
        while await next_batch(up.stream, 0.05) is SILENCE:
            silences += 1
    assert silences >= 2
    assert 0.25 <= loop.time() - started < 3.0
    assert up.response.closed


async def test_data_resets_the_idle_clock() -> None:
    up = MemoryUpstream(idle_timeout=0.6)
    up.send(text("a"))
    await next_batch(up.stream)
    for piece in "bcd":  # 3 x 0.4 s of silence in all, but never 0.6 s in a row
        assert await next_batch(up.stream, 0.4) is SILENCE
        up.send(text(piece))
        assert await next_batch(up.stream, 0.4) == [AssistantText(piece)]


async def test_first_event_deadline_applies_to_batches() -> None:
    up = MemoryUpstream(first_deadline=0.1, idle_timeout=5)
    with pytest.raises(UpstreamTimeout, match="first event"):
        await next_batch(up.stream)
    assert up.response.closed


async def test_good_events_before_a_corrupt_frame_are_delivered_first() -> None:
    up = MemoryUpstream()
    up.send(text("a"), text("b"), corrupt(text("c")), text("d"))
    assert await next_batch(up.stream) == [AssistantText("a"), AssistantText("b")]
    with pytest.raises(CorruptFrame, match="message CRC"):
        await next_batch(up.stream)
    assert up.response.closed
    assert await next_batch(up.stream) is None


async def test_anext_delivers_good_events_then_raises_corrupt_frame() -> None:
    up = MemoryUpstream()
    up.send(text("a"), corrupt(text("b")))
    assert [await anext(events(up.stream))] == [AssistantText("a")]
    with pytest.raises(CorruptFrame):
        await anext(events(up.stream))


async def test_corrupt_first_frame_raises_at_once() -> None:
    up = MemoryUpstream()
    up.send(corrupt(text("a")))
    with pytest.raises(CorruptFrame):
        await next_batch(up.stream)


async def test_dropped_connection_is_a_connection_error() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await next_batch(up.stream)
    up.drop()
    with pytest.raises(UpstreamConnectionError, match="connection broke mid-answer"):
        await next_batch(up.stream, 1.0)
    assert up.response.closed


async def test_outside_cancellation_is_not_mistaken_for_silence() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await next_batch(up.stream)
    reader = asyncio.ensure_future(next_batch(up.stream, 10.0))
    await asyncio.sleep(0.02)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await up.stream.aclose()
    assert up.response.closed


async def test_cancellation_racing_the_deadline_still_propagates() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await next_batch(up.stream)
    reader = asyncio.ensure_future(next_batch(up.stream, 0.05))
    await asyncio.sleep(0.05)  # the deadline and the cancel land in the same loop turn
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader


async def test_events_arriving_with_the_deadline_are_kept() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await next_batch(up.stream)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, up.send, text("b"))
    got = [await next_batch(up.stream, 0.05) for _ in range(2)]
    events = [batch for batch in got if batch is not SILENCE]
    if not events:
        events = [await next_batch(up.stream, 0.05)]
    assert events == [[AssistantText("b")]]


async def test_one_timer_serves_many_waits() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await next_batch(up.stream)
    loop = asyncio.get_running_loop()
    scheduled = []
    call_at = loop.call_at

    def counting_call_at(when: float, callback, *args):  # type: ignore[no-untyped-def]
        scheduled.append(when)
        return call_at(when, callback, *args)

    loop.call_at = counting_call_at  # type: ignore[method-assign]
    try:
        for piece in "bcdefgh":
            loop.call_soon(up.send, text(piece))
            assert await next_batch(up.stream, 15.0) == [AssistantText(piece)]
    finally:
        del loop.call_at
    assert len(scheduled) <= 1


async def test_the_timer_is_cancelled_when_the_stream_ends() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await next_batch(up.stream)
    loop = asyncio.get_running_loop()
    loop.call_soon(up.end)
    assert await next_batch(up.stream, 15.0) is None
    assert up.stream._alarm._handle is None


async def test_a_whole_body_is_read_and_the_connection_released() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    up.end()
    assert await next_batch(up.stream) == [AssistantText("a")]
    assert await next_batch(up.stream) is None
    assert up.response.released


async def test_interrupt_ends_the_waiting_read_with_the_given_error() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    await next_batch(up.stream)
    reader = asyncio.ensure_future(next_batch(up.stream, 10.0))
    await asyncio.sleep(0.02)
    up.stream.interrupt(ShuttingDown("stopping"))
    with pytest.raises(ShuttingDown, match="stopping"):
        await reader
    assert up.stream.closed
    assert up.response.closed


async def test_interrupt_between_reads_fails_the_next_read() -> None:
    up = MemoryUpstream()
    up.send(text("a"), text("b"))
    up.stream.interrupt(ShuttingDown("stopping"))
    with pytest.raises(ShuttingDown):
        await next_batch(up.stream)
    assert up.response.closed


async def test_interrupt_after_the_end_changes_nothing() -> None:
    up = MemoryUpstream()
    up.send(text("a"))
    up.end()
    assert await next_batch(up.stream) == [AssistantText("a")]
    assert await next_batch(up.stream) is None
    up.stream.interrupt(ShuttingDown("stopping"))
    assert await next_batch(up.stream) is None
    assert up.response.released
