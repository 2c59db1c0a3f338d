"""``/api/admin/jobs/{id}``: the progress of a background job (e.g. a credentials verify).

Jobs live in the memory of the instance that runs them: ask the one that started it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.schemas import admin_errors
from kirogate.api.json_reply import json_response

router = APIRouter(route_class=AdminRoute, tags=["Jobs"])

JobId = Annotated[str, Path(description="the job id the start answered")]


class JobResult(BaseModel):
    id: int
    ok: bool
    error: str | None = None
    balance: dict[str, Any] | None = None


class JobAnswer(BaseModel):
    id: str
    kind: str
    status: Literal["running", "done"]
    total: int
    done: int
    startedAt: float
    finishedAt: float | None
    results: list[JobResult]


_OK: dict[int | str, Any] = {200: {"model": JobAnswer, "description": "the job's progress"}}


@router.get(
    "/jobs/{job_id}",
    responses=_OK | admin_errors((401, 404)),
)
async def get_job(request: Request, job_id: JobId) -> Response:
    job = operations_of(request).operator_jobs.get(job_id)
    return json_response(job.to_public())
