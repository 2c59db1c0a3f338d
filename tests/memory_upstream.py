"""An :class:`~kirogate.upstream.stream.UpstreamStream` over bytes the test hands in.

The stream reads from a real aiohttp ``StreamReader`` (with aiohttp's client protocol), so
waits, wakeups and cancellation behave as on a socket, without one. ``FakeAnswer`` is what
``api.streaming.sse_body`` uses of a ``service.Answer``.
"""

from __future__ import annotations

import asyncio
from collections import deque

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.streams import StreamReader
from multidict import CIMultiDict, CIMultiDictProxy

from kirogate.convert.ir import OutEvent
from kirogate.convert.stream import StreamAssembler
from kirogate.errors import KirogateError
from kirogate.protocol.events import KiroEvent, parse_event
from kirogate.protocol.eventstream import Message
from kirogate.upstream.stream import Silence, UpstreamStream


class _Transport:
    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Response:
    def __init__(self, content: StreamReader) -> None:
        self.content = content
        self.status = 200
        self.headers = CIMultiDictProxy(
            CIMultiDict({"Content-Type": "application/vnd.amazon.eventstream"})
        )
        self.released = False
        self.closed = False

    def release(self) -> None:
        self.released = True

    def close(self) -> None:
        self.closed = True


class MemoryUpstream:
    """Feed body bytes with :meth:`send`, end with :meth:`end` or :meth:`drop`."""

    def __init__(self, *, first_deadline: float = 5.0, idle_timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        protocol = ResponseHandler(loop)
        protocol.transport = _Transport()  # type: ignore[assignment]
        self.reader = StreamReader(protocol, 2**16, loop=loop)
        self.response = _Response(self.reader)
        self.stream = UpstreamStream(
            self.response,  # type: ignore[arg-type]
            first_deadline=loop.time() + first_deadline,
            idle_timeout=idle_timeout,
        )

    def send(self, *frames: bytes) -> None:
        self.reader.feed_data(b"".join(frames))

    def end(self) -> None:
        self.reader.feed_eof()

    def drop(self) -> None:
        self.reader.set_exception(aiohttp.ClientPayloadError("connection reset"))


class FakeAnswer:
    """The parts of ``service.Answer`` that the relay loop (``sse_body``) uses."""

    def __init__(
        self, stream: UpstreamStream, first: list[Message] | None, assembler: StreamAssembler
    ):
        self.stream = stream
        self.assembler = assembler
        self._first = first
        self.remembered: list[OutEvent] = []
        self.closed = 0
        self.error: KirogateError | None = None  # set by sse_body when the stream fails

    def first_batch(self) -> list[Message] | None:
        return self._first

    def remember(self, events: list[OutEvent]) -> None:
        self.remembered.extend(events)

    async def close(self) -> None:
        self.closed += 1
        await self.stream.aclose()


def assembler(**kw: object) -> StreamAssembler:
    options: dict[str, object] = {
        "thinking_enabled": False,
        "tool_names": {},
        "context_window": 200_000,
        "input_tokens_estimate": 10,
    }
    options.update(kw)
    return StreamAssembler(**options)  # type: ignore[arg-type]


class Events:
    """A stream's parsed events one at a time, read with its one reading method
    (``next_messages``): what tests of the read path iterate."""

    def __init__(self, stream: UpstreamStream) -> None:
        self.stream = stream
        self.pending: deque[Message] = deque()

    def __aiter__(self) -> Events:
        return self

    async def __anext__(self) -> KiroEvent:
        while not self.pending:
            batch = await self.stream.next_messages()
            if type(batch) is not list:
                raise StopAsyncIteration
            self.pending.extend(batch)
        return parse_event(self.pending.popleft())


_READERS: dict[int, Events] = {}  # one reader per stream (it holds the stream: ids stay unique)


def events(stream: UpstreamStream) -> Events:
    reader = _READERS.get(id(stream))
    if reader is None:
        reader = _READERS[id(stream)] = Events(stream)
    return reader


async def next_batch(
    stream: UpstreamStream, quiet: float | None = None
) -> list[KiroEvent] | Silence | None:
    """The parsed events of the next chunk, None at the end, or SILENCE (see next_messages)."""
    messages = await stream.next_messages(quiet)
    if type(messages) is not list:
        return messages
    return [parse_event(message) for message in messages]
