"""``/api/admin/groups``: credential groups, the named subsets of credentials a client key can
be bound to (its requests are then served by the group's credentials only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.fields import parse_credential_id
from kirogate.admin.schemas import BODY_ERRORS, CredentialId, admin_errors
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import read_json_object
from kirogate.api.schemas import json_body
from kirogate.errors import InvalidRequest

router = APIRouter(route_class=AdminRoute, tags=["Groups"])

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

GroupName = Annotated[
    str,
    Path(
        description="the group's name (letters, digits, '.', '_', '-'; at most 64)",
        json_schema_extra={"pattern": _NAME_PATTERN},
    ),
]


class CreateGroupBody(BaseModel):
    """``POST /api/admin/groups``: a new, empty group."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=_NAME_PATTERN)]
    description: Annotated[str | None, Field(max_length=1000)] = None


class UpdateGroupBody(BaseModel):
    """``PATCH /api/admin/groups/{name}``: the description (a group is not renamed)."""

    model_config = ConfigDict(extra="forbid")

    description: Annotated[str | None, Field(max_length=1000)]


class MembersBody(BaseModel):
    """``PUT`` (replace the members) or ``POST`` (add members) on
    ``/api/admin/groups/{name}/credentials``."""

    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(max_length=10_000)]


class GroupView(BaseModel):
    """A group and its members' credential ids."""

    name: str
    description: str | None
    created_at: str = Field(description="RFC 3339, UTC")
    credential_ids: list[int]


class GroupList(BaseModel):
    total: int
    groups: list[GroupView]


class Done(BaseModel):
    success: bool
    message: str


def _ok(model: type[BaseModel], description: str) -> dict[int | str, Any]:
    return {200: {"model": model, "description": description}}


def _fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for name in body:
        if name not in allowed:
            expected = ", ".join(allowed)
            raise InvalidRequest(f"field '{name[:60]}' is not known (use {expected})", param=name)


def _required(body: dict[str, Any], name: str) -> Any:
    if name not in body:
        raise InvalidRequest(f"field '{name}' is required", param=name)
    return body[name]


@router.get(
    "/groups",
    responses={**_ok(GroupList, "Every group, by name."), **admin_errors((401, 404, 503))},
)
async def list_groups(request: Request) -> Response:
    groups = await operations_of(request).list_groups()
    return json_response({"total": len(groups), "groups": [g.to_public() for g in groups]})


@router.post(
    "/groups",
    status_code=201,
    openapi_extra=json_body(CreateGroupBody, {"name": "team-a", "description": "Team A"}),
    responses={
        201: {"model": GroupView, "description": "The new group (no member yet)."},
        **admin_errors(BODY_ERRORS),
    },
)
async def create_group(request: Request) -> Response:
    body = await read_json_object(request)
    _fields(body, ("name", "description"))
    name = _required(body, "name")
    group = await operations_of(request).create_group(name, body.get("description"))
    return json_response(group.to_public(), status=201)


@router.get(
    "/groups/{name}",
    responses={**_ok(GroupView, "The group and its members."), **admin_errors((401, 404, 503))},
)
async def get_group(request: Request, name: GroupName) -> Response:
    return json_response((await operations_of(request).get_group(name)).to_public())


@router.patch(
    "/groups/{name}",
    openapi_extra=json_body(UpdateGroupBody, {"description": "Team A's accounts"}),
    responses={**_ok(GroupView, "The group as changed."), **admin_errors(BODY_ERRORS)},
)
async def update_group(request: Request, name: GroupName) -> Response:
    body = await read_json_object(request)
    if "name" in body and body["name"] != name:
        raise InvalidRequest("field 'name': a group cannot be renamed", param="name")
    _fields(body, ("description", "name"))
    description = _required(body, "description")
    group = await operations_of(request).update_group(name, description=description)
    return json_response(group.to_public())


@router.delete(
    "/groups/{name}",
    responses={
        **_ok(Done, "Deleted, with its memberships; keys bound to it are served by nobody."),
        **admin_errors((401, 404, 503)),
    },
)
async def delete_group(request: Request, name: GroupName) -> Response:
    await operations_of(request).delete_group(name)
    return json_response({"success": True, "message": f"group {name} deleted"})


@router.put(
    "/groups/{name}/credentials",
    openapi_extra=json_body(MembersBody, {"ids": [1, 2]}),
    responses={**_ok(GroupView, "The group with its new members."), **admin_errors(BODY_ERRORS)},
)
async def set_members(request: Request, name: GroupName) -> Response:
    body = await read_json_object(request)
    _fields(body, ("ids",))
    group = await operations_of(request).set_group_members(name, _ids(body))
    return json_response(group.to_public())


@router.post(
    "/groups/{name}/credentials",
    openapi_extra=json_body(MembersBody, {"ids": [3]}),
    responses={**_ok(GroupView, "The group with the members added."), **admin_errors(BODY_ERRORS)},
)
async def add_members(request: Request, name: GroupName) -> Response:
    body = await read_json_object(request)
    _fields(body, ("ids",))
    group = await operations_of(request).add_group_members(name, _ids(body))
    return json_response(group.to_public())


@router.delete(
    "/groups/{name}/credentials/{credential_id}",
    responses={
        **_ok(GroupView, "The group without that member."),
        **admin_errors((400, 401, 404, 503)),
    },
)
async def remove_member(request: Request, name: GroupName, credential_id: CredentialId) -> Response:
    cid = parse_credential_id(credential_id)
    group = await operations_of(request).remove_group_member(name, cid)
    return json_response(group.to_public())


def _ids(body: dict[str, Any]) -> list[Any]:
    ids = _required(body, "ids")
    if not isinstance(ids, list):
        raise InvalidRequest("field 'ids' must be an array of credential ids", param="ids")
    return ids
