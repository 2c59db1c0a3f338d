"""The credentials admin API under ``/api/admin`` (the kiro.rs admin API, see docs/admin-api.md).

On only when an admin key is configured (``--admin-key`` / ``KIROGATE_ADMIN_KEY``): without one
every admin route answers 404 saying how to turn it on. The key is sent as ``x-api-key`` or
``Authorization: Bearer`` and compared in constant time; client API keys are not accepted.
Bodies and answers follow kiro.rs so its admin UI and scripts work unchanged: success is
``{"success": true, "message": ...}``, errors are ``{"error": {"type": ..., "message": ...}}``
(never FastAPI's 422). No token, key or password is ever returned whole.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from kirogate.api.auth import key_matches, presented_key
from kirogate.api.common import gateway_of, read_json_object
from kirogate.api.responses import json_response
from kirogate.errors import (
    AuthenticationFailed,
    AuthError,
    ClientError,
    CredentialSourceError,
    EventStreamError,
    InvalidGrant,
    InvalidRequest,
    KirogateError,
    NoCredentialAvailable,
    NotFound,
    RateLimited,
    UpstreamError,
)
from kirogate.service import Gateway
from kirogate.service.operations import Availability, CredentialStatus, Operations
from kirogate.settings import PoolMode
from kirogate.upstream.credentials import Credential, CredentialOrigin, mask_secret, secret_hash
from kirogate.upstream.identity import normalize_machine_id
from kirogate.upstream.sources import PROXY_DIRECT, credential_from_object

log = logging.getLogger(__name__)

MAX_PRIORITY = 2**32 - 1  # kiro.rs keeps priorities in a u32
OFF_MESSAGE = (
    "the admin API is off: start kirogate with --admin-key <key> "
    "(or set KIROGATE_ADMIN_KEY) to turn it on"
)
AUTH_MESSAGE = (
    "invalid or missing admin key: send the admin key (not a client API key) as the "
    "x-api-key header or as Authorization: Bearer <key>"
)
# Fields of an add request that hold secrets; error messages never echo their values.
_SECRET_FIELDS = ("refreshToken", "accessToken", "clientSecret", "kiroApiKey", "proxyPassword")
_ID = re.compile(r"[0-9]{1,19}")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class PublicBalance(Protocol):
    def to_public(self) -> dict[str, Any]: ...


# ---------------------------------------------------------------- errors and auth


def admin_error_type(exc: KirogateError) -> tuple[int, str]:
    """The HTTP status and kiro.rs error type for ``exc``."""
    match exc:
        case InvalidGrant():  # kiro.rs answers a dead refresh token with 400 invalid_request
            return 400, "invalid_request"
        case AuthenticationFailed():
            return 401, "authentication_error"
        case NotFound():
            return 404, "not_found"
        case RateLimited():
            return 429, "rate_limit_error"
        case ClientError():
            return exc.status, "invalid_request"
        case AuthError() | UpstreamError() | EventStreamError() | NoCredentialAvailable():
            return 502, "api_error"
        case _:
            return 500, "internal_error"


def admin_error_response(exc: KirogateError) -> Response:
    """``exc`` in the kiro.rs admin envelope: ``{"error": {"type": ..., "message": ...}}``."""
    status, kind = admin_error_type(exc)
    if status >= 500:
        log.warning("admin API answering %d %s: %s", status, type(exc).__name__, exc.message)
    return json_response({"error": {"type": kind, "message": exc.message}}, status=status)


def configured_admin_key(gateway: Gateway) -> str | None:
    """The admin key, or ``None`` when the admin API is off (unset or blank, as in kiro.rs)."""
    key = gateway.settings.server.admin_key
    return key.strip() if key and key.strip() else None


def require_admin(request: Request) -> Gateway:
    """The gateway, once the request carries the admin key; 404 while the admin API is off."""
    gateway = gateway_of(request)
    expected = configured_admin_key(gateway)
    if expected is None:
        raise NotFound(OFF_MESSAGE)
    presented = presented_key(request)
    if presented is None or not key_matches(presented, [expected]):
        client = request.client.host if request.client else "unknown"
        problem = "no" if presented is None else "a wrong"
        log.warning("admin API: %s key from %s on %s", problem, client, request.url.path)
        raise AuthenticationFailed(AUTH_MESSAGE)
    return gateway


class AdminRoute(APIRoute):
    """Checks the admin key first and answers every failure in the admin envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                require_admin(request)
                return await handler(request)
            except KirogateError as exc:
                return admin_error_response(exc)
            except ClientDisconnect:
                raise
            except Exception as exc:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                message = f"internal error: {type(exc).__name__}"
                return json_response(
                    {"error": {"type": "internal_error", "message": message}}, status=500
                )

        return guarded


PREFIX = "/api/admin"
router = APIRouter(prefix=PREFIX, route_class=AdminRoute)


# ---------------------------------------------------------------- reading requests


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    kinds = {int: "a number", float: "a number", str: "a string", list: "an array"}
    return "null" if value is None else kinds.get(type(value), "an object")


def _wrong(body: dict[str, Any], name: str, expected: str) -> InvalidRequest:
    got = f"got {_kind(body[name])}" if name in body else "it is missing"
    return InvalidRequest(f"field '{name}' must be {expected} ({got})", param=name)


def parse_credential_id(raw: str) -> int:
    if not _ID.fullmatch(raw):
        raise InvalidRequest(f"credential id {raw[:40]!r} is not a number", param="id")
    return int(raw)


def bool_field(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise _wrong(body, name, "true or false")
    return value


def int_field(body: dict[str, Any], name: str, *, low: int, high: int) -> int:
    value = body.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(body, name, "an integer")
    if not low <= value <= high:
        message = f"field '{name}' must be between {low} and {high}, got {value}"
        raise InvalidRequest(message, param=name)
    return value


def query_flag(request: Request, name: str, *, default: bool) -> bool:
    raw = request.query_params.get(name, "").strip().lower()
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    if raw:
        raise InvalidRequest(f"query parameter '{name}' must be true or false", param=name)
    return default


# ---------------------------------------------------------------- secrets


def mask_proxy_url(url: str | None) -> str | None:
    """The proxy URL with its password replaced by ``***`` (``direct`` stays ``direct``)."""
    if url is None:
        return None
    scheme, sep, rest = url.partition("://")
    userinfo, at, _ = rest.partition("/")[0].rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{rest[len(userinfo) + 1 :]}"


def _proxy_password(url: str | None) -> str | None:
    rest = (url or "").partition("://")[2].partition("/")[0]
    userinfo, at, _ = rest.rpartition("@")
    password = userinfo.partition(":")[2] if at else ""
    return password or None


def credential_secrets(credential: Credential) -> list[str]:
    """Every secret the credential holds, to be kept out of anything the API returns."""
    values = [
        credential.refresh_token,
        credential.access_token,
        credential.client_secret,
        credential.kiro_api_key,
        credential.proxy_password,
        _proxy_password(credential.proxy_url),
    ]
    return [value for value in values if value]


def scrub(text: str | None, secrets: Iterable[str]) -> str | None:
    """``text`` with each secret in it replaced by its masked form."""
    if text is None:
        return None
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4 and secret in text:
            text = text.replace(secret, mask_secret(secret) or "***")
    return text


def _body_secrets(body: dict[str, Any]) -> list[str]:
    values = [body.get(name) for name in _SECRET_FIELDS]
    proxy = body.get("proxyUrl")
    if isinstance(proxy, str):
        values += [proxy, _proxy_password(proxy)]
    return [value for value in values if isinstance(value, str) and value]


# ---------------------------------------------------------------- views


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def credential_view(
    status: CredentialStatus, credential: Credential, balance: PublicBalance | None
) -> dict[str, Any]:
    """One row of the listing: kiro.rs's fields, then kirogate's state, counters and balance."""
    secrets = credential_secrets(credential)
    disabled = status.state is Availability.DISABLED
    cooling = status.state is Availability.COOLING
    api_key = credential.kiro_api_key if credential.is_api_key else None
    refresh = None if credential.is_api_key else credential.refresh_token
    origin = credential.origin
    return {
        "id": status.id,
        "priority": status.priority,
        "disabled": disabled,
        "failureCount": status.failure_count,
        "isCurrent": status.current,
        "expiresAt": rfc3339(credential.expires_at),
        "authMethod": credential.auth_method.value,
        "hasProfileArn": bool(credential.profile_arn),
        "email": credential.email,
        "refreshTokenHash": secret_hash(refresh) if refresh else None,
        "refreshTokenPreview": mask_secret(refresh),
        "apiKeyHash": secret_hash(api_key) if api_key else None,
        "maskedApiKey": mask_secret(api_key),
        "successCount": status.success_count,
        "lastUsedAt": rfc3339(status.last_used),
        "hasProxy": bool(credential.proxy_url) and credential.proxy_url != PROXY_DIRECT,
        "proxyUrl": mask_proxy_url(credential.proxy_url),
        "disabledReason": status.reason if disabled else None,
        "endpoint": credential.endpoint,
        # kirogate's additions
        "label": scrub(status.label, secrets),
        "state": status.state.value,
        "cooldownReason": status.reason if cooling else None,
        "cooldownUntil": rfc3339(status.cooldown_until),
        "reasonDetail": scrub(status.detail, secrets),
        "errorCount": status.error_count,
        "lastError": scrub(status.last_error, secrets),
        "lastErrorAt": rfc3339(status.last_error_at),
        "inFlight": status.in_flight,
        "weight": status.weight,
        "subscriptionTitle": status.subscription_title,
        "region": credential.region,
        "authRegion": credential.auth_region,
        "apiRegion": credential.api_region,
        "source": origin.kind if origin else None,
        "balance": balance_view(status.id, balance) if balance is not None else None,
    }


def balance_view(credential_id: int, balance: PublicBalance) -> dict[str, Any]:
    """kiro.rs's ``BalanceResponse`` keys (``id`` first), then kirogate's details."""
    body = {"id": credential_id} | balance.to_public()
    body["id"] = credential_id  # the balance may not know which credential it belongs to
    return body


def _done(message: str) -> Response:
    return json_response({"success": True, "message": message})


# ---------------------------------------------------------------- routes


def operations_of(request: Request) -> Operations:
    return gateway_of(request).operations


@router.get("/credentials")
async def list_credentials(request: Request) -> Response:
    operations = operations_of(request)
    by_id = {credential.id: credential for credential in operations.credentials()}
    rows = [
        credential_view(status, by_id[status.id], operations.cached_balance(status.id))
        for status in operations.statuses()
        if status.id in by_id
    ]
    return json_response(
        {
            "total": len(rows),
            "available": sum(1 for row in rows if not row["disabled"]),
            "currentId": operations.current_id,
            "mode": operations.mode.value,
            "credentials": rows,
        }
    )


@router.post("/credentials")
async def add_credential(request: Request) -> Response:
    operations = operations_of(request)
    body = await read_json_object(request)
    secrets = _body_secrets(body)
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


@router.delete("/credentials/{credential_id}")
async def delete_credential(request: Request, credential_id: str) -> Response:
    cid = parse_credential_id(credential_id)
    # kiro.rs deletes only disabled credentials: the operation refuses an enabled one.
    await operations_of(request).remove(cid)
    return _done(f"credential #{cid} deleted")


@router.post("/credentials/{credential_id}/disabled")
async def set_disabled(request: Request, credential_id: str) -> Response:
    cid = parse_credential_id(credential_id)
    disabled = bool_field(await read_json_object(request), "disabled")
    await operations_of(request).set_disabled(cid, disabled)
    return _done(f"credential #{cid} {'disabled' if disabled else 'enabled'}")


@router.post("/credentials/{credential_id}/priority")
async def set_priority(request: Request, credential_id: str) -> Response:
    cid = parse_credential_id(credential_id)
    priority = int_field(await read_json_object(request), "priority", low=0, high=MAX_PRIORITY)
    await operations_of(request).set_priority(cid, priority)
    return _done(f"credential #{cid} priority set to {priority}")


@router.post("/credentials/{credential_id}/reset")
async def reset_credential(request: Request, credential_id: str) -> Response:
    cid = parse_credential_id(credential_id)
    await operations_of(request).reset(cid)
    return _done(f"credential #{cid} failure counters reset and enabled")


@router.get("/credentials/{credential_id}/balance")
async def credential_balance(request: Request, credential_id: str) -> Response:
    cid = parse_credential_id(credential_id)
    refresh = query_flag(request, "refresh", default=True)
    balance = await operations_of(request).balance(cid, refresh=refresh)
    return json_response(balance_view(cid, balance))


@router.get("/config/load-balancing")
async def load_balancing(request: Request) -> Response:
    return json_response({"mode": operations_of(request).mode.value})


@router.put("/config/load-balancing")
async def set_load_balancing(request: Request) -> Response:
    body = await read_json_object(request)
    mode = body.get("mode")
    if not isinstance(mode, str):
        raise _wrong(body, "mode", f"one of {', '.join(PoolMode)}")
    now = await operations_of(request).set_mode(mode)
    return json_response({"mode": now.value})
