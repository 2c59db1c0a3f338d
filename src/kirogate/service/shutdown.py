"""Stopping with the answers in flight: a grace period, then a clean end for the rest.

On SIGTERM the server stops accepting connections and :meth:`Shutdown.begin` starts the
grace period (``server.shutdown_grace``): requests that still arrive are refused with 503,
answers in flight go on. When it is over (:meth:`Shutdown.cut`) every open upstream stream
is interrupted with :class:`~kirogate.errors.ShuttingDown`, so each answer ends the way
any upstream failure ends it: the dialect's error event and end marker for a stream, a 503
for an answer not yet sent, a request-log row either way. ``settle`` seconds later the
requests still running (waiting for a token refresh, a blocked client) are cancelled, and
the API layer ends them quietly; the server's own cancellation (uvicorn's
``timeout_graceful_shutdown``, set a little later still) is left with nothing to cancel.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from kirogate.errors import ShuttingDown
from kirogate.upstream.stream import UpstreamStream

log = logging.getLogger(__name__)

# The signals the server stops on (uvicorn's: SIGINT and SIGTERM).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Seconds between the cut and the cancellation of the requests that did not end by then.
SETTLE = 1.0
CUT_MESSAGE = "the gateway is shutting down; this answer was ended at the end of the grace period"
REFUSE_MESSAGE = "the gateway is shutting down and takes no new requests; retry in a moment"


class Shutdown:
    """One process's stop: :meth:`begin` (SIGTERM), :meth:`cut` ``grace`` seconds later."""

    def __init__(self, grace: float, *, settle: float = SETTLE) -> None:
        self.grace = grace
        self.settle = settle
        self.begun = False  # no new requests from now on
        self.cut_done = False  # the grace period is over
        self._streams: weakref.WeakSet[UpstreamStream] = weakref.WeakSet()
        self._requests: set[asyncio.Task[Any]] = set()
        self._cancelled: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ what is in flight

    def watch(self, stream: UpstreamStream) -> None:
        """Interrupt ``stream`` at the cut; at once when the cut has already happened."""
        if self.cut_done:
            stream.interrupt(ShuttingDown(CUT_MESSAGE))
            return
        self._streams.add(stream)

    @contextmanager
    def request(self) -> Iterator[None]:
        """Count the current task as a request in flight while the block runs."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always inside a task under an ASGI server
            yield
            return
        self._requests.add(task)
        try:
            yield
        finally:
            self._requests.discard(task)
            self._cancelled.discard(task)

    def withdraw(self, task: asyncio.Task[Any] | None = None) -> bool:
        """For a ``CancelledError`` in ``task`` (default: the current one): whether it was
        this shutdown's cancellation and nothing else asked for one; it is then withdrawn,
        and the caller ends the request itself."""
        task = task or asyncio.current_task()
        if task is None or task not in self._cancelled:
            return False
        self._cancelled.discard(task)
        return task.uncancel() == 0

    @property
    def in_flight(self) -> int:
        """Requests running now."""
        return len(self._requests)

    @property
    def streaming(self) -> int:
        """Upstream streams open now (answers being read)."""
        return sum(1 for stream in self._streams if not stream.closed)

    # ------------------------------------------------------------ the stop

    def begin(self) -> None:
        """Refuse new requests; :meth:`cut` what is still open ``grace`` seconds from now."""
        if self.begun:
            return
        self.begun = True
        loop = asyncio.get_running_loop()
        if self._requests:
            log.info(
                "shutting down: %d request(s) in flight get %gs to finish",
                len(self._requests),
                self.grace,
            )
        self._timer = loop.call_later(self.grace, self.cut)

    def cut(self) -> None:
        """End the answers still open: every upstream stream fails with ShuttingDown; the
        requests still running ``settle`` seconds later are cancelled."""
        if self.cut_done:
            return
        self.cut_done = True
        self.begun = True
        streams = [stream for stream in self._streams if not stream.closed]
        if streams:
            log.warning("grace period over: ending %d answer(s) still streaming", len(streams))
        error = ShuttingDown(CUT_MESSAGE)
        for stream in streams:
            stream.interrupt(error)
        self._streams.clear()
        self._timer = asyncio.get_running_loop().call_later(self.settle, self._cancel_requests)

    def _cancel_requests(self) -> None:
        self._timer = None
        left = [task for task in self._requests if not task.done()]
        if left:
            log.warning("grace period over: cancelling %d request(s) still running", len(left))
        for task in left:
            self._cancelled.add(task)
            task.cancel()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ------------------------------------------------------------ signals

    def follow_signals(self) -> Callable[[], None]:
        """Begin when the process gets SIGTERM or SIGINT, after the handler the server
        installed (which stops accepting connections); returns the undo. Does nothing
        outside the main thread, where signal handlers cannot be set."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        previous: dict[int, Any] = {}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self.begin)
            handler = previous.get(signum)
            if callable(handler):
                handler(signum, frame)

        for sig in STOP_SIGNALS:
            previous[sig] = signal.getsignal(sig)
            signal.signal(sig, on_signal)

        def undo() -> None:
            for sig, handler in previous.items():
                if signal.getsignal(sig) is on_signal:
                    signal.signal(sig, handler)

        return undo
