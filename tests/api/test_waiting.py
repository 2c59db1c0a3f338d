"""A streaming request whose upstream is slow to start: headers and pings after the grace."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from kirogate.api.waiting import _done_or_late, open_stream
from kirogate.convert.anthropic_out import AnthropicStreamRenderer
from kirogate.convert.ir import Conversation, Text, Turn
from kirogate.convert.models import resolve_model
from kirogate.errors import RateLimited
from kirogate.service.shutdown import Shutdown
from kirogate.settings import Settings
from kirogate.tasks import spawn


def settings(grace: float) -> Settings:
    base = Settings()
    return replace(base, upstream=replace(base.upstream, first_byte_grace=grace))


@dataclass
class SlowGateway:
    settings: Settings
    delay: float
    error: Exception | None = None
    cancelled: bool = False
    shutdown: Shutdown = field(default_factory=lambda: Shutdown(0.0, settle=0.0))

    async def open_answer(self, conv: Conversation, model: Any, *, endpoint: str) -> Any:
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if self.error is not None:
            raise self.error
        raise AssertionError("not reached in these tests")


CONV = Conversation(model="claude-sonnet-4-6", turns=(Turn("user", (Text("hi"),)),))


def renderer_for(tokens: int) -> AnthropicStreamRenderer:
    return AnthropicStreamRenderer("claude-sonnet-4-6", "msg_1", tokens, False)


async def test_a_fast_failure_keeps_its_http_status() -> None:
    gateway = SlowGateway(settings(5.0), delay=0.01, error=RateLimited("slow down"))
    with pytest.raises(RateLimited):
        await open_stream(
            gateway,  # type: ignore[arg-type]
            CONV,
            resolve_model(CONV.model),
            endpoint="/v1/messages",
            renderer_for=renderer_for,
        )


async def test_a_slow_failure_becomes_an_error_event_after_the_opening_and_a_ping() -> None:
    gateway = SlowGateway(settings(0.05), delay=0.3, error=RateLimited("slow down"))
    body = await open_stream(
        gateway,  # type: ignore[arg-type]
        CONV,
        resolve_model(CONV.model),
        endpoint="/v1/messages",
        renderer_for=renderer_for,
    )
    chunks = [chunk async for chunk in body]
    text = b"".join(chunks).decode()
    assert text.startswith("event: message_start")
    assert text.index("event: ping") < text.index("event: error")
    assert '"rate_limit_error"' in text


async def test_a_client_hang_up_while_waiting_cancels_the_upstream_attempt() -> None:
    gateway = SlowGateway(settings(0.01), delay=30.0)
    body = await open_stream(
        gateway,  # type: ignore[arg-type]
        CONV,
        resolve_model(CONV.model),
        endpoint="/v1/messages",
        renderer_for=renderer_for,
    )
    first = await anext(body)  # type: ignore[call-overload]
    assert b"message_start" in first
    await body.aclose()  # type: ignore[attr-defined]
    assert gateway.cancelled


async def test_a_slow_unexpected_failure_tells_the_client_no_class_name() -> None:
    gateway = SlowGateway(settings(0.05), delay=0.3, error=KeyError("secret-ish detail"))
    body = await open_stream(
        gateway,  # type: ignore[arg-type]
        CONV,
        resolve_model(CONV.model),
        endpoint="/v1/messages",
        renderer_for=renderer_for,
    )
    text = b"".join([chunk async for chunk in body]).decode()
    assert "event: error" in text
    assert "the gateway's log has the details" in text
    assert "KeyError" not in text and "secret-ish" not in text


async def test_a_wait_still_running_at_the_stops_cut_ends_with_an_error_event() -> None:
    gateway = SlowGateway(settings(0.01), delay=30.0)
    body = await open_stream(
        gateway,  # type: ignore[arg-type]
        CONV,
        resolve_model(CONV.model),
        endpoint="/v1/messages",
        renderer_for=renderer_for,
    )

    opening = await anext(body)  # the stream started: the opening and a ping

    async def read() -> bytes:
        with gateway.shutdown.request():
            return b"".join([chunk async for chunk in body])

    reading = asyncio.ensure_future(read())  # it starts (and counts) before the cut cancels
    gateway.shutdown.cut()
    text = (opening + await asyncio.wait_for(reading, 30.0)).decode()
    assert text.startswith("event: message_start")
    assert text.rstrip().endswith(
        '"message":"' + "the gateway is shutting down; this answer "
        "was ended at the end of the grace period" + '"}}'
    )
    assert '"overloaded_error"' in text
    assert gateway.cancelled  # the attempt was stopped


async def test_the_grace_wait_ends_at_the_first_of_done_and_late() -> None:
    loop = asyncio.get_running_loop()
    quick: asyncio.Future[Any] = loop.create_future()
    loop.call_later(0.01, quick.set_result, "answer")
    await asyncio.wait_for(_done_or_late(quick, 30.0), 5.0)  # done long before late
    assert quick.done()

    slow: asyncio.Future[Any] = loop.create_future()
    started = loop.time()
    await _done_or_late(slow, 0.05)  # late: returns, the opening goes on
    assert loop.time() - started >= 0.04 and not slow.done()

    waiting = spawn(_done_or_late(slow, None), name="grace wait", awaited=True)
    await asyncio.sleep(0.01)
    waiting.cancel()  # the client left while waiting: the cancel reaches the caller
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not slow.done()
    slow.set_result(None)  # no callback of the cancelled wait is left to run
    await asyncio.sleep(0)
