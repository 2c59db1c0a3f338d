"""Operators' changes, seen by every process within a second.

An operator's change (a key created, an address blocked, a setting changed) is written to
the store, then :meth:`ChangeFeed.changed` bumps its topic's revision there and calls this
process's listeners for the topic at once. Every other process polls the revisions table
(one small query every :data:`POLL_INTERVAL` seconds, in the background, never on a
request's path; on SQLite only when the file changed since the last poll, see
``store/revisions.py``) and calls its own listeners for each topic whose revision moved. A
poll that fails is retried at the next interval; listeners keep serving what they last
loaded.

Topics are short names (``keys``, ``ips``, ``settings``, ``groups``, ``proxies``,
``alerts``); a listener reloads what its topic covers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from kirogate.cluster.outage import OutageLog
from kirogate.tasks import spawn, stop_task

if TYPE_CHECKING:
    from kirogate.store import Store
    from kirogate.store.revisions import RevisionMark

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.5
POLL_TIMEOUT = 5.0

Listener = Callable[[], Awaitable[None] | None]


class ChangeFeed:
    """Topic listeners in this process, kept in step with every other process's changes."""

    def __init__(self, store: Callable[[], Store | None], *, interval: float = POLL_INTERVAL):
        self._store = store
        self._interval = interval
        self._listeners: dict[str, list[Listener]] = {}
        self._seen: dict[str, int] | None = None
        # Where the store stood at the last read: the next poll reads only if it moved.
        self._mark: RevisionMark | None = None
        self._marked: Store | None = None  # the store the mark is from
        self._task: asyncio.Task[None] | None = None
        self._outage = OutageLog(log, "change feed")

    def on(self, topic: str, listener: Listener) -> None:
        """Call ``listener`` (sync or async, quick, never raising) when ``topic`` changes."""
        self._listeners.setdefault(topic, []).append(listener)

    async def changed(self, topic: str) -> None:
        """Record a change of ``topic`` made by this process and tell its listeners here.

        The store's write comes first; if it fails the caller's change is already stored
        and the others catch up at their next successful poll of a later change, so the
        failure is logged, not raised.
        """
        store = self._store()
        if store is not None:
            try:
                await store.bump_revision(topic)
            except Exception as exc:  # the change itself is stored; only the hint is lost
                self._outage.failed(f"recording a change of {topic}", exc)
            else:
                if self._seen is not None:
                    self._seen[topic] = self._seen.get(topic, 0) + 1
        await self._notify(topic)

    async def _notify(self, topic: str) -> None:
        for listener in self._listeners.get(topic, ()):
            try:
                result = listener()
                if result is not None:
                    await result
            except Exception:
                log.exception("listener for %s changes failed", topic)

    def start(self) -> None:
        if self._task is None:
            self._task = spawn(self._run(), name="kirogate change feed")

    async def close(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
            self._task = None

    async def poll(self) -> list[str]:
        """Read the revisions once; the topics that moved since the last poll (listeners
        called). The first poll only learns where everything stands."""
        store = self._store()
        if store is None:
            return []
        mark = self._mark if self._marked is store else None
        async with asyncio.timeout(POLL_TIMEOUT):
            current, mark = await store.revisions_after(mark)
        self._mark, self._marked = mark, store
        if current is None:  # nothing committed since the last read
            return []
        seen, self._seen = self._seen, dict(current)
        if seen is None:
            return []
        moved = [topic for topic, rev in current.items() if seen.get(topic) != rev]
        for topic in moved:
            await self._notify(topic)
        return moved

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: keep what we have, try again later
                self._outage.failed("polling operator changes", exc)
            else:
                self._outage.succeeded()
            await asyncio.sleep(self._interval)
