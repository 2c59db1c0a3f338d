"""Sending a committed :class:`~kirogate.service.Answer` as an SSE response.

The relay loop itself (one assembler step per event, one pre-serialised write per upstream
chunk, pings on silence, errors as the dialect's error event) is the service's
:func:`~kirogate.service.relay`; :func:`sse_body` starts it with the ping interval.
:class:`EventStreamResponse` sends it: when the client disconnects it cancels and closes
the body at once, whose ``finally`` then closes the upstream connection and releases the
credential lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from kirogate.convert.render import COMMENT_PING, StreamRenderer
from kirogate.errors import InternalError
from kirogate.service import Answer, FinalChunk, relay
from kirogate.tasks import spawn

log = logging.getLogger(__name__)

PING_INTERVAL = 15.0
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


Renderer = StreamRenderer  # the contract every dialect keeps (convert/render.py)


def sse_body(
    answer: Answer,
    renderer: Renderer,
    *,
    ping_interval: float = PING_INTERVAL,
    started: bool = False,
) -> AsyncGenerator[bytes, None]:
    """The SSE body of a committed answer: :func:`kirogate.service.relay` with a ping every
    ``ping_interval`` seconds of silence. ``started``: the opening event already went out
    (see ``api/waiting.py``)."""
    return relay(answer, renderer, ping_interval=ping_interval, started=started)


class EventStreamResponse(StreamingResponse):
    """A ``StreamingResponse`` for :func:`sse_body`, cheaper and prompt on a hang-up.

    Starlette runs every streamed response in a task group with a second task listening for
    the disconnect. Here one small watcher task waits for ``http.disconnect`` and cancels the
    streaming task; the body generator is then closed at once, so its ``finally`` closes
    the upstream connection and releases the credential lease without waiting for garbage
    collection. A :class:`FinalChunk` goes out with the end of the body.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        gone = ending = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            if not ending:  # uvicorn also answers http.disconnect once the response is done
                gone = True
                task.cancel()

        watcher = spawn(watch(), name="kirogate sse watcher")
        body = self.body_iterator
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            last = b""
            async for chunk in body:
                if type(chunk) is FinalChunk:
                    last = chunk
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            ending = True
            await send({"type": "http.response.body", "body": bytes(last), "more_body": False})
        except asyncio.CancelledError:
            if not gone or task.uncancel() > 0:
                raise
            log.debug("client went away mid-stream")  # Starlette's behaviour: end quietly
        finally:
            watcher.cancel()
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if self.background is not None:
            await self.background()


def sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return EventStreamResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)


__all__ = [
    "COMMENT_PING",
    "PING_INTERVAL",
    "EventStreamResponse",
    "FinalChunk",
    "InternalError",
    "Renderer",
    "sse_body",
    "sse_response",
]
