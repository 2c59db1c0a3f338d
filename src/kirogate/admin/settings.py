"""``/api/admin/settings``: the settings an operator may change while the gateway runs.

``GET`` lists each with its value and origin; ``PATCH`` changes several at once (all or
none; ``null`` returns one to its configured value); ``DELETE /settings/{key}`` returns one.
A change is stored, applied from the next request on and seen by every instance within a
second (docs/settings.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.schemas import BODY_ERRORS, admin_errors
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import read_json_object
from kirogate.api.schemas import json_body
from kirogate.errors import ConfigError, InvalidRequest
from kirogate.service.runtime_settings import RuntimeSettings

router = APIRouter(route_class=AdminRoute, tags=["Settings"])


class SettingsPatch(BaseModel):
    """``PATCH /api/admin/settings``: ``{"key": value, ...}``; ``null`` resets a key.

    Keys are those ``GET /api/admin/settings`` lists; values are checked as a config file's
    would be (a duration such as ``"90s"`` or a number of seconds, a table, a list...).
    """

    model_config = ConfigDict(extra="allow")


class Overridden(BaseModel):
    value: Any = Field(description="the configured value the runtime value replaces")
    origin: str = Field(description="flag, env or file")
    origin_detail: str


class SettingRow(BaseModel):
    key: str = Field(description="the dotted key, as in config.toml (`pool.mode`)")
    group: str = Field(description="pool, upstream, models, compression, console, ...")
    description: str
    value: Any = Field(description="the value in force (a proxy's password masked)")
    origin: str = Field(description="default, file, env, flag or runtime")
    origin_detail: str = Field(description="which flag, env var or file")
    default: Any
    type: str = Field(
        description="boolean, choice, integer, seconds, number, bytes, table, list, url, text"
    )
    allowed: str = Field(description="what the setting accepts, as the 400s say it")
    choices: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    overrides: Overridden | None = Field(
        None, description="a runtime value's configured (flag, env, file) counterpart"
    )


class SettingsList(BaseModel):
    settings: list[SettingRow]


class SettingsChanged(SettingsList):
    changed: list[str] = Field(description="the keys set or reset")


SettingKey = Annotated[str, PathParam(description="a runtime setting's key, e.g. `models.forced`")]

_PATCH_EXAMPLE = {"pool.mode": "balanced", "upstream.first_token_timeout": "45s"}


def runtime_of(request: Request) -> RuntimeSettings:
    runtime = operations_of(request).runtime
    if runtime is None:
        raise ConfigError("runtime settings need a running gateway")
    return runtime


def _listing(runtime: RuntimeSettings, changed: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"settings": runtime.listing()}
    if changed is not None:
        body["changed"] = changed
    return json_response(body)


@router.get(
    "/settings",
    responses={200: {"model": SettingsList}, **admin_errors((401, 404))},
)
async def list_settings(request: Request) -> Response:
    return _listing(runtime_of(request))


@router.patch(
    "/settings",
    openapi_extra=json_body(SettingsPatch, _PATCH_EXAMPLE),
    responses={200: {"model": SettingsChanged}, **admin_errors(BODY_ERRORS)},
)
async def change_settings(request: Request) -> Response:
    runtime = runtime_of(request)
    body = await read_json_object(request)
    if not body:
        raise InvalidRequest('name at least one setting to change, e.g. {"pool.mode": ...}')
    changed = await runtime.change(body)
    return _listing(runtime, changed)


@router.delete(
    "/settings/{key}",
    responses={200: {"model": SettingsChanged}, **admin_errors()},
)
async def reset_setting(request: Request, key: SettingKey) -> Response:
    runtime = runtime_of(request)
    await runtime.reset(key)
    return _listing(runtime, [key])
