"""``/api/admin/backup``: one passphrase-encrypted file of the operator's data, and its restore."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.schemas import admin_errors
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import read_json_object
from kirogate.errors import InvalidRequest
from kirogate.service.backup import MIN_PASSPHRASE, MODES, PASSPHRASE_HEADER

router = APIRouter(route_class=AdminRoute, tags=["Backup"])

_PASSPHRASE = {
    "name": PASSPHRASE_HEADER,
    "in": "header",
    "required": True,
    "schema": {"type": "string", "minLength": MIN_PASSPHRASE},
    "description": "encrypts (or decrypts) the file; keep it: the file is useless without it",
}
_MODE = {
    "name": "mode",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": list(MODES)},
    "description": "merge (default): add and update; replace: each kind emptied first",
}


class BackupFile(BaseModel):
    """The file: clear metadata, and ``data``, the AES-256-GCM ciphertext of the content."""

    model_config = ConfigDict(extra="allow")

    format: str
    version: int
    created_at: str
    kdf: dict[str, Any]
    cipher: dict[str, Any]
    counts: dict[str, int]
    data: str


class RestoredItem(BaseModel):
    kind: str
    key: str
    outcome: str
    reason: str | None = None
    id: int | None = None


class RestoreReport(BaseModel):
    mode: str
    added: int
    updated: int
    skipped: int
    items: list[RestoredItem]


def _passphrase(request: Request) -> str:
    return request.headers.get(PASSPHRASE_HEADER, "")


@router.get(
    "/backup",
    openapi_extra={"parameters": [_PASSPHRASE]},
    responses={
        200: {"model": BackupFile, "description": "The backup file."},
        **admin_errors((400, 401, 404, 503)),
    },
)
async def download_backup(request: Request) -> Response:
    operations = operations_of(request)
    document = await operations.export_backup(_passphrase(request))
    await operations.audit_event("backup.export", detail=document["counts"])
    return Response(
        orjson.dumps(document),
        media_type="application/json",
        headers={"content-disposition": 'attachment; filename="kirogate-backup.json"'},
    )


@router.post(
    "/backup",
    openapi_extra={
        "parameters": [_PASSPHRASE, _MODE],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BackupFile.model_json_schema()}},
        },
    },
    responses={
        200: {"model": RestoreReport, "description": "One result per item."},
        **admin_errors((400, 401, 404, 413, 503)),
    },
)
async def restore_backup(request: Request) -> Response:
    mode = request.query_params.get("mode", "merge")
    if mode not in MODES:
        raise InvalidRequest("mode: merge or replace", param="mode")
    document = await read_json_object(request)
    items = await operations_of(request).restore_backup(document, _passphrase(request), mode=mode)
    counts = {name: sum(1 for item in items if item["outcome"] == name)
              for name in ("added", "updated", "skipped")}  # fmt: skip
    return json_response({"mode": mode, **counts, "items": items})
