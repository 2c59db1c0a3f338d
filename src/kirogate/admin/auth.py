"""The admin key check, and the route class that runs it first on every admin route.

The web console's session cookie (:mod:`kirogate.service.console_sessions`) is accepted in its
place, with the session's CSRF token on every call that may change something.

On only when an admin key is configured (``--admin-key`` / ``KIROGATE_ADMIN_KEY``): without one
every admin route answers 404 saying how to turn it on. The key is sent as ``x-api-key`` or
``Authorization: Bearer`` and compared in constant time; client API keys are not accepted.
Wrong keys are counted per client address: past ``server.admin_auth_failures`` in a minute,
that address gets 429 with ``retry-after`` before its key is even looked at (the count is
shared through Redis when one is configured, so several instances add up).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from kirogate.api.addresses import client_address as address_of
from kirogate.api.auth import key_matches, presented_key
from kirogate.api.errors import ADMIN_PREFIX, Dialect, error_response
from kirogate.api.request_gate import gateway_of
from kirogate.cluster.ratelimit import MemoryRateLimiter, RateLimiter
from kirogate.errors import (
    AuthenticationFailed,
    InternalError,
    KirogateError,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from kirogate.service import Gateway
from kirogate.service.audit import (
    ADMIN_CALL,
    DEFAULT_ACTOR,
    AdminCall,
    AuditRecord,
    audit_detail,
)
from kirogate.service.console_sessions import COOKIE as SESSION_COOKIE
from kirogate.service.console_sessions import (
    CSRF_HEADER,
    CSRF_MISSING,
    ConsoleSession,
    ConsoleSessions,
)
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


def client_address(request: Request, gateway: Gateway) -> str:
    """The caller's address: the socket peer, or what a trusted proxy's forwarded headers
    name (``server.trusted_proxies``, see :mod:`kirogate.api.addresses`), so a remote
    client cannot pick its own counter."""
    return address_of(request, gateway.settings)


class SignInThrottle:
    """Counts wrong admin keys per client address over a sliding minute.

    Only wrong keys count: a success neither counts nor resets anything, and a request with
    no key at all guesses nothing. Requests racing past :meth:`check` together can each try
    one key before the count catches up; every one of them past the limit still gets 429.
    """

    PREFIX = "admin-auth:"

    def __init__(self, limiter: RateLimiter, failures_per_minute: int) -> None:
        self.limiter = limiter
        self.limit = failures_per_minute

    async def check(self, address: str) -> None:
        """Raise :class:`RateLimited` while ``address`` is over its budget of wrong keys."""
        wait = await self.limiter.wait(self.PREFIX + address, self.limit)
        if wait is not None:
            raise self._refusal(address, wait)

    async def failed(self, address: str) -> None:
        """Count one wrong key; raise :class:`RateLimited` if the budget was already spent."""
        wait = await self.limiter.hit(self.PREFIX + address, self.limit)
        if wait is not None:
            raise self._refusal(address, wait)

    def _refusal(self, address: str, wait: float) -> RateLimited:
        log.warning(
            "admin API: too many wrong keys from %s; refused for %.0fs", address, math.ceil(wait)
        )
        return RateLimited(
            f"too many failed admin sign-ins from this address: retry in {math.ceil(wait)} s",
            retry_after=wait,
        )


def sign_in_throttle(request: Request, gateway: Gateway) -> SignInThrottle:
    """The app's throttle: in Redis when the cluster has it, else in this process."""
    state = request.app.state
    limit = gateway.settings.server.admin_auth_failures
    cluster = getattr(gateway, "cluster", None)
    if cluster is not None:
        return SignInThrottle(cluster.rate_limiter, limit)
    memory: MemoryRateLimiter | None = getattr(state, "admin_sign_ins", None)
    if memory is None:
        memory = state.admin_sign_ins = MemoryRateLimiter()
    return SignInThrottle(memory, limit)


async def check_admin_key(request: Request, gateway: Gateway, expected: str) -> bool:
    """Whether the request carries ``expected``, counting a wrong one against its address
    (429, :class:`RateLimited`, once the address has spent its budget of wrong keys)."""
    throttle = sign_in_throttle(request, gateway)
    address = client_address(request, gateway)
    await throttle.check(address)
    presented = presented_key(request)
    if presented is not None and key_matches(presented, [expected]):
        return True
    problem = "no" if presented is None else "a wrong"
    log.warning("admin API: %s key from %s on %s", problem, address, request.url.path)
    if presented is not None:
        await throttle.failed(address)
    return False


async def console_session(request: Request, gateway: Gateway) -> ConsoleSession | None:
    """The console session the request's cookie stands for, or ``None`` (no cookie, or one
    that is forged, expired or signed out)."""
    expected = configured_admin_key(gateway)
    token = request.cookies.get(SESSION_COOKIE)
    if expected is None or token is None:
        return None
    return await gateway.console_sessions.check(expected, token)


def check_csrf(request: Request, session: ConsoleSession) -> None:
    """403 unless a call that may change something carries the session's CSRF token."""
    if request.method in _READS:
        return
    if not ConsoleSessions.csrf_matches(session, request.headers.get(CSRF_HEADER)):
        raise PermissionDenied(CSRF_MISSING)


async def require_admin(request: Request) -> Gateway:
    """The gateway, once the request carries the admin key or a console session (with its
    CSRF token on calls that change something); 404 while the admin API is off."""
    gateway = gateway_of(request)
    expected = configured_admin_key(gateway)
    if expected is None:
        raise NotFound(OFF_MESSAGE)
    if presented_key(request) is None and SESSION_COOKIE in request.cookies:
        session = await gateway.console_sessions.accept(
            expected,
            request.cookies.get(SESSION_COOKIE),
            request.headers.get(CSRF_HEADER),
            changes=request.method not in _READS,
        )
        request.state.admin_actor = session.actor
        return gateway
    if not await check_admin_key(request, gateway, expected):
        raise AuthenticationFailed(AUTH_MESSAGE)
    return gateway


def admin_actor(request: Request) -> str:
    """Who the accepted caller is: ``admin-key``, or what an earlier check (the console's
    session) put in ``request.state.admin_actor``."""
    actor = getattr(request.state, "admin_actor", None)
    return actor if isinstance(actor, str) and actor else DEFAULT_ACTOR


class AdminRoute(APIRoute):
    """Checks the admin key first, answers every failure in the admin envelope, and records
    every call that may change something (any method but GET/HEAD/OPTIONS) in the audit
    trail once the key is accepted, success or refusal (see :mod:`kirogate.service.audit`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        audited = bool((self.methods or set()) - _READS)

        async def guarded(request: Request) -> Response:
            try:
                await require_admin(request)
            except KirogateError as exc:  # the throttle's business, not the trail's
                return error_response(exc, Dialect.ADMIN)
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                return error_response(InternalError(), Dialect.ADMIN)
            call = AdminCall(
                actor=admin_actor(request),
                address=client_address(request, gateway_of(request)),
                method=request.method,
                path=route_template(request),
                name=self.name,
            )
            token = ADMIN_CALL.set(call)
            error: dict[str, Any] | None = None
            try:
                response = await handler(request)
            except KirogateError as exc:
                error = {"error": type(exc).__name__}
                if isinstance(param := getattr(exc, "param", None), str):
                    error["param"] = param
                response = error_response(exc, Dialect.ADMIN)
            except ClientDisconnect:
                raise
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                error = {"error": "InternalError"}
                response = error_response(InternalError(), Dialect.ADMIN)
            finally:
                ADMIN_CALL.reset(token)
            if audited:
                await _record(request, call, response.status_code, error)
            return response

        return guarded


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def route_template(request: Request) -> str:
    """The request's path with each path parameter put back as ``{name}``
    (``/api/admin/credentials/{credential_id}``), whatever prefix the routers added."""
    segments = request.url.path.split("/")
    for name, value in reversed(list(request.path_params.items())):
        for index in range(len(segments) - 1, -1, -1):
            if segments[index] == str(value):
                segments[index] = "{" + name + "}"
                break
    return "/".join(segments)


async def _record(
    request: Request, call: AdminCall, status: int, error: dict[str, Any] | None
) -> None:
    """The audit row of one call: its target (the path parameters), outcome and harmless fields."""
    params = {key: str(value) for key, value in request.path_params.items()}
    target = "/".join(params.values()) or None
    body: dict[str, Any] | None = None
    raw = getattr(request, "_body", None)  # only what the route read itself
    if raw:
        with contextlib.suppress(ValueError):
            parsed = orjson.loads(raw)
            body = parsed if isinstance(parsed, dict) else None
    detail = audit_detail(body, dict(request.query_params))
    detail.update(error or {})
    record = AuditRecord(
        at=datetime.now(UTC),
        actor=call.actor,
        address=call.address,
        action=f"{call.method} {call.path}",
        name=call.name,
        target=target,
        status=status,
        detail=detail or None,
    )
    await gateway_of(request).operations.record_call(record)


def operations_of(request: Request) -> Operations:
    """The service's operations, the only way an admin route changes anything."""
    return gateway_of(request).operations
