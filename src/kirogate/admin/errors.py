"""The kiro.rs admin error envelope: ``{"error": {"type": ..., "message": ...}}``; a 429
carries ``retry-after`` as the client dialects' do."""

from __future__ import annotations

import logging
import math

from starlette.responses import Response

from kirogate.api.errors import retry_after_of
from kirogate.api.json_reply import json_response
from kirogate.errors import (
    AuthenticationFailed,
    AuthError,
    ClientError,
    EventStreamError,
    InvalidGrant,
    KirogateError,
    NoCredentialAvailable,
    NotFound,
    RateLimited,
    UpstreamError,
)

log = logging.getLogger(__name__)

# What an operator is told while the store is away (StoreUnavailable, StoreLockTimeout: the
# 503s the store raises); its URL, host and driver error stay in the log.
STORE_AWAY = "the database is not answering: try again shortly (the gateway's log has the details)"


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
        case _ if exc.status == 503:
            return 503, "service_unavailable"
        case _:
            return 500, "internal_error"


def admin_error_response(exc: KirogateError) -> Response:
    """``exc`` in the kiro.rs admin envelope: ``{"error": {"type": ..., "message": ...}}``."""
    status, kind = admin_error_type(exc)
    if status >= 500:
        log.warning("admin API answering %d %s: %s", status, type(exc).__name__, exc.message)
    message = STORE_AWAY if kind == "service_unavailable" else exc.message
    headers: dict[str, str] = {}
    if status == 429:
        headers["retry-after"] = str(max(1, math.ceil(retry_after_of(exc) or 1)))
    return json_response(
        {"error": {"type": kind, "message": message}}, status=status, headers=headers
    )
