"""Owning background tasks: start them with ``spawn``, stop them with ``stop_task``.

``spawn`` is the only place that calls ``create_task`` (a ruff rule bans the bare call
elsewhere): it names the task, holds a strong reference until it ends (the event loop keeps
only a weak one, so an unreferenced task can vanish mid-run) and logs a crash with the name.
``TaskGroup.create_task`` is the other accepted way, for tasks that end with their block.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Every task started by spawn() and not yet ended.
_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, T], *, name: str, awaited: bool = False) -> asyncio.Task[T]:
    """Run ``coro`` as a task named ``name`` on the running loop, referenced until it ends.

    An exception that ends the task is logged (with the name) unless ``awaited`` says the
    owner awaits the task and handles its outcome itself.
    """
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_finished if not awaited else _running.discard)
    return task


def running_tasks() -> frozenset[asyncio.Task[Any]]:
    """The spawned tasks that have not ended yet."""
    return frozenset(_running)


def _finished(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("task %r crashed: %s: %s", task.get_name(), type(exc).__name__, exc, exc_info=exc)


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
