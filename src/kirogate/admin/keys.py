"""``/api/admin/keys``: client keys for people and teams (create, list, change, revoke, regenerate).

A new or regenerated key is answered in full once; afterwards only its prefix is shown. The
keys configured with ``--api-key`` (or ``KIROGATE_API_KEY``) are listed as the unlimited
``default`` key: they are read-only here (a PATCH or DELETE names the flag instead).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.schemas import BODY_ERRORS, admin_errors
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import gateway_of, read_json_object
from kirogate.api.schemas import json_body
from kirogate.errors import InvalidRequest
from kirogate.service.keys import (
    CONFIGURED_KEY_ID,
    NO_LIMITS,
    KeyUsage,
    ListedKey,
    display_prefix,
)

log = logging.getLogger(__name__)

router = APIRouter(route_class=AdminRoute, tags=["Keys"])

DEFAULT_ID = "default"
CONFIGURED_MESSAGE = (
    "the default key is configured by the --api-key flag (KIROGATE_API_KEY, server.api_keys); "
    "change it there and restart, or create a key with POST /api/admin/keys"
)

KeyId = Annotated[
    str,
    Path(
        description="the key's number as the listing gives it, or `default` for the configured key",
        json_schema_extra={"pattern": "^([0-9]{1,19}|default(-[0-9]{1,3})?)$"},
    ),
]


# ------------------------------------------------------------------ schemas (OpenAPI only)
# The route reads the body itself (a 400 naming the field, never a 422); these document it.


class LimitsBody(BaseModel):
    """Each limit is optional; null or absent means no limit of that kind."""

    model_config = ConfigDict(extra="forbid")

    rpm: Annotated[int | None, Field(ge=1, description="requests per minute, sliding")] = None
    requests_per_day: Annotated[int | None, Field(ge=1, description="per UTC day")] = None
    tokens_per_day: Annotated[
        int | None, Field(ge=1, description="input + output tokens per UTC day")
    ] = None
    tokens_per_month: Annotated[
        int | None, Field(ge=1, description="input + output tokens per UTC calendar month")
    ] = None
    models: list[str] | None = Field(
        None, description="allowed model names or fnmatch patterns (`claude-sonnet-*`)"
    )
    max_concurrency: Annotated[int | None, Field(ge=1, description="answers in flight")] = None


class CreateKeyBody(BaseModel):
    """``POST /api/admin/keys``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
    limits: LimitsBody | None = None
    expires_at: datetime | None = Field(None, description="ISO 8601; without offset, UTC")
    group: Annotated[
        str | None,
        Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="credential group"),
    ] = None


class UpdateKeyBody(BaseModel):
    """``PATCH /api/admin/keys/{id}``: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(min_length=1, max_length=200, pattern=r"\S")] = None
    limits: LimitsBody | None = None
    enabled: bool | None = None
    expires_at: datetime | None = None
    group: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] = None


class UsageWindow(BaseModel):
    requests: int
    input_tokens: int
    output_tokens: int
    tokens: int


class KeyUsageView(BaseModel):
    today: UsageWindow
    month: UsageWindow


class KeyView(BaseModel):
    """A key as listed: never the key itself, only its first characters."""

    id: int | str
    name: str
    prefix: str
    configured: bool = Field(description="true for the --api-key key (read-only)")
    enabled: bool
    revoked: bool
    expired: bool
    expires_at: str | None
    group: str | None
    limits: LimitsBody
    created_at: str | None
    updated_at: str | None
    last_used_at: str | None
    usage: KeyUsageView


class NewKeyView(KeyView):
    key: str = Field(description="the whole key: shown this once only")


class KeyList(BaseModel):
    keys: list[KeyView]


_READ = (400, 401, 404, 503)


def _responses(
    model: type[BaseModel], status: int = 200, errors: tuple[int, ...] = BODY_ERRORS
) -> dict[int | str, Any]:
    answer: dict[int | str, Any] = {status: {"model": model, "description": "the key(s)"}}
    return answer | admin_errors(errors)


# ------------------------------------------------------------------ views


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _view(listed: ListedKey, now: datetime) -> dict[str, Any]:
    record, usage = listed.record, listed.usage
    last_used = usage.last_used_at or record.last_used_at
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "configured": False,
        "enabled": not record.disabled and not record.revoked,
        "revoked": record.revoked,
        "expired": record.expires_at is not None and now >= record.expires_at,
        "expires_at": _time(record.expires_at),
        "group": record.group,
        "limits": record.limits.to_json(),
        "created_at": _time(record.created_at),
        "updated_at": _time(record.updated_at),
        "last_used_at": _time(last_used),
        "usage": usage.to_json(),
    }


def _configured_views(request: Request, usage: KeyUsage) -> list[dict[str, Any]]:
    keys = gateway_of(request).settings.server.api_keys
    views = []
    for number, key in enumerate(keys, start=1):
        views.append(
            {
                "id": DEFAULT_ID if number == 1 else f"{DEFAULT_ID}-{number}",
                "name": "default",
                "prefix": display_prefix(key),
                "configured": True,
                "enabled": True,
                "revoked": False,
                "expired": False,
                "expires_at": None,
                "group": None,
                "limits": NO_LIMITS.to_json(),
                "created_at": None,
                "updated_at": None,
                "last_used_at": _time(usage.last_used_at),
                # The configured keys share one count.
                "usage": usage.to_json(),
            }
        )
    return views


def _key_id(raw: str) -> int | str:
    if raw == DEFAULT_ID or (raw.startswith(DEFAULT_ID + "-") and raw[8:].isdigit()):
        return raw
    if not raw.isdigit() or len(raw) > 19 or int(raw) <= CONFIGURED_KEY_ID:
        raise InvalidRequest(f"id: {raw!r} is not a key id", param="id")
    return int(raw)


def _stored_id(raw: str) -> int:
    key_id = _key_id(raw)
    if isinstance(key_id, str):
        raise InvalidRequest(CONFIGURED_MESSAGE, param="id")
    return key_id


async def _body(request: Request) -> dict[str, Any]:
    return await read_json_object(request)


# ------------------------------------------------------------------ routes


@router.post(
    "/keys",
    status_code=201,
    openapi_extra=json_body(
        CreateKeyBody, {"name": "alice", "limits": {"rpm": 60, "tokens_per_day": 1_000_000}}
    ),
    responses=_responses(NewKeyView, 201),
)
async def create_key(request: Request) -> Response:
    body = await _body(request)
    unknown = sorted(set(body) - {"name", "limits", "expires_at", "group"})
    if unknown:
        raise InvalidRequest(f"{unknown[0]}: not a field of a key", param=unknown[0])
    if "name" not in body:
        raise InvalidRequest("name: required", param="name")
    record, plaintext = await operations_of(request).create_key(
        body["name"],
        limits=body.get("limits"),
        expires_at=body.get("expires_at"),
        group=body.get("group"),
    )
    log.info("admin API: key %s created as #%s", record.name, record.id)
    view = _view(ListedKey(record, KeyUsage()), _now()) | {"key": plaintext}
    return json_response(view, status=201)


@router.get("/keys", responses=_responses(KeyList, errors=_READ))
async def list_keys(request: Request) -> Response:
    operations = operations_of(request)
    listed = await operations.list_keys()
    configured = await operations.configured_key_usage()
    now = _now()
    views = _configured_views(request, configured) + [_view(item, now) for item in listed]
    return json_response({"keys": views})


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("/keys/{key_id}", responses=_responses(KeyView, errors=_READ))
async def get_key(request: Request, key_id: KeyId) -> Response:
    parsed = _key_id(key_id)
    operations = operations_of(request)
    if isinstance(parsed, str):
        views = _configured_views(request, await operations.configured_key_usage())
        for view in views:
            if view["id"] == parsed:
                return json_response(view)
        raise InvalidRequest(f"id: no configured key {parsed!r}", param="id")
    return json_response(_view(await operations.get_key(parsed), _now()))


@router.patch(
    "/keys/{key_id}",
    openapi_extra=json_body(UpdateKeyBody, {"enabled": False}),
    responses=_responses(KeyView),
)
async def update_key(request: Request, key_id: KeyId) -> Response:
    parsed = _stored_id(key_id)
    body = await _body(request)
    operations = operations_of(request)
    await operations.update_key(parsed, body)
    return json_response(_view(await operations.get_key(parsed), _now()))


@router.delete("/keys/{key_id}", responses=admin_errors())
async def delete_key(request: Request, key_id: KeyId) -> Response:
    parsed = _stored_id(key_id)
    await operations_of(request).revoke_key(parsed)
    return json_response({"success": True, "message": f"API key #{parsed} revoked"})


@router.post("/keys/{key_id}/regenerate", responses=_responses(NewKeyView))
async def regenerate_key(request: Request, key_id: KeyId) -> Response:
    parsed = _stored_id(key_id)
    operations = operations_of(request)
    record, plaintext = await operations.regenerate_key(parsed)
    listed = await operations.get_key(record.id)
    return json_response(_view(listed, _now()) | {"key": plaintext})
