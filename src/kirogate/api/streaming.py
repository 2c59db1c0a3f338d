"""Turning a committed :class:`~kirogate.service.Answer` into SSE bytes.

Per upstream event: one assembler step and one pre-serialised write. While the upstream
is silent for ``ping_interval`` seconds a ping is sent. Errors after the first byte become
the dialect's error event (the renderer knows how), and the stream ends cleanly. When the
client disconnects Starlette cancels this generator; ``finally`` then closes the upstream
connection and releases the credential lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from starlette.responses import StreamingResponse

from kirogate.convert.ir import OutEvent
from kirogate.errors import KirogateError
from kirogate.service import Answer

log = logging.getLogger(__name__)

PING_INTERVAL = 15.0
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class Renderer(Protocol):
    def start(self) -> bytes: ...
    def render(self, events: list[OutEvent]) -> bytes: ...
    def error(self, exc: KirogateError) -> bytes: ...


class PingingRenderer(Renderer, Protocol):
    def ping(self) -> bytes: ...


class InternalError(KirogateError):
    """An unexpected failure inside the gateway while streaming."""


async def sse_body(
    answer: Answer,
    renderer: Renderer,
    *,
    ping_interval: float = PING_INTERVAL,
) -> AsyncIterator[bytes]:
    assembler = answer.assembler
    stream = answer.stream
    ping = getattr(renderer, "ping", None)
    try:
        head = renderer.start()
        first = answer.first_event()
        if first is not None:
            out = assembler.feed(first)
            if out:
                answer.remember(out)
                head += renderer.render(out)
        if head:
            yield head
        while first is not None and not assembler.done:
            try:
                async with asyncio.timeout(ping_interval):
                    event = await anext(stream)
            except StopAsyncIteration:
                break
            except TimeoutError:
                if ping is not None:
                    yield ping()
                continue
            out = assembler.feed(event)
            if out:
                answer.remember(out)
                data = renderer.render(out)
                if data:
                    yield data
        out = assembler.finish()
        answer.remember(out)
        yield renderer.render(out)
    except KirogateError as exc:
        log.warning("stream ended with %s: %s", type(exc).__name__, exc.message)
        yield renderer.error(exc)
    except Exception as exc:  # the client must still get a well-formed end of stream
        log.exception("unexpected error while streaming")
        yield renderer.error(InternalError(f"internal error: {type(exc).__name__}"))
    finally:
        await answer.close()


def sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)
