"""Close connections whose client stopped reading (``server.send_timeout``).

A write blocks only once the client stopped taking data (the server's buffer and the
socket's are full); a client that never reads again would hold its connection, its upstream
stream and its credential lease forever. A timer around every write would cost ~10 us per
chunk, so each write only stamps when it started (~0.01 us), and one timer per process looks
every ``timeout / 4`` at the writes in progress. A write blocked longer than ``timeout``
gets its connection aborted: the server then reports the client gone, and the answer ends
the way it does on any client disconnect (upstream closed, lease released). Under a server
that does not expose its transport, the request's task is cancelled instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from typing import Any

from starlette.types import Send

log = logging.getLogger(__name__)


class Write:
    """One request's writes: when the one in progress started (0.0: none)."""

    __slots__ = ("context", "send", "since", "task")

    def __init__(self, send: Send, task: asyncio.Task[Any] | None) -> None:
        self.send = send
        self.task = task
        self.since = 0.0
        self.context = contextvars.copy_context()  # its log lines carry its request id


class SendWatch:
    """The process's blocked-write watch for one ``timeout`` (seconds, > 0)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.interval = min(timeout / 4, 5.0)
        self.writes: set[Write] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, send: Send) -> Write:
        """Register a request; stamp ``since`` around each of its writes, then :meth:`done`."""
        write = Write(send, asyncio.current_task())
        self.writes.add(write)
        if self._timer is None:
            self._arm()
        return write

    def _arm(self) -> None:
        # In a context of its own: not that of the request that happened to arm it.
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.interval, self._check, context=contextvars.Context())

    def done(self, write: Write) -> None:
        self.writes.discard(write)

    def _check(self) -> None:
        self._timer = None
        now = time.monotonic()
        for write in list(self.writes):
            if write.since and now - write.since > self.timeout:
                self.writes.discard(write)
                write.context.run(self._close, write)
        if self.writes:
            self._arm()

    def _close(self, write: Write) -> None:
        log.warning(
            "closing a connection: the client took no data for %gs (server.send_timeout)",
            self.timeout,
        )
        # uvicorn's send is a bound method of its request cycle, which holds the transport.
        transport = getattr(getattr(write.send, "__self__", None), "transport", None)
        if transport is not None and hasattr(transport, "abort"):
            transport.abort()
        elif write.task is not None:
            write.task.cancel()
