"""Turning a committed :class:`~kirogate.service.Answer` into SSE bytes.

Per upstream chunk: one assembler step per event and one pre-serialised write. While the
upstream is silent for ``ping_interval`` seconds a ping is sent; the upstream's idle timeout
keeps counting through pings. Errors after the first byte become the dialect's error event
(the renderer knows how), and the stream ends cleanly. When the client disconnects,
:class:`EventStreamResponse` cancels and closes this generator; ``finally`` then closes the
upstream connection and releases the credential lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from kirogate.api.errors import stream_error
from kirogate.convert.render import COMMENT_PING, StreamRenderer
from kirogate.errors import KirogateError
from kirogate.protocol.events import AssistantText, assistant_text, parse_event
from kirogate.service import Answer

log = logging.getLogger(__name__)

PING_INTERVAL = 15.0
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


Renderer = StreamRenderer  # the contract every dialect keeps (convert/render.py)


class InternalError(KirogateError):
    """An unexpected failure inside the gateway while streaming."""


async def sse_body(
    answer: Answer,
    renderer: Renderer,
    *,
    ping_interval: float = PING_INTERVAL,
    started: bool = False,
) -> AsyncIterator[bytes]:
    """``started``: the opening event already went out (see ``api/waiting.py``)."""
    assembler = answer.assembler
    feed = assembler.feed
    render = renderer.render
    ping = renderer.ping
    # Plain text chunks skip the event objects: the renderer draws the text directly.
    render_text = renderer.render_text
    text_passes = assembler.text_passes
    # An output format's text is held to the end: ping while the model writes it.
    holding = assembler.holds_text
    pinged = time.monotonic() if holding else 0.0
    parts: list[bytes] = []  # rendered for the current upstream chunk, not yet written
    try:
        head = b"" if started else renderer.start()
        first = answer.first_event()
        if first is not None:
            out = feed(first)
            if out:
                answer.remember(out)
                head += render(out)
        if head:
            yield head
        next_messages = answer.stream.next_messages
        while first is not None and not assembler.done:
            # One deadline serves both the ping and the upstream idle timeout (no timer per
            # event), and every event of an upstream chunk goes out in one write.
            batch = await next_messages(ping_interval)
            if batch is None:
                break
            if type(batch) is not list:  # SILENCE
                beat = ping()
                if beat:
                    yield beat
                continue
            for message in batch:
                content = assistant_text(message)
                if content is None:
                    out = feed(parse_event(message))
                elif text_passes(content):
                    # What feed() would return is [TextDelta(content)], which remember()
                    # ignores and render() draws as render_text() does.
                    parts.append(render_text(content))
                    continue
                else:
                    out = feed(AssistantText(content))
                if out:
                    answer.remember(out)
                    data = render(out)
                    if data:
                        parts.append(data)
                if assembler.done:
                    break
            if parts:
                data = parts[0] if len(parts) == 1 else b"".join(parts)
                parts.clear()
                yield data
            elif holding and time.monotonic() - pinged >= ping_interval:
                pinged = time.monotonic()
                yield ping() or COMMENT_PING
        out = assembler.finish()
        answer.remember(out)
        yield FinalChunk(renderer.finish(out))
    except KirogateError as exc:
        log.warning("stream ended with %s: %s", type(exc).__name__, exc.message)
        answer.error = error = stream_error(exc)
        yield FinalChunk(b"".join([*parts, renderer.error(error)]))
    except Exception as exc:  # the client must still get a well-formed end of stream
        log.exception("unexpected error while streaming")
        answer.error = error = InternalError(f"internal error: {type(exc).__name__}")
        yield FinalChunk(b"".join([*parts, renderer.error(error)]))
    finally:
        await answer.close()


class FinalChunk(bytes):
    """The last bytes of an SSE body: :class:`EventStreamResponse` sends them together with
    the end of the response (one write less); to anyone else they are plain bytes."""


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

        watcher = asyncio.get_running_loop().create_task(watch(), name="kirogate sse watcher")
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
