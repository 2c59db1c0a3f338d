"""``/api/admin/alerts/webhooks``: the webhooks told about credential trouble and key limits."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.schemas import BODY_ERRORS, admin_errors
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import read_json_object
from kirogate.api.schemas import json_body
from kirogate.errors import InvalidRequest, NotFound
from kirogate.service.alerts import ALERT_TYPES, FORMATS

router = APIRouter(route_class=AdminRoute, tags=["Alerts"])

_ID = re.compile(r"[0-9]{1,18}")
_FIELDS = ("name", "format", "url", "events", "enabled")

Format = Literal["generic", "slack", "feishu", "dingtalk"]
AlertType = Literal[
    "credential_disabled", "quota_exhausted", "refresh_failing", "all_unusable", "key_limit"
]
WebhookId = Annotated[
    str, Path(description="the webhook's id", json_schema_extra={"pattern": "^[0-9]{1,18}$"})
]
assert set(FORMATS) == set(Format.__args__) and set(ALERT_TYPES) == set(AlertType.__args__)  # type: ignore[attr-defined]


class WebhookBody(BaseModel):
    """``POST /api/admin/alerts/webhooks``; ``events`` defaults to every type."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    format: Format
    url: Annotated[str, Field(pattern=r"^https?://", max_length=2000,
                              description="the incoming webhook URL (stored encrypted)")]  # fmt: skip
    events: list[AlertType] | None = None
    enabled: bool = True


class WebhookPatch(BaseModel):
    """``PATCH /api/admin/alerts/webhooks/{id}``: the fields to change."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    format: Format | None = None
    url: Annotated[str | None, Field(pattern=r"^https?://", max_length=2000)] = None
    events: list[AlertType] | None = None
    enabled: bool | None = None


class WebhookView(BaseModel):
    id: int
    name: str
    format: Format
    url: str = Field(description="masked: scheme, host and the last 4 characters")
    events: list[AlertType]
    enabled: bool
    created_at: str
    updated_at: str


class WebhookList(BaseModel):
    webhooks: list[WebhookView]
    formats: list[Format]
    events: list[AlertType]


class TestResult(BaseModel):
    delivered: bool
    tries: int
    status: int | None
    error: str | None


def webhook_id(raw: str) -> int:
    if not _ID.fullmatch(raw):
        raise InvalidRequest(f"webhook id {raw[:40]!r} is not a number", param="id")
    value = int(raw)
    if value > 2**31 - 1:
        raise NotFound(f"webhook {value} does not exist")
    return value


def _body_fields(body: dict[str, Any]) -> dict[str, Any]:
    unknown = [key for key in body if key not in _FIELDS]
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}", param=unknown[0][:100])
    return body


def _ok(model: type[BaseModel], text: str) -> dict[int | str, Any]:
    return {200: {"model": model, "description": text}}


@router.get(
    "/alerts/webhooks",
    responses={**_ok(WebhookList, "The webhooks, URLs masked."), **admin_errors((401, 404, 503))},
)
async def list_webhooks(request: Request) -> Response:
    hooks = await operations_of(request).webhooks()
    return json_response(
        {
            "webhooks": [hook.to_public() for hook in hooks],
            "formats": list(FORMATS),
            "events": list(ALERT_TYPES),
        }
    )


@router.post(
    "/alerts/webhooks",
    status_code=201,
    openapi_extra=json_body(
        WebhookBody, {"name": "ops", "format": "slack", "url": "https://hooks.example/T0/B0/x"}
    ),
    responses={201: {"model": WebhookView, "description": "Added."}, **admin_errors(BODY_ERRORS)},
)
async def create_webhook(request: Request) -> Response:
    body = _body_fields(await read_json_object(request))
    for name in ("name", "format", "url"):
        if name not in body:
            raise InvalidRequest(f"field '{name}' is required", param=name)
    hook = await operations_of(request).create_webhook(**body)
    return json_response(hook.to_public(), status=201)


@router.get(
    "/alerts/webhooks/{webhook}",
    responses={**_ok(WebhookView, "The webhook, URL masked."), **admin_errors()},
)
async def get_webhook(request: Request, webhook: WebhookId) -> Response:
    hook = await operations_of(request).webhook(webhook_id(webhook))
    return json_response(hook.to_public())


@router.patch(
    "/alerts/webhooks/{webhook}",
    openapi_extra=json_body(WebhookPatch, {"enabled": False}),
    responses={**_ok(WebhookView, "Changed."), **admin_errors(BODY_ERRORS)},
)
async def update_webhook(request: Request, webhook: WebhookId) -> Response:
    wid = webhook_id(webhook)
    body = _body_fields(await read_json_object(request))
    hook = await operations_of(request).update_webhook(wid, **body)
    return json_response(hook.to_public())


@router.delete(
    "/alerts/webhooks/{webhook}",
    responses={**_ok(WebhookView, "Deleted."), **admin_errors()},
)
async def delete_webhook(request: Request, webhook: WebhookId) -> Response:
    wid = webhook_id(webhook)
    await operations_of(request).delete_webhook(wid)
    return json_response({"success": True, "message": f"webhook {wid} deleted"})


@router.post(
    "/alerts/webhooks/{webhook}/test",
    responses={**_ok(TestResult, "How the test alert went (one try)."), **admin_errors()},
)
async def test_webhook(request: Request, webhook: WebhookId) -> Response:
    result = await operations_of(request).test_webhook(webhook_id(webhook))
    return json_response(result.to_public())
