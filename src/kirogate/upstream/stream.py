"""One ``generateAssistantResponse`` answer as it arrives: decoded events with deadlines.

:class:`UpstreamStream` reads the body of a response :class:`~kirogate.upstream.client.KiroClient`
opened, decodes event-stream frames and hands them over per chunk with its one reading method,
:meth:`UpstreamStream.next_messages` (the caller parses what it needs: ``service.answer.relay``).
A first-event deadline and an idle timeout are kept with one loop timer per stream
(:class:`_Alarm`); :data:`SILENCE` tells the caller the upstream is quiet so it can ping.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

import aiohttp
from multidict import CIMultiDictProxy

from kirogate.errors import (
    EventStreamError,
    KirogateError,
    UpstreamConnectionError,
    UpstreamTimeout,
)
from kirogate.protocol.eventstream import FrameDecoder, Message
from kirogate.upstream.http import connection_errors

log = logging.getLogger(__name__)

# What a client is told when the body breaks off; the library's exception (aiohttp's
# "ClientPayloadError: ... TransferEncodingError ...") goes to the log only.
BROKE_MID_ANSWER: Final = "the upstream connection broke mid-answer"


class Silence:
    """What :meth:`UpstreamStream.next_messages` returns when the upstream stayed quiet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SILENCE"


SILENCE: Final = Silence()


class _Alarm:
    """Interrupts a waiting task once the loop time passes its deadline.

    One loop timer serves a whole stream instead of one ``asyncio.timeout`` per read: moving
    the deadline later is a float store, and the timer, when it fires before the current
    deadline, re-arms itself for it. As ``asyncio.timeout`` does, the waiting task is
    cancelled and the cancellation withdrawn (``uncancel``), so a cancellation from
    elsewhere (a client disconnect) still propagates. Use::

        task = alarm.arm(deadline)
        try:
            result = await something()
        except asyncio.CancelledError:
            if not alarm.rang(task):
                raise
            result = None  # the deadline passed
        finally:
            alarm.disarm()
    """

    __slots__ = ("_at", "_cancelling", "_deadline", "_fired", "_handle", "_loop", "_task")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0  # when the armed timer fires
        self._deadline = 0.0  # when the current wait must end
        self._task: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self._fired = False

    def now(self) -> float:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.time()

    def arm(self, deadline: float) -> asyncio.Task[Any]:
        """Watch the current task until :meth:`disarm`; call :meth:`now` first (it binds the
        running loop)."""
        self._deadline = deadline
        handle = self._handle
        if handle is None or deadline < self._at:
            if handle is not None:
                handle.cancel()
            loop = self._loop
            assert loop is not None
            self._at = deadline
            self._handle = loop.call_at(deadline, self._ring)
        task = asyncio.current_task()
        assert task is not None
        self._cancelling = task.cancelling()
        self._task = task
        self._fired = False
        return task

    def rang(self, task: asyncio.Task[Any]) -> bool:
        """For a ``CancelledError`` in the watched wait: whether the alarm caused it (and
        nothing else asked for the cancellation); the cancellation is then withdrawn."""
        return self._fired and task.uncancel() <= self._cancelling

    def disarm(self) -> None:
        self._task = None

    def ring_now(self) -> None:
        """Interrupt the watched wait at once (nothing happens when no wait is watched)."""
        task = self._task
        if task is not None:
            self._fired = True
            task.cancel()

    def _ring(self) -> None:
        self._handle = None
        task = self._task
        if task is None:
            return  # nobody is waiting; the next wait arms the timer again
        loop = self._loop
        assert loop is not None
        if loop.time() < self._deadline:
            self._at = self._deadline
            self._handle = loop.call_at(self._deadline, self._ring)
            return
        self._fired = True
        task.cancel()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class UpstreamStream:
    """The frames of one ``generateAssistantResponse`` answer, per body chunk.

    :meth:`next_messages` raises :class:`UpstreamTimeout` when the first event misses the first-token deadline
    or the upstream stays silent mid-stream for the idle timeout, :class:`UpstreamConnectionError`
    when the connection drops, and the decoder's :class:`CorruptFrame` /
    :class:`TruncatedStream` for a bad body, after the good events that preceded the bad
    frame; :meth:`interrupt` makes it raise an error of the caller's choice. Close it
    (``async with`` or :meth:`aclose`) to give the connection back; an exhausted or failed
    stream closes itself.
    """

    __slots__ = (
        "__weakref__",
        "_alarm",
        "_content",
        "_decoder",
        "_done",
        "_error",
        "_first_deadline",
        "_idle_timeout",
        "_interrupted",
        "_response",
        "_silent_since",
        "first_event_received",
        "headers",
        "status",
    )

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        *,
        first_deadline: float,
        idle_timeout: float,
    ) -> None:
        self._response = response
        self._content = response.content
        self._decoder = FrameDecoder()
        self._first_deadline = first_deadline  # loop time by which the first event is due
        self._idle_timeout = idle_timeout
        self._alarm = _Alarm()
        self._silent_since: float | None = None  # loop time the current silence began
        self._error: EventStreamError | None = None  # raised once the good events are out
        self._interrupted: KirogateError | None = None  # raised by the waiting or next read
        self._done = False
        self.status: int = response.status
        self.headers: CIMultiDictProxy[str] = response.headers
        self.first_event_received = False

    async def next_messages(self, quiet: float | None = None) -> list[Message] | Silence | None:
        """The decoded frames of the next body chunk (at least one), ``None`` at the end of
        the body, or :data:`SILENCE` once ``quiet`` seconds passed without a byte.

        After :data:`SILENCE` call again to keep waiting; the idle timeout counts the whole
        silence, not each call. Frames are not parsed here: the caller has a faster path for
        plain text (``service.answer.relay``).
        """
        messages = await self._messages(quiet)
        if type(messages) is list:
            self.first_event_received = True
        return messages

    async def _messages(self, quiet: float | None) -> list[Message] | Silence | None:
        """Decoded frames of the next chunk(s) (never an empty list), None at the end, or
        :data:`SILENCE` after ``quiet`` silent seconds.

        The read is inline (no ``_read`` frame per chunk): it waits in ``readany``, which
        returns at once when bytes are buffered, under the stream's one alarm.
        """
        content = self._content
        alarm = self._alarm
        while True:
            error = self._error or self._interrupted
            if error is not None:
                self._error = self._interrupted = None
                self._abort()
                raise error
            if self._done:
                return None
            deadline, fail_at = self._deadlines(quiet)
            task = alarm.arm(deadline)
            try:
                chunk = await content.readany()
            except asyncio.CancelledError:
                if not alarm.rang(task):
                    raise
                if self._interrupted is not None:
                    continue  # raised at the top of the loop
                if deadline < fail_at:
                    return SILENCE
                raise self._timed_out() from TimeoutError()
            except TimeoutError as exc:  # aiohttp's own read timeout
                raise self._timed_out() from exc
            except connection_errors() as exc:
                self._abort()
                log.warning(
                    "upstream connection dropped mid-stream: %s: %s", type(exc).__name__, exc
                )
                raise UpstreamConnectionError(BROKE_MID_ANSWER) from exc
            finally:
                alarm.disarm()
            self._silent_since = None
            if not chunk:
                self._end()
                return None
            messages, self._error = self._decoder.feed_until_error(chunk)
            if messages:
                return messages

    def _deadlines(self, quiet: float | None) -> tuple[float, float]:
        """When the coming wait ends (a ping is due or the upstream failed) and when the
        upstream counts as failed: the first-event deadline, or the idle timeout counted
        from the start of the current silence."""
        now = self._alarm.now()
        if self.first_event_received:
            since = self._silent_since
            if since is None:
                since = self._silent_since = now
            fail_at = since + self._idle_timeout
        else:
            fail_at = self._first_deadline
        return (fail_at if quiet is None else min(fail_at, now + quiet)), fail_at

    def _timed_out(self) -> UpstreamTimeout:
        """Close the stream; the error to raise for the missed deadline."""
        self._abort()
        if self.first_event_received:
            return UpstreamTimeout(f"no bytes from upstream for {self._idle_timeout:g}s mid-stream")
        return UpstreamTimeout("no first event from upstream before the deadline")

    def _end(self) -> None:
        self._done = True
        self._alarm.close()
        try:
            self._decoder.finish()
        except EventStreamError:
            self._response.close()
            raise
        self._response.release()  # the body is complete: the connection can be reused

    def _abort(self) -> None:
        self._done = True
        self._alarm.close()
        self._response.close()

    def interrupt(self, error: KirogateError) -> None:
        """End the stream with ``error``: the read waiting now, or else the next one, raises
        it and the connection is dropped. Nothing happens once the stream has ended."""
        if self._done:
            return
        self._interrupted = error
        self._alarm.ring_now()

    @property
    def closed(self) -> bool:
        return self._done

    async def aclose(self) -> None:
        """Stop reading and drop the connection unless the body was read to its end."""
        if not self._done:
            self._abort()

    async def __aenter__(self) -> UpstreamStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
