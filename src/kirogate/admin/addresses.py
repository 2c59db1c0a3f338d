"""``/api/admin/ips``: block client addresses and networks (with expiry), list the visitors.

A block applies to every client route of every instance within a second (the ``ips`` change
topic); blocked clients get 403 in their dialect's error shape. CIDR ranges contain a ``/``:
delete them with ``DELETE /api/admin/ips?ip=10.0.0.0/8`` (or the path form, URL-encoded or not).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.schemas import BODY_ERRORS, admin_errors
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import read_json_object
from kirogate.api.schemas import json_body
from kirogate.errors import InvalidRequest
from kirogate.service.addresses import canonical_network, parse_expiry

router = APIRouter(route_class=AdminRoute, tags=["Addresses"])

MAX_REASON = 500


class BlockBody(BaseModel):
    """``POST /api/admin/ips``: an address (``203.0.113.7``, ``2001:db8::1``) or a CIDR
    network (``10.0.0.0/8``, ``2001:db8::/32``), why, and optionally until when."""

    model_config = ConfigDict(extra="forbid")

    ip: str = Field(description="an IPv4/IPv6 address or CIDR network")
    reason: str | None = Field(None, max_length=MAX_REASON)
    expires_at: str | None = Field(None, description="ISO 8601 time the block ends")
    ttl: float | None = Field(None, gt=0, description="seconds the block lasts (or expires_at)")


class Block(BaseModel):
    ip: str
    reason: str | None
    created_at: str
    expires_at: str | None


class BlockList(BaseModel):
    total: int
    blocked: list[Block]


class Visitor(BaseModel):
    address: str
    requests: int
    first_seen: str
    last_seen: str


class VisitorList(BaseModel):
    total: int
    visitors: list[Visitor]


class Done(BaseModel):
    success: bool
    message: str


_IP_QUERY = {
    "parameters": [
        {
            "name": "ip",
            "in": "query",
            "required": True,
            "schema": {"type": "string"},
            "description": "the blocked address or network, e.g. 10.0.0.0/8",
        }
    ]
}
_VISITORS_QUERY = {
    "parameters": [
        {
            "name": "since",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "ISO 8601 time; default: every address kept (7 days)",
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
            "description": "at most this many rows, most recent first (default 100)",
        },
    ]
}


def _ok(model: type[BaseModel], status: int = 200) -> dict[int | str, Any]:
    return {status: {"model": model, "description": "done"}}


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string", param=name)
    return value


@router.get("/ips", responses={**_ok(BlockList), **admin_errors((401, 404, 503))})
async def list_blocked(request: Request) -> Response:
    blocks = await operations_of(request).blocked_addresses()
    return json_response({"total": len(blocks), "blocked": [b.to_public() for b in blocks]})


@router.post(
    "/ips",
    status_code=201,
    openapi_extra=json_body(BlockBody, {"ip": "203.0.113.0/24", "reason": "scraper", "ttl": 3600}),
    responses={**_ok(Block, 201), **admin_errors(BODY_ERRORS)},
)
async def block(request: Request) -> Response:
    body = await read_json_object(request)
    unknown = sorted(set(body) - set(BlockBody.model_fields))
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}", param=unknown[0])
    ip = canonical_network(body.get("ip"))
    reason = _text(body, "reason")
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidRequest(f"reason is longer than {MAX_REASON} characters", param="reason")
    expires_at = parse_expiry(body.get("expires_at"), body.get("ttl"))
    record = await operations_of(request).block_address(ip, reason, expires_at=expires_at)
    return json_response(record.to_public(), status=201)


@router.get(
    "/ips/visitors",
    openapi_extra=_VISITORS_QUERY,
    responses={**_ok(VisitorList), **admin_errors((400, 401, 404, 503))},
)
async def visitors(request: Request) -> Response:
    since_text = request.query_params.get("since")
    since = None
    if since_text is not None:
        try:
            since = datetime.fromisoformat(since_text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest(
                f"since {since_text!r} is not an ISO 8601 time", param="since"
            ) from None
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
    limit_text = request.query_params.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
        raise InvalidRequest("limit must be a whole number from 1 to 1000", param="limit")
    rows = await operations_of(request).recent_visitors(since=since, limit=int(limit_text))
    return json_response({"total": len(rows), "visitors": [row.to_public() for row in rows]})


async def _unblock(request: Request, ip: str | None) -> Response:
    ip = canonical_network(ip)
    await operations_of(request).unblock_address(ip)
    return json_response({"success": True, "message": f"{ip} unblocked"})


@router.delete(
    "/ips",
    openapi_extra=_IP_QUERY,
    responses={**_ok(Done), **admin_errors((400, 401, 404, 503))},
)
async def unblock(request: Request) -> Response:
    return await _unblock(request, request.query_params.get("ip"))


@router.delete(
    "/ips/{ip:path}",
    responses={**_ok(Done), **admin_errors((400, 401, 404, 503))},
)
async def unblock_path(
    request: Request,
    ip: Annotated[str, Path(description="the address or network, e.g. 10.0.0.0/8")],
) -> Response:
    return await _unblock(request, ip)
