"""Per-credential concurrency: how many requests one account serves at once.

Counts are process-local on purpose: a lease dies with its process, so persisting them
would leak slots after a crash. A shared limit across instances needs a distributed
semaphore with expiring holds, which the scale-out layer can provide behind the same methods.
"""

from __future__ import annotations

import asyncio


class ConcurrencyLimiter:
    """In-flight counts per credential id and a wake-up signal for queued acquirers."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # 0 = unlimited
        self._in_flight: dict[int, int] = {}
        self._changed = asyncio.Event()

    def in_flight(self, credential_id: int) -> int:
        return self._in_flight.get(credential_id, 0)

    def has_room(self, credential_id: int) -> bool:
        return self.limit <= 0 or self.in_flight(credential_id) < self.limit

    def take(self, credential_id: int) -> None:
        self._in_flight[credential_id] = self.in_flight(credential_id) + 1

    def give_back(self, credential_id: int) -> None:
        count = self.in_flight(credential_id) - 1
        if count > 0:
            self._in_flight[credential_id] = count
        else:
            self._in_flight.pop(credential_id, None)
        self.notify()

    def notify(self) -> None:
        """Wake everyone waiting in :meth:`wait_for_change` (a slot or a state changed)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(self) -> None:
        """Return at the next :meth:`notify`; bound it with ``asyncio.timeout``."""
        await self._changed.wait()
