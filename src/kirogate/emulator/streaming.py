"""Write a scripted event stream to the client: pacing, HTTP chunk splitting, stalls, drops."""

from __future__ import annotations

import asyncio
import logging
import random

from aiohttp import web

from kirogate.emulator.config import EmulatorConfig
from kirogate.emulator.replies import Chunks, Drop, Frame, Stall, StreamReply

log = logging.getLogger(__name__)

EVENTSTREAM = "application/vnd.amazon.eventstream"


class _Splitter:
    """Cut the body into HTTP chunks of 1..N bytes, across frame boundaries when no pause
    separates the frames; ``flush`` sends what is left before a pause or the end."""

    def __init__(self, response: web.StreamResponse, limit: int | None, rng: random.Random):
        self._response = response
        self._limit = limit
        self._rng = rng
        self._pending = bytearray()

    async def write(self, data: bytes) -> None:
        if self._limit is None:
            await self._response.write(data)
            return
        self._pending += data
        while True:
            size = self._rng.randint(1, self._limit)
            if len(self._pending) < size:
                return
            chunk = bytes(self._pending[:size])
            del self._pending[:size]
            await self._response.write(chunk)

    async def flush(self) -> None:
        if self._pending:
            chunk = bytes(self._pending)
            self._pending.clear()
            await self._response.write(chunk)


async def send_stream(
    request: web.Request,
    reply: StreamReply,
    config: EmulatorConfig,
    *,
    request_id: str,
    seq: int,
    prefix: tuple[bytes, ...] = (),
) -> tuple[web.StreamResponse, bool]:
    """Send ``reply`` as a 200 event stream; returns the response and whether it completed."""
    if reply.stall_before_headers:
        await asyncio.sleep(reply.stall_before_headers)
    response = web.StreamResponse(
        status=200, headers={"Content-Type": EVENTSTREAM, "x-amzn-RequestId": request_id}
    )
    await response.prepare(request)
    splitter = _Splitter(response, config.http_chunk_split, random.Random(f"{config.seed}:{seq}"))
    pacing = config.pacing
    first = True
    steps = (*(Frame(data) for data in prefix), *reply.steps)
    try:
        for step in steps:
            match step:
                case Frame() | Chunks():
                    delay = pacing.first_event_delay if first else pacing.event_delay
                    first = False
                    if delay > 0:
                        await splitter.flush()
                        await asyncio.sleep(delay)
                    if isinstance(step, Frame):
                        await splitter.write(step.data)
                    else:
                        await splitter.flush()
                        for part in step.parts:
                            await response.write(part)
                case Stall(seconds):
                    await splitter.flush()
                    await asyncio.sleep(seconds)
                case Drop():
                    await splitter.flush()
                    _drop(request)
                    return response, False
        await splitter.flush()
    except ConnectionError:
        log.debug("client went away mid-stream")
        return response, False
    return response, True


def _drop(request: web.Request) -> None:
    # Closing the transport (after the buffered bytes) leaves the chunked body without its
    # terminating zero-length chunk; aiohttp's own write_eof then fails quietly.
    transport = request.transport
    if transport is not None:
        transport.close()
