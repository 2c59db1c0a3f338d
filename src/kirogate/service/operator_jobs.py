"""Operator jobs: long admin actions (verify many credentials) run in the background.

:meth:`OperatorJobs.start` answers at once with a :class:`Job` whose progress the admin API
shows at ``GET /api/admin/jobs/{id}``. Jobs live in this process's memory: a job is seen
only on the instance that runs it (behind a load balancer, poll the instance that answered
the start, or use sticky sessions). A finished job is kept for ``keep_for`` seconds, and at
most ``max_jobs`` are kept (the oldest finished ones go first).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kirogate.errors import NotFound
from kirogate.tasks import spawn, stop_task

T = TypeVar("T")

KEEP_FOR = 3600.0  # seconds a finished job stays readable
MAX_JOBS = 100


@dataclass(slots=True)
class Job:
    """One job's progress: ``results`` fill in as items finish (in finishing order)."""

    id: str
    kind: str
    total: int
    started_at: float  # wall clock, epoch seconds
    results: list[dict[str, Any]] = field(default_factory=list)
    finished_at: float | None = None
    ended: float | None = None  # the monotonic clock's reading at the end (for expiry)

    @property
    def status(self) -> str:
        return "running" if self.finished_at is None else "done"

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "total": self.total,
            "done": len(self.results),
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "results": list(self.results),
        }


class OperatorJobs:
    """The jobs of this process (module docstring)."""

    def __init__(
        self,
        *,
        keep_for: float = KEEP_FOR,
        max_jobs: int = MAX_JOBS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keep_for = keep_for
        self._max_jobs = max_jobs
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(
        self,
        kind: str,
        items: Sequence[T],
        work: Callable[[T], Awaitable[dict[str, Any]]],
        *,
        concurrency: int = 4,
    ) -> Job:
        """Run ``work`` on every item, at most ``concurrency`` at once; ``work`` answers the
        item's result and must not raise (a crash is recorded as the item's error)."""
        self._forget_old(room=1)
        job = Job(secrets.token_hex(8), kind, len(items), time.time())
        self._jobs[job.id] = job
        self._tasks[job.id] = spawn(
            self._run(job, items, work, max(1, concurrency)), name=f"job {kind} {job.id}"
        )
        return job

    async def _run(
        self,
        job: Job,
        items: Sequence[T],
        work: Callable[[T], Awaitable[dict[str, Any]]],
        concurrency: int,
    ) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(item: T) -> None:
            async with gate:
                job.results.append(await work(item))

        try:
            async with asyncio.TaskGroup() as group:
                for item in items:
                    group.create_task(one(item))
        finally:
            job.finished_at = time.time()
            job.ended = self._clock()
            self._tasks.pop(job.id, None)

    def get(self, job_id: str) -> Job:
        self._forget_old()
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(
                f"job {job_id[:40]!r} not found (jobs are kept an hour after they end, "
                "on the instance that ran them)"
            )
        return job

    async def wait(self, job_id: str) -> Job:
        """The job, once it has ended."""
        job = self.get(job_id)
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait({task})
        return job

    def _forget_old(self, *, room: int = 0) -> None:
        """Drop the expired jobs, then the oldest finished ones until ``room`` more fit."""
        now = self._clock()
        for job in list(self._jobs.values()):
            if job.ended is not None and now - job.ended > self._keep_for:
                del self._jobs[job.id]
        finished = sorted(
            (job for job in self._jobs.values() if job.ended is not None),
            key=lambda job: job.ended or 0.0,
        )
        while len(self._jobs) + room > self._max_jobs and finished:
            del self._jobs[finished.pop(0).id]

    async def close(self) -> None:
        """Stop the running jobs (at shutdown)."""
        for task in list(self._tasks.values()):
            await stop_task(task)
        self._tasks.clear()
