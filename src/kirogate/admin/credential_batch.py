"""``/api/admin/credentials`` beyond kiro.rs's routes: import, export, refresh, verify,
enable-all, disable-all, delete-failed (see docs/credentials.md)."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.fields import parse_credential_id, query_flag, wrong
from kirogate.admin.schemas import BODY_ERRORS, CredentialId, admin_errors
from kirogate.admin.views import rfc3339
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import INLINE_BODY_BYTES, read_json_object
from kirogate.api.schemas import json_body
from kirogate.errors import InvalidRequest
from kirogate.service.credential_import import MAX_ITEMS, TOKEN_METHODS, parse_import
from kirogate.upstream.credentials import MAX_STORED_INT

log = logging.getLogger(__name__)

router = APIRouter(route_class=AdminRoute, tags=["Credentials"])

CONFIRM_HEADER = "x-kirogate-confirm"
CONFIRM_VALUE = "export-secrets"


# ---------------------------------------------------------------- schemas (OpenAPI only)


class ImportResult(BaseModel):
    index: int = Field(description="the item's position in the body (0-based)")
    status: Literal["added", "duplicate", "invalid"]
    id: int | None = Field(None, description="added: the new id; duplicate: the existing one")
    email: str | None = None
    field: str | None = Field(None, description="invalid: the field at fault")
    reason: str | None = Field(None, description="invalid: e.g. `[3].refreshToken: missing`")


class ImportAnswer(BaseModel):
    success: bool = Field(description="true when no item was invalid")
    added: int
    duplicates: int
    invalid: int
    results: list[ImportResult]


class ExportAnswer(BaseModel):
    exportedAt: str
    secrets: bool
    credentials: list[dict[str, Any]] = Field(
        description="kiro.rs camelCase entries; importable by POST /api/admin/credentials/import"
    )


class RefreshAnswer(BaseModel):
    success: bool
    message: str
    id: int
    expiresAt: str | None


class VerifyBody(BaseModel):
    """Which credentials to verify: ``ids``, or ``all``."""

    ids: (
        Annotated[list[Annotated[int, Field(ge=0, le=MAX_STORED_INT)]], Field(min_length=1)] | None
    ) = None
    all: bool | None = None


class JobStarted(BaseModel):
    success: bool
    jobId: str
    status: Literal["running", "done"]
    total: int


class StateChange(BaseModel):
    id: int
    was: str
    now: str


class BulkAnswer(BaseModel):
    success: bool
    message: str
    changed: list[StateChange]


class Deleted(BaseModel):
    id: int
    reason: str


class DeleteFailedAnswer(BaseModel):
    success: bool
    message: str
    deleted: list[Deleted]


def _ok(model: type[BaseModel], description: str, status: int = 200) -> dict[int | str, Any]:
    return {status: {"model": model, "description": description}}


_TEXT_SCHEMA = {"type": "string", "description": "refresh tokens, one a line"}
IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"type": "array", "items": {"type": "object"}},
                        {"type": "object"},
                    ],
                    "description": (
                        "an array of credentials (kiro.rs, Kiro IDE token files, AIClient-2-API "
                        'pool entries), one object, {"credentials": [...]}, provider_pools.json, '
                        'or {"refresh_tokens": [...], "auth_method": ..., "region": ...}'
                    ),
                },
                "example": {"credentials": [{"refreshToken": "aorA...", "authMethod": "social"}]},
            },
            "text/plain": {"schema": _TEXT_SCHEMA},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "parameters": [
        {
            "name": "auth_method",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": list(TOKEN_METHODS)},
            "description": "for a list of refresh tokens: their method (default social)",
        },
        {
            "name": "region",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "for a list of refresh tokens: their region",
        },
    ],
}
EXPORT_QUERY: dict[str, Any] = {
    "parameters": [
        {
            "name": "secrets",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
            "description": f"include tokens and keys; needs the header X-Kirogate-Confirm: {CONFIRM_VALUE}",
        },
        {
            "name": "X-Kirogate-Confirm",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": f"'{CONFIRM_VALUE}' to confirm an export with secrets",
        },
    ]
}
SUSPENDED_QUERY: dict[str, Any] = {
    "parameters": [
        {
            "name": "include_suspended",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
            "description": "also delete those cooling down for a suspended account",
        }
    ]
}


# ---------------------------------------------------------------- routes


def _query_text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value.strip() or None if value is not None else None


@router.post(
    "/credentials/import",
    openapi_extra=IMPORT_BODY,
    responses=_ok(ImportAnswer, "one result per item") | admin_errors(BODY_ERRORS),
)
async def import_credentials(request: Request) -> Response:
    operations = operations_of(request)
    raw = await request.body()
    read = functools.partial(
        parse_import,
        raw,
        request.headers.get("content-type", ""),
        auth_method=_query_text(request, "auth_method"),
        region=_query_text(request, "region"),
    )
    # A large file is read in a worker thread, so the streams being served do not stall.
    items = await asyncio.to_thread(read) if len(raw) > INLINE_BODY_BYTES else read()
    results = await operations.import_batch(items)
    counts = {status: sum(1 for r in results if r["status"] == status)
              for status in ("added", "duplicate", "invalid")}  # fmt: skip
    log.info("admin API: import of %d item(s): %s", len(results), counts)
    answer = [{k: v for k, v in result.items() if v is not None} for result in results]
    return json_response(
        {
            "success": counts["invalid"] == 0,
            "added": counts["added"],
            "duplicates": counts["duplicate"],
            "invalid": counts["invalid"],
            "results": answer,
        }
    )


@router.get(
    "/credentials/export",
    openapi_extra=EXPORT_QUERY,
    responses=_ok(ExportAnswer, "every credential") | admin_errors((400, 401, 404, 503)),
)
async def export_credentials(request: Request) -> Response:
    secrets = query_flag(request, "secrets", default=False)
    if secrets and request.headers.get(CONFIRM_HEADER, "").strip().lower() != CONFIRM_VALUE:
        raise InvalidRequest(
            "an export with secrets must be confirmed: send the header "
            f"'X-Kirogate-Confirm: {CONFIRM_VALUE}' (the export is recorded in the audit trail)",
            param="secrets",
        )
    entries = await operations_of(request).export_credentials(secrets=secrets)
    body = {"exportedAt": rfc3339(datetime.now(UTC)), "secrets": secrets, "credentials": entries}
    headers = {"cache-control": "no-store"} if secrets else None
    return json_response(body, headers=headers)


@router.post(
    "/credentials/{credential_id}/refresh",
    responses=_ok(RefreshAnswer, "the token was refreshed")
    | admin_errors((400, 401, 404, 502, 503)),
)
async def refresh_credential(request: Request, credential_id: CredentialId) -> Response:
    cid = parse_credential_id(credential_id)
    credential = await operations_of(request).refresh_now(cid)
    expires = rfc3339(credential.expires_at)
    return json_response(
        {
            "success": True,
            "message": f"credential #{cid} refreshed; the token expires at {expires}",
            "id": cid,
            "expiresAt": expires,
        }
    )


def _verify_ids(body: dict[str, Any]) -> list[int] | None:
    """``None`` for every credential (``all: true``), else the listed ids."""
    everything = body.get("all")
    if everything is not None and not isinstance(everything, bool):
        raise wrong(body, "all", "true or false")
    ids = body.get("ids")
    if ids is None:
        if everything:
            return None
        raise InvalidRequest('send {"ids": [1, 2]} or {"all": true}', param="ids")
    if not isinstance(ids, list) or not ids:
        raise wrong(body, "ids", "a non-empty array of credential ids")
    if len(ids) > MAX_ITEMS:
        raise InvalidRequest(f"field 'ids': at most {MAX_ITEMS} ids", param="ids")
    for index, value in enumerate(ids):
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value <= MAX_STORED_INT
        ):
            raise InvalidRequest(f"field 'ids[{index}]' must be a credential id", param="ids")
    return list(ids)


@router.post(
    "/credentials/verify",
    status_code=202,
    openapi_extra=json_body(VerifyBody, {"all": True}),
    responses=_ok(JobStarted, "the job started; poll GET /api/admin/jobs/{id}", 202)
    | admin_errors(BODY_ERRORS),
)
async def verify_credentials(request: Request) -> Response:
    ids = _verify_ids(await read_json_object(request))
    job = operations_of(request).start_verify(ids)
    body = {"success": True, "jobId": job.id, "status": job.status, "total": job.total}
    return json_response(body, status=202)


async def _set_all(request: Request, disabled: bool) -> Response:
    changed = await operations_of(request).set_all_disabled(disabled)
    word = "disabled" if disabled else "enabled"
    return json_response(
        {"success": True, "message": f"{len(changed)} credential(s) {word}", "changed": changed}
    )


@router.post(
    "/credentials/enable-all",
    responses=_ok(BulkAnswer, "what changed, per id") | admin_errors((401, 404, 503)),
)
async def enable_all(request: Request) -> Response:
    return await _set_all(request, False)


@router.post(
    "/credentials/disable-all",
    responses=_ok(BulkAnswer, "what changed, per id") | admin_errors((401, 404, 503)),
)
async def disable_all(request: Request) -> Response:
    return await _set_all(request, True)


@router.post(
    "/credentials/delete-failed",
    openapi_extra=SUSPENDED_QUERY,
    responses=_ok(DeleteFailedAnswer, "the deleted ids") | admin_errors((400, 401, 404, 503)),
)
async def delete_failed(request: Request) -> Response:
    suspended = query_flag(request, "include_suspended", default=False)
    deleted = await operations_of(request).delete_failed(include_suspended=suspended)
    return json_response(
        {"success": True, "message": f"{len(deleted)} credential(s) deleted", "deleted": deleted}
    )
