"""The admin key check, and the route class that runs it first on every admin route.

On only when an admin key is configured (``--admin-key`` / ``KIROGATE_ADMIN_KEY``): without one
every admin route answers 404 saying how to turn it on. The key is sent as ``x-api-key`` or
``Authorization: Bearer`` and compared in constant time; client API keys are not accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from kirogate.api.auth import key_matches, presented_key
from kirogate.api.errors import ADMIN_PREFIX, Dialect, error_response
from kirogate.api.request_gate import gateway_of
from kirogate.errors import AuthenticationFailed, InternalError, KirogateError, NotFound
from kirogate.service import Gateway
from kirogate.service.operations import Operations

log = logging.getLogger(__name__)

PREFIX = ADMIN_PREFIX
OFF_MESSAGE = (
    "the admin API is off: start kirogate with --admin-key <key> "
    "(or set KIROGATE_ADMIN_KEY) to turn it on"
)
AUTH_MESSAGE = (
    "invalid or missing admin key: send the admin key (not a client API key) as the "
    "x-api-key header or as Authorization: Bearer <key>"
)


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
                return error_response(exc, Dialect.ADMIN)
            except ClientDisconnect:
                raise
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                return error_response(InternalError(), Dialect.ADMIN)

        return guarded


def operations_of(request: Request) -> Operations:
    """The service's operations, the only way an admin route changes anything."""
    return gateway_of(request).operations
