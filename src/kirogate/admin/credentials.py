"""``/api/admin/credentials``: list, add, delete, disable, weigh, reset, balance (kiro.rs's routes)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.credential_query import LISTING_QUERY, ListingQuery, select_rows
from kirogate.admin.fields import bool_field, int_field, parse_credential_id, query_flag
from kirogate.admin.schemas import (
    ADD_CREDENTIAL,
    BODY_ERRORS,
    SET_DISABLED,
    SET_PRIORITY,
    CredentialId,
    admin_errors,
)
from kirogate.admin.views import balance_view, body_secrets, credential_view, scrub
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import read_json_object
from kirogate.errors import CredentialSourceError, InvalidRequest, KirogateError
from kirogate.service.operations import Availability
from kirogate.upstream.auth.sources import credential_from_object
from kirogate.upstream.credentials import MAX_PRIORITY, CredentialOrigin
from kirogate.upstream.identity import normalize_machine_id

log = logging.getLogger(__name__)

_USABLE = frozenset({Availability.READY.value, Availability.BUSY.value})

router = APIRouter(route_class=AdminRoute)

# The balance's ``?refresh=``: false answers from the cache (kiro.rs always asks upstream).
_REFRESH_QUERY = {
    "parameters": [
        {
            "name": "refresh",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
            "description": "ask the upstream now (default) or answer from the cached balance",
        }
    ]
}


def done(message: str) -> Response:
    return json_response({"success": True, "message": message})


@router.get("/credentials", openapi_extra=LISTING_QUERY, responses=admin_errors((400, 401, 404)))
async def list_credentials(request: Request) -> Response:
    operations = operations_of(request)
    query = ListingQuery.of(request)
    members = None
    if query.group is not None:
        members = await operations.credential_group_members(query.group)
        if members is None:
            raise InvalidRequest(f"no credential group {query.group[:60]!r}", param="group")
    by_id = {credential.id: credential for credential in operations.credentials()}
    rows = [
        credential_view(status, by_id[status.id], operations.cached_balance(status.id))
        for status in operations.statuses()
        if status.id in by_id
    ]
    matching, page = select_rows(rows, query, members)
    return json_response(
        {
            # Every matching row (the whole pool without filters, as in kiro.rs).
            "total": len(matching),
            # Usable now: neither disabled nor cooling down (a busy one only has to wait a turn).
            "available": sum(1 for row in matching if row["state"] in _USABLE),
            "currentId": operations.current_id,
            "mode": operations.mode.value,
            "offset": query.offset,
            "limit": query.limit,
            "credentials": page,
        }
    )


@router.post("/credentials", openapi_extra=ADD_CREDENTIAL, responses=admin_errors(BODY_ERRORS))
async def add_credential(request: Request) -> Response:
    operations = operations_of(request)
    body = await read_json_object(request)
    secrets = body_secrets(body)
    # kiro.rs assigns the id itself; an id in the body is ignored, as there.
    fields = {key: value for key, value in body.items() if key != "id"}
    try:
        credential = credential_from_object(
            fields, source="credential", origin=CredentialOrigin("admin")
        )
    except CredentialSourceError as exc:
        raise InvalidRequest(scrub(exc.message, secrets) or "", param=exc.field) from None
    if credential.machine_id and normalize_machine_id(credential.machine_id) is None:
        # kiro.rs silently ignores a bad machineId; an operator typing one wants to know.
        message = "credential: field 'machineId': use 64 hex characters or a UUID"
        raise InvalidRequest(message, param="machineId")
    try:
        stored, created = await operations.add(credential)
    except KirogateError as exc:
        exc.message = scrub(exc.message, secrets) or ""
        raise
    if not created:
        same = "kiroApiKey" if stored.is_api_key else "refreshToken"
        raise InvalidRequest(
            f"this credential is already in the pool as #{stored.id} (same {same})"
        )
    log.info("admin API: credential %s added as #%s", stored.label, stored.id)
    return json_response(
        {
            "success": True,
            "message": f"credential #{stored.id} added",
            "credentialId": stored.id,
            "email": stored.email,
        }
    )


@router.delete("/credentials/{credential_id}", responses=admin_errors())
async def delete_credential(request: Request, credential_id: CredentialId) -> Response:
    cid = parse_credential_id(credential_id)
    # kiro.rs deletes only disabled credentials: the operation refuses an enabled one.
    await operations_of(request).remove(cid)
    return done(f"credential #{cid} deleted")


@router.post(
    "/credentials/{credential_id}/disabled",
    openapi_extra=SET_DISABLED,
    responses=admin_errors(BODY_ERRORS),
)
async def set_disabled(request: Request, credential_id: CredentialId) -> Response:
    cid = parse_credential_id(credential_id)
    disabled = bool_field(await read_json_object(request), "disabled")
    await operations_of(request).set_disabled(cid, disabled)
    return done(f"credential #{cid} {'disabled' if disabled else 'enabled'}")


@router.post(
    "/credentials/{credential_id}/priority",
    openapi_extra=SET_PRIORITY,
    responses=admin_errors(BODY_ERRORS),
)
async def set_priority(request: Request, credential_id: CredentialId) -> Response:
    cid = parse_credential_id(credential_id)
    priority = int_field(await read_json_object(request), "priority", low=0, high=MAX_PRIORITY)
    await operations_of(request).set_priority(cid, priority)
    return done(f"credential #{cid} priority set to {priority}")


@router.post("/credentials/{credential_id}/reset", responses=admin_errors())
async def reset_credential(request: Request, credential_id: CredentialId) -> Response:
    cid = parse_credential_id(credential_id)
    await operations_of(request).reset(cid)
    return done(f"credential #{cid} failure counters reset and enabled")


@router.get(
    "/credentials/{credential_id}/balance",
    openapi_extra=_REFRESH_QUERY,
    responses=admin_errors((400, 401, 404, 502, 503)),
)
async def credential_balance(request: Request, credential_id: CredentialId) -> Response:
    cid = parse_credential_id(credential_id)
    refresh = query_flag(request, "refresh", default=True)
    balance = await operations_of(request).balance(cid, refresh=refresh)
    return json_response(balance_view(cid, balance))
