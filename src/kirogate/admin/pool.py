"""``/api/admin/config/load-balancing``: the pool's selection mode (kiro.rs's route).

A persistent gateway keeps the mode as the runtime setting ``pool.mode`` (docs/settings.md),
so every instance takes it and it outlives a restart.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.fields import wrong
from kirogate.admin.schemas import BODY_ERRORS, SET_LOAD_BALANCING, admin_errors
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import read_json_object
from kirogate.service.operations import PoolMode

router = APIRouter(route_class=AdminRoute)


@router.get("/config/load-balancing", responses=admin_errors((401, 404)))
async def load_balancing(request: Request) -> Response:
    return json_response({"mode": operations_of(request).mode.value})


@router.put(
    "/config/load-balancing",
    openapi_extra=SET_LOAD_BALANCING,
    responses=admin_errors(BODY_ERRORS),  # stored as the runtime setting pool.mode
)
async def set_load_balancing(request: Request) -> Response:
    body = await read_json_object(request)
    mode = body.get("mode")
    if not isinstance(mode, str):
        raise wrong(body, "mode", f"one of {', '.join(PoolMode)}")
    now = await operations_of(request).set_mode(mode)
    return json_response({"mode": now.value})
