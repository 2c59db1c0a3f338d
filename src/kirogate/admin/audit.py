"""``GET /api/admin/audit``: the audit trail of admin calls that changed something."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.schemas import admin_errors
from kirogate.api.json_reply import json_response
from kirogate.errors import InvalidRequest
from kirogate.service.audit import AuditQuery

router = APIRouter(route_class=AdminRoute, tags=["Audit"])

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class AuditRow(BaseModel):
    id: int | None
    at: str
    actor: str
    address: str | None
    action: str
    name: str
    target: str | None
    status: int
    detail: dict[str, Any]


class AuditPage(BaseModel):
    """Newest first; pass ``next_cursor`` as ``cursor`` for the next page (``null``: no more)."""

    items: list[AuditRow]
    next_cursor: int | None


def _parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


_TEXT = {"type": "string", "maxLength": 300}
_QUERY = {
    "parameters": [
        _parameter("since", "from this time (RFC 3339 or epoch seconds)", _TEXT),
        _parameter("until", "before this time (RFC 3339 or epoch seconds)", _TEXT),
        _parameter("action", 'the route ("POST /api/admin/keys") or its short name', _TEXT),
        _parameter("actor", '"admin-key" or "console:<session>"', _TEXT),
        _parameter("target", "the target id (the path parameter)", _TEXT),
        _parameter("cursor", "next_cursor of the previous page", {"type": "integer"}),
        _parameter(
            "limit",
            f"rows per page, 1 to {MAX_LIMIT}",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        ),
    ]
}


def parse_time(raw: str | None, name: str) -> datetime | None:
    """RFC 3339 (a naive time is UTC) or epoch seconds; :class:`InvalidRequest` naming it."""
    if raw is None or raw == "":
        return None
    try:
        return datetime.fromtimestamp(float(raw), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"{name}: give an RFC 3339 time or epoch seconds", param=name
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_int(
    raw: str | None, name: str, *, low: int, high: int, default: int | None
) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name}: an integer expected", param=name) from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name}: between {low} and {high}", param=name)
    return value


def _text(raw: str | None, name: str) -> str | None:
    if raw is not None and len(raw) > 300:
        raise InvalidRequest(f"{name}: at most 300 characters", param=name)
    if raw is not None and not raw.isprintable():
        raise InvalidRequest(f"{name}: no control characters", param=name)
    return raw or None


@router.get(
    "/audit",
    openapi_extra=_QUERY,
    responses={
        200: {"model": AuditPage, "description": "The trail, newest first."},
        **admin_errors((400, 401, 404, 503)),
    },
)
async def list_audit(request: Request) -> Response:
    query = request.query_params
    limit = parse_int(query.get("limit"), "limit", low=1, high=MAX_LIMIT, default=DEFAULT_LIMIT)
    filters = AuditQuery(
        since=parse_time(query.get("since"), "since"),
        until=parse_time(query.get("until"), "until"),
        action=_text(query.get("action"), "action"),
        actor=_text(query.get("actor"), "actor"),
        target=_text(query.get("target"), "target"),
        before=parse_int(query.get("cursor"), "cursor", low=1, high=2**63 - 1, default=None),
        limit=limit or DEFAULT_LIMIT,
    )
    rows = await operations_of(request).audit_records(filters)
    more = len(rows) == filters.limit and rows[-1].id is not None
    return json_response(
        {"items": [row.to_public() for row in rows], "next_cursor": rows[-1].id if more else None}
    )
