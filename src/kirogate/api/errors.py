"""Render kirogate errors in the caller's own dialect.

Anthropic: ``{"type":"error","error":{"type":T,"message":M}}``.
OpenAI:    ``{"error":{"message":M,"type":T,"param":P,"code":C}}``.
Admin:     ``{"error":{"type":T,"message":M}}`` (kiro.rs' admin API, its own type names).
The status code comes from the error class (the admin dialect has its own table: kiro.rs
answers every upstream trouble 502); 429s carry ``retry-after``. Errors of the database or a
lock service are told without their detail (URL, host, driver text), which stays in the log.
Why a request got a 4xx/5xx is logged once, by the access log (:mod:`kirogate.api.middleware`).
"""

from __future__ import annotations

import logging
import math
from enum import StrEnum
from typing import Any

from starlette.responses import Response

from kirogate.api.json_reply import json_response
from kirogate.errors import (
    STORE_AWAY_MESSAGE,
    AuthenticationFailed,
    AuthError,
    ClientError,
    EventStreamError,
    HeadTooLarge,
    InvalidGrant,
    InvalidRequest,
    KirogateError,
    LockTimeout,
    LockUnavailable,
    MethodNotAllowed,
    NoCredentialAvailable,
    NotFound,
    PermissionDenied,
    QuotaExhausted,
    RateLimited,
    RequestTooLarge,
    StoreLockTimeout,
    StoreUnavailable,
    UpstreamError,
    UpstreamThrottled,
)
from kirogate.upstream.classify import client_error

log = logging.getLogger(__name__)


class Dialect(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    ADMIN = "admin"


ADMIN_PREFIX = "/api/admin"

# What a caller is told while the store is away (its URL, host and driver error stay in the log).
STORE_AWAY = STORE_AWAY_MESSAGE
LOCK_AWAY = "a lock shared with the other gateway processes is not available: try again shortly"

# The admin dialect: (status, or None for the class's own; kiro.rs type) for the first class
# of an error's MRO found here.
_ADMIN: dict[type[KirogateError], tuple[int | None, str]] = {
    InvalidGrant: (400, "invalid_request"),  # kiro.rs answers a dead refresh token with 400
    AuthenticationFailed: (None, "authentication_error"),
    PermissionDenied: (None, "permission_error"),
    NotFound: (None, "not_found"),
    MethodNotAllowed: (None, "method_not_allowed"),
    RequestTooLarge: (None, "request_too_large"),
    HeadTooLarge: (None, "request_too_large"),
    RateLimited: (None, "rate_limit_error"),
    ClientError: (None, "invalid_request"),
    AuthError: (502, "api_error"),
    UpstreamError: (502, "api_error"),
    EventStreamError: (502, "api_error"),
    NoCredentialAvailable: (502, "api_error"),
    StoreUnavailable: (503, "service_unavailable"),
    StoreLockTimeout: (503, "service_unavailable"),
    LockUnavailable: (503, "service_unavailable"),
    LockTimeout: (503, "service_unavailable"),
    KirogateError: (500, "internal_error"),
}


def retry_after_of(exc: KirogateError) -> float | None:
    if isinstance(exc, RateLimited | UpstreamThrottled | QuotaExhausted | NoCredentialAvailable):
        return exc.retry_after
    return None


def admin_error_type(exc: KirogateError) -> tuple[int, str]:
    """The HTTP status and kiro.rs error type for ``exc`` in the admin dialect."""
    for cls in type(exc).__mro__:
        entry = _ADMIN.get(cls)
        if entry is not None:
            status, kind = entry
            return (exc.status if status is None else status), kind
    raise AssertionError("KirogateError is in the table")  # pragma: no cover


def public_message(exc: KirogateError) -> str:
    """The message a caller sees: the error's own, except for the database and lock services,
    whose messages name hosts, URLs and driver errors."""
    if isinstance(exc, StoreUnavailable | StoreLockTimeout):
        return STORE_AWAY
    if isinstance(exc, LockUnavailable | LockTimeout):
        return LOCK_AWAY
    return exc.message


def status_of(exc: KirogateError, dialect: Dialect) -> int:
    return admin_error_type(exc)[0] if dialect is Dialect.ADMIN else exc.status


def anthropic_error_body(exc: KirogateError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": exc.anthropic_type, "message": public_message(exc)}}


def admin_error_body(exc: KirogateError) -> dict[str, Any]:
    return {"error": {"type": admin_error_type(exc)[1], "message": public_message(exc)}}


def openai_error_body(exc: KirogateError) -> dict[str, Any]:
    param = exc.param if isinstance(exc, InvalidRequest) else None
    return {
        "error": {
            "message": public_message(exc),
            "type": exc.openai_type,
            "param": param,
            "code": exc.openai_code,
        }
    }


def error_body(exc: KirogateError, dialect: Dialect) -> dict[str, Any]:
    match dialect:
        case Dialect.OPENAI:
            return openai_error_body(exc)
        case Dialect.ADMIN:
            return admin_error_body(exc)
        case _:
            return anthropic_error_body(exc)


def client_facing(exc: KirogateError) -> KirogateError:
    """Every credential resting after rate limits is a rate limit for the client, with a hint;
    an upstream exception frame is named by its kind (classified in
    :func:`kirogate.upstream.classify.client_error`, as after the first byte)."""
    if isinstance(exc, NoCredentialAvailable) and exc.retry_after is not None:
        return RateLimited(exc.message, retry_after=exc.retry_after)
    return client_error(exc)


def error_response(exc: KirogateError, dialect: Dialect) -> Response:
    """``exc`` as ``dialect``'s error answer. The admin API's operator is told the error as it
    is; a client as :func:`client_facing` makes it."""
    if dialect is Dialect.ADMIN:
        status = status_of(exc, dialect)
        if status >= 500:
            log.warning("admin API answering %d %s: %s", status, type(exc).__name__, exc.message)
    else:
        exc = client_facing(exc)
        status = exc.status
    headers: dict[str, str] = {}
    retry_after = retry_after_of(exc)
    if status == 429 or (retry_after is not None and dialect is not Dialect.ADMIN):
        headers["retry-after"] = str(max(1, math.ceil(retry_after or 1)))
    return json_response(error_body(exc, dialect), status=status, headers=headers)


def dialect_for_path(path: str) -> Dialect:
    """OpenAI routes live under /v1/chat, /v1/responses, /v1/completions, the admin API under
    /api/admin; the rest is Anthropic."""
    if path.startswith(("/v1/chat/", "/v1/responses", "/v1/completions", "/v1/embeddings")):
        return Dialect.OPENAI
    if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
        return Dialect.ADMIN
    return Dialect.ANTHROPIC
