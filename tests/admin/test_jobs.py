"""``GET /api/admin/jobs/{id}``: a job's progress; unknown ids are 404s."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from tests.admin.fakes import FakeGateway, call, key


async def test_an_unknown_job_is_a_404_in_the_admin_envelope(app: FastAPI) -> None:
    reply = await call(app, "GET", "/api/admin/jobs/0123456789abcdef", headers=key())
    assert reply.status == 404
    assert reply.json()["error"]["type"] == "not_found"
    assert "on the instance that ran them" in reply.json()["error"]["message"]


async def test_a_job_shows_its_progress_then_done(app: FastAPI, gateway: FakeGateway) -> None:
    release = asyncio.Event()

    async def work(item: int) -> dict[str, Any]:
        if item == 2:
            await release.wait()
        return {"id": item, "ok": True}

    job = gateway.operations.operator_jobs.start("verify", [1, 2], work, concurrency=2)
    await asyncio.sleep(0.01)
    running = (await call(app, "GET", f"/api/admin/jobs/{job.id}", headers=key())).json()
    assert (running["status"], running["total"], running["done"]) == ("running", 2, 1)
    assert running["results"] == [{"id": 1, "ok": True}]
    release.set()
    await asyncio.sleep(0.01)
    done = (await call(app, "GET", f"/api/admin/jobs/{job.id}", headers=key())).json()
    assert (done["status"], done["done"]) == ("done", 2)
    assert done["finishedAt"] >= done["startedAt"]
    await gateway.operations.operator_jobs.close()
