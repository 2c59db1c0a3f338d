"""The stop: a grace period, then every open upstream stream ended, then the leftovers cancelled."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

import pytest

from kirogate.errors import ShuttingDown
from kirogate.protocol.events import event_frame
from kirogate.service.shutdown import Shutdown
from tests.memory_upstream import MemoryUpstream, next_batch

HANG_GUARD = 30.0


def text(content: str) -> bytes:
    return event_frame("assistantResponseEvent", {"content": content})


async def test_nothing_happens_before_begin() -> None:
    stop = Shutdown(0.0)
    up = MemoryUpstream()
    stop.watch(up.stream)
    assert not stop.begun
    up.send(text("a"))
    assert await next_batch(up.stream) is not None


async def test_open_streams_end_with_shutting_down_at_the_cut() -> None:
    stop = Shutdown(0.01)
    up = MemoryUpstream()
    up.send(text("a"))
    stop.watch(up.stream)
    await next_batch(up.stream)
    reader = asyncio.ensure_future(next_batch(up.stream, HANG_GUARD))
    stop.begin()
    assert stop.begun and not stop.cut_done
    with pytest.raises(ShuttingDown, match="shutting down"):
        await asyncio.wait_for(reader, HANG_GUARD)
    assert stop.cut_done
    stop.close()


async def test_a_stream_opened_after_the_cut_ends_at_once() -> None:
    stop = Shutdown(0.0)
    stop.cut()
    up = MemoryUpstream()
    up.send(text("a"))
    stop.watch(up.stream)
    with pytest.raises(ShuttingDown):
        await next_batch(up.stream)
    stop.close()


async def test_begin_is_idempotent_and_close_stops_the_timer() -> None:
    stop = Shutdown(HANG_GUARD)
    stop.begin()
    stop.begin()
    stop.close()
    assert stop.begun and not stop.cut_done


async def test_requests_still_running_after_the_settle_time_are_cancelled_and_withdrawn() -> None:
    stop = Shutdown(0.0, settle=0.0)
    inside = asyncio.Event()
    outcome: list[str] = []

    async def request() -> None:
        with stop.request():
            inside.set()
            try:
                await asyncio.sleep(HANG_GUARD)
            except asyncio.CancelledError:
                outcome.append("withdrawn" if stop.withdraw() else "raised")
                return

    task = asyncio.ensure_future(request())
    await inside.wait()
    assert stop.in_flight == 1
    stop.cut()
    await asyncio.wait_for(task, HANG_GUARD)
    assert outcome == ["withdrawn"]
    assert task.cancelling() == 0
    assert stop.in_flight == 0


async def test_another_cancellation_is_not_withdrawn() -> None:
    stop = Shutdown(0.0, settle=0.0)
    inside = asyncio.Event()
    outcome: list[bool] = []

    async def request() -> None:
        with stop.request():
            inside.set()
            try:
                await asyncio.sleep(HANG_GUARD)
            except asyncio.CancelledError:
                outcome.append(stop.withdraw())
                raise

    task = asyncio.ensure_future(request())
    await inside.wait()
    task.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == [False]


async def test_a_cancellation_on_top_of_the_stops_still_propagates() -> None:
    stop = Shutdown(0.0, settle=0.0)
    inside = asyncio.Event()
    outcome: list[bool] = []

    async def request() -> None:
        with stop.request():
            inside.set()
            try:
                await asyncio.sleep(HANG_GUARD)
            except asyncio.CancelledError:
                outcome.append(stop.withdraw())
                raise

    task = asyncio.ensure_future(request())
    await inside.wait()
    stop._cancel_requests()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == [False]


async def test_stop_signals_begin_the_stop_after_the_servers_handler() -> None:
    stop = Shutdown(HANG_GUARD)
    seen: list[int] = []

    def server_handler(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)

    previous = signal.signal(signal.SIGTERM, server_handler)
    try:
        undo = stop.follow_signals()
        signal.raise_signal(signal.SIGTERM)
        for _ in range(100):
            if stop.begun:
                break
            await asyncio.sleep(0.01)
        undo()
        assert seen == [signal.SIGTERM]
        assert stop.begun
        assert signal.getsignal(signal.SIGTERM) is server_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop.close()


async def test_signals_are_left_alone_outside_the_main_thread() -> None:
    stop = Shutdown(HANG_GUARD)
    before = signal.getsignal(signal.SIGTERM)

    async def follow() -> None:
        stop.follow_signals()()

    await asyncio.to_thread(asyncio.run, follow())
    assert signal.getsignal(signal.SIGTERM) is before
