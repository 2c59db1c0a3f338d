"""The gateway's in-process event bus: what happened, for whoever watches.

Publishers (the request path when a request ends, the pool when a credential's state changes,
the access check when a key reaches a limit) call :meth:`EventBus.publish`, which never
blocks and never raises: each subscriber has a bounded queue, and a subscriber that falls
behind loses its oldest events (counted in :attr:`Subscription.dropped`), never slowing a
request. Subscribers are the live feed (``GET /api/admin/live``) and the alerts.

Events carry no secret: ids, names, numbers and reasons only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened: ``kind`` names it (``request.finished``,
    ``credential.state``, ``key.limit``, ...), ``data`` holds its JSON-able details."""

    kind: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)

    def to_public(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at, "data": self.data}


class Subscription:
    """One subscriber's queue of events; iterate it, or :meth:`get` one at a time."""

    def __init__(self, bus: EventBus, kinds: frozenset[str] | None, limit: int) -> None:
        self._bus = bus
        self.kinds = kinds
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=limit)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self.kinds is not None and event.kind not in self.kinds:
            return
        queue = self._queue
        if queue.full():
            queue.get_nowait()  # the oldest goes: a slow watcher never slows a request
            self.dropped += 1
        queue.put_nowait(event)

    async def get(self) -> Event:
        return await self._queue.get()

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()


class EventBus:
    """Fan-out of events to subscribers (and to plain callbacks, called synchronously)."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._listeners: list[Callable[[Event], None]] = []

    def subscribe(
        self, kinds: Iterable[str] | None = None, *, limit: int = QUEUE_LIMIT
    ) -> Subscription:
        """A queue of the events of ``kinds`` (every kind when ``None``) from now on."""
        subscription = Subscription(self, frozenset(kinds) if kinds is not None else None, limit)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def listen(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` with every event; it must be quick and must not raise."""
        self._listeners.append(listener)

    @property
    def watched(self) -> bool:
        """Whether anyone listens (publishers may skip building an event nobody reads)."""
        return bool(self._subscriptions or self._listeners)

    def publish(self, kind: str, **data: Any) -> None:
        if not (self._subscriptions or self._listeners):
            return
        event = Event(kind, data)
        for subscription in self._subscriptions:
            subscription.offer(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must not break the publisher
                log.exception("event listener failed on %s", kind)
