"""Operator jobs: bounded concurrency, progress, expiry after an hour, a bounded count."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kirogate.errors import NotFound
from kirogate.service.operator_jobs import OperatorJobs


async def test_a_job_runs_every_item_at_most_n_at_once() -> None:
    jobs = OperatorJobs()
    running = 0
    peak = 0

    async def work(item: int) -> dict[str, Any]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return {"id": item, "ok": True}

    job = jobs.start("verify", list(range(10)), work, concurrency=3)
    assert job.status == "running"
    await jobs.wait(job.id)
    assert peak == 3
    assert sorted(result["id"] for result in job.results) == list(range(10))
    assert job.to_public()["done"] == 10
    assert jobs.get(job.id) is job


async def test_an_empty_job_is_done_at_once() -> None:
    jobs = OperatorJobs()

    async def work(item: int) -> dict[str, Any]:
        raise AssertionError("no items")

    job = jobs.start("verify", [], work)
    await asyncio.sleep(0.01)
    assert job.to_public()["status"] == "done"
    assert job.to_public()["total"] == 0


async def test_finished_jobs_are_forgotten_after_keep_for() -> None:
    now = [0.0]
    jobs = OperatorJobs(keep_for=3600.0, clock=lambda: now[0])

    async def work(item: int) -> dict[str, Any]:
        return {"id": item, "ok": True}

    job = jobs.start("verify", [1], work)
    assert (await jobs.wait(job.id)).status == "done"
    now[0] = 3599.0
    assert jobs.get(job.id) is job
    now[0] = 3601.0
    with pytest.raises(NotFound):
        jobs.get(job.id)


async def test_at_most_max_jobs_are_kept_the_oldest_finished_go_first() -> None:
    jobs = OperatorJobs(max_jobs=2)

    async def work(item: int) -> dict[str, Any]:
        return {"id": item, "ok": True}

    first = jobs.start("verify", [1], work)
    await asyncio.sleep(0.01)
    second = jobs.start("verify", [2], work)
    await asyncio.sleep(0.01)
    third = jobs.start("verify", [3], work)
    with pytest.raises(NotFound):
        jobs.get(first.id)
    assert jobs.get(second.id) is second
    assert jobs.get(third.id) is third
    await jobs.close()


async def test_close_stops_running_jobs() -> None:
    jobs = OperatorJobs()

    async def work(item: int) -> dict[str, Any]:
        await asyncio.sleep(60)
        return {}

    job = jobs.start("verify", [1], work)
    await asyncio.sleep(0)
    await jobs.close()
    assert job.status == "done"
    assert job.results == []
