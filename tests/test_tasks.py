from __future__ import annotations

import asyncio

from kirogate.tasks import stop_task


async def test_a_task_that_swallows_a_cancel_is_cancelled_again() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # what a library's timeout race can do

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await stop_task(task, grace=0.05)
    assert task.cancelled()
    assert swallowed == 1


async def test_a_finished_task_is_left_as_it_is() -> None:
    async def quick() -> int:
        return 1

    task = asyncio.create_task(quick())
    await task
    await stop_task(task)
    assert task.result() == 1


async def test_a_failed_task_does_not_raise_from_stop() -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)
    await stop_task(task)
    assert isinstance(task.exception(), RuntimeError)
