"""``/api/admin/models``: every public model name, what it maps to and why.

The rules themselves (aliases, overrides, hidden names, fallback, forced model) are runtime
settings, changed through ``PATCH /api/admin/settings`` (docs/models.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute
from kirogate.admin.schemas import admin_errors
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import gateway_of
from kirogate.convert.models import ModelTable, Resolution
from kirogate.errors import InvalidRequest
from kirogate.settings.runtime import json_value

router = APIRouter(route_class=AdminRoute, tags=["Models"])

MAX_NAME = 200


class ModelRow(BaseModel):
    name: str = Field(description="the name a client sends")
    upstream_id: str = Field(description="the model id sent upstream")
    via: str = Field(description="forced, override, pattern, alias, builtin or fallback")
    rule: str | None = Field(None, description="the override, pattern or alias that applied")
    thinking: bool = Field(description="the name turns thinking on")
    context_window: int
    hidden: bool = Field(description="left out of GET /v1/models (still served)")
    served: bool = Field(description="some credential's plan allows it")


class ModelRules(BaseModel):
    aliases: dict[str, str]
    overrides: dict[str, str]
    hidden: list[str]
    fallback: str | None
    forced: str | None


class ModelsReply(BaseModel):
    models: list[ModelRow]
    rules: ModelRules = Field(description="the rules in force (runtime settings `models.*`)")


class ResolveReply(ModelRow):
    pass


def _table(request: Request) -> ModelTable:
    table: ModelTable = gateway_of(request).models
    return table


def _row(request: Request, table: ModelTable, name: str, found: Resolution) -> dict[str, Any]:
    info = found.info
    return {
        "name": name,
        "upstream_id": info.upstream_id,
        "via": found.via,
        "rule": found.rule,
        "thinking": info.thinking is not None,
        "context_window": info.context_window,
        "hidden": table.is_hidden(name),
        "served": gateway_of(request).serves_model(info),
    }


@router.get("/models", responses={200: {"model": ModelsReply}, **admin_errors((401, 404))})
async def list_models(request: Request) -> Response:
    table = _table(request)
    names = table.public_names(hidden=True)
    names += [name for name, _ in table.rules.overrides if name not in names]
    rows = [_row(request, table, name, table.explain(name)) for name in names]
    return json_response({"models": rows, "rules": json_value(table.rules) | _tables(table)})


def _tables(table: ModelTable) -> dict[str, Any]:
    rules = table.rules
    return {
        "aliases": dict(rules.aliases),
        "overrides": dict(rules.overrides),
        "hidden": list(rules.hidden),
    }


_NAME_QUERY = {
    "parameters": [
        {
            "name": "name",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
            "description": "a model name as a client would send it",
        }
    ]
}


@router.get(
    "/models/resolve",
    openapi_extra=_NAME_QUERY,
    responses={200: {"model": ResolveReply}, **admin_errors((400, 401, 404))},
)
async def resolve_model_name(request: Request) -> Response:
    """What a request for ``?name=`` would use; 404 when nothing serves it."""
    name = request.query_params.get("name", "").strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidRequest(f"name: give a model name of 1 to {MAX_NAME} characters", param="name")
    table = _table(request)
    return json_response(_row(request, table, name, table.explain(name)))
