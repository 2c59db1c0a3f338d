"""Stopping the cluster's background tasks reliably."""

from __future__ import annotations

import asyncio
from typing import Any


async def stop_task(task: asyncio.Task[Any], *, grace: float = 1.0) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again while it runs on.

    One ``cancel()`` is not always enough: on Python 3.11 a cancellation that races with a
    read timeout inside redis-py (``asyncio.timeout``) can turn into a ``TimeoutError``
    that the library treats as "no data", and the task carries on.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=grace)
    await asyncio.gather(task, return_exceptions=True)  # retrieve the outcome
