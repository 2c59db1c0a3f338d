"""``/api/admin/logins``: log a new Kiro account in from the operator's browser (docs/logins.md).

``POST /logins/device`` starts an AWS Builder ID / IAM Identity Center device login that
kirogate polls by itself; ``POST /logins/social`` gives a Google / GitHub login address,
completed by posting the address the browser ended on to ``POST /logins/{id}/complete`` or
by the browser reaching ``GET /logins/callback``; ``GET /logins/{id}`` says how it went.

The callback is the one admin route without the admin key: a browser following a redirect
cannot send one. What authorises it is the login's state: 16 random bytes, issued only to
the operator (inside the authorize address), matched by its SHA-256 against a *pending*
social login, used once, void after 10 minutes. Without it the route finds nothing; with it,
it can only finish the login the operator started (the PKCE verifier never leaves kirogate),
and its page shows no token, id or secret.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response

from kirogate.admin.auth import PREFIX, AdminRoute, configured_admin_key, operations_of
from kirogate.admin.schemas import BODY_ERRORS, admin_errors
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import gateway_of, json_object
from kirogate.api.schemas import json_body
from kirogate.errors import ConfigError, InvalidRequest, KirogateError, NotFound
from kirogate.service.logins import DeviceStart, Logins, LoginStatus, SocialStart

log = logging.getLogger(__name__)

router = APIRouter(route_class=AdminRoute, tags=["Logins"])

CALLBACK_PATH = "/logins/callback"

LoginId = Annotated[
    str,
    Path(
        description="the login's id, as its start answered it",
        json_schema_extra={"pattern": "^login_[0-9a-f]{24}$"},
    ),
]


class DeviceLoginBody(BaseModel):
    """``POST /api/admin/logins/device``; an empty body logs in with AWS Builder ID."""

    model_config = ConfigDict(extra="allow")

    start_url: str | None = Field(
        None, description="IAM Identity Center start URL (https://…/start); default Builder ID"
    )
    region: str | None = Field(
        None, description="region of the login service, e.g. us-east-1 (default: the setting)"
    )


class SocialLoginBody(BaseModel):
    """``POST /api/admin/logins/social``."""

    model_config = ConfigDict(extra="allow")

    provider: Literal["google", "github"]
    region: str | None = Field(None, description="region of the Kiro auth service")
    redirect_uri: str | None = Field(
        None,
        description="where the login page sends the browser: Kiro's own "
        "kiro://kiro.kiroAgent/authenticate-success (default; paste the address to /complete) "
        "or this gateway's callback_url",
    )


class CompleteBody(BaseModel):
    """``POST /api/admin/logins/{login_id}/complete``."""

    model_config = ConfigDict(extra="allow")

    url: str = Field(description="the address the browser ended on (…?code=…&state=…)")


class DeviceLoginAnswer(BaseModel):
    login_id: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int


class SocialLoginAnswer(BaseModel):
    login_id: str
    provider: Literal["google", "github"]
    authorize_url: str
    redirect_uri: str
    callback_url: str = Field(description="this gateway's callback, for redirect_uri")
    expires_in: int


class LoginStatusAnswer(BaseModel):
    login_id: str
    kind: Literal["device", "social"]
    status: Literal["pending", "complete", "expired", "denied", "failed"]
    provider: str | None = None
    expires_at: datetime
    credential_id: int | None = None
    error: str | None = None


def _answers(model: type[BaseModel], errors: tuple[int, ...]) -> dict[int | str, Any]:
    return {200: {"model": model, "description": "OK"}, **admin_errors(errors)}


_DEVICE_BODY = json_body(DeviceLoginBody, {})
_DEVICE_BODY["requestBody"]["required"] = False
_UPSTREAM_ERRORS = (*BODY_ERRORS, 502)


def logins_of(request: Request) -> Logins:
    logins = operations_of(request).logins
    if logins is None:
        raise ConfigError("logins need a running gateway")
    return logins


async def _body(request: Request, *, optional: bool = False) -> dict[str, Any]:
    raw = await request.body()
    return {} if optional and not raw.strip() else json_object(raw)


def callback_url(request: Request) -> str:
    """The callback as the operator's own request reached this gateway."""
    return str(request.base_url).rstrip("/") + PREFIX + CALLBACK_PATH


def _device_view(start: DeviceStart) -> dict[str, Any]:
    return {
        "login_id": start.login_id,
        "user_code": start.user_code,
        "verification_uri": start.verification_uri,
        "verification_uri_complete": start.verification_uri_complete,
        "expires_in": start.expires_in,
        "interval": start.interval,
    }


def _social_view(start: SocialStart, callback: str) -> dict[str, Any]:
    return {
        "login_id": start.login_id,
        "provider": start.provider,
        "authorize_url": start.authorize_url,
        "redirect_uri": start.redirect_uri,
        "callback_url": callback,
        "expires_in": start.expires_in,
    }


def status_view(status: LoginStatus) -> dict[str, Any]:
    view: dict[str, Any] = {
        "login_id": status.login_id,
        "kind": status.kind,
        "status": status.status,
        "provider": status.provider,
        "expires_at": status.expires_at.isoformat(),
    }
    if status.credential_id is not None:
        view["credential_id"] = status.credential_id
    if status.error:
        view["error"] = status.error
    return view


def _text_field(body: dict[str, Any], name: str) -> object:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"field '{name}' must be a string", param=name)
    return value


@router.post(
    "/logins/device",
    openapi_extra=_DEVICE_BODY,
    responses=_answers(DeviceLoginAnswer, _UPSTREAM_ERRORS),
)
async def start_device_login(request: Request) -> Response:
    body = await _body(request, optional=True)
    start = await logins_of(request).start_device(
        start_url=_text_field(body, "start_url"), region=_text_field(body, "region")
    )
    return json_response(_device_view(start))


@router.post(
    "/logins/social",
    openapi_extra=json_body(SocialLoginBody, {"provider": "google"}),
    responses=_answers(SocialLoginAnswer, BODY_ERRORS),
)
async def start_social_login(request: Request) -> Response:
    body = await _body(request)
    start = await logins_of(request).start_social(
        provider=body.get("provider"),
        region=_text_field(body, "region"),
        redirect_uri=_text_field(body, "redirect_uri"),
    )
    return json_response(_social_view(start, callback_url(request)))


class CallbackRoute(APIRoute):
    """No admin key (a browser brings it); every answer is a small HTML page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                if configured_admin_key(gateway_of(request)) is None:
                    raise NotFound("the admin API is off")
                return await handler(request)
            except KirogateError as exc:
                return page("Login failed", exc.message, status=exc.status)
            except ClientDisconnect:
                raise
            except Exception:
                log.exception("unexpected error on the login callback")
                return page("Login failed", "kirogate hit an unexpected error.", status=500)

        return guarded


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="referrer" content="no-referrer"></head>
<body style="font-family:sans-serif;max-width:36em;margin:4em auto">
<h1>{title}</h1><p>{text}</p></body></html>"""


def page(title: str, text: str, *, status: int = 200) -> HTMLResponse:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text))
    # The address carried a one-time code: keep it out of caches and other sites' referrers.
    headers = {"cache-control": "no-store", "referrer-policy": "no-referrer"}
    return HTMLResponse(body, status_code=status, headers=headers)


_DONE = {
    "complete": ("Login complete", "The account was added to kirogate. You can close this tab."),
    "pending": ("Login in progress", "kirogate is finishing the login; check the console."),
}


async def login_callback(request: Request) -> Response:
    """Where the login page sends the browser (when the login's redirect_uri is this route)."""
    params = {key: request.query_params[key] for key in request.query_params}
    status = await logins_of(request).callback(params)
    title, text = _DONE.get(status.status, ("Login failed", status.error or status.status))
    return page(title, text, status=200)


router.add_api_route(
    CALLBACK_PATH,
    login_callback,
    methods=["GET"],
    route_class_override=CallbackRoute,
    response_class=HTMLResponse,
    summary="Login Callback",
    description="The browser's return from the social login page (no admin key: the login's "
    "one-time state authorises it). Answers a small HTML page.",
    responses={200: {"description": "done or failed, as a page"}},
)


@router.get(
    "/logins/{login_id}",
    responses=_answers(LoginStatusAnswer, (401, 404, 503)),
)
async def login_status(request: Request, login_id: LoginId) -> Response:
    return json_response(status_view(await logins_of(request).status(login_id)))


@router.post(
    "/logins/{login_id}/complete",
    openapi_extra=json_body(CompleteBody),
    responses=_answers(LoginStatusAnswer, _UPSTREAM_ERRORS),
)
async def complete_login(request: Request, login_id: LoginId) -> Response:
    body = await _body(request)
    status = await logins_of(request).complete(login_id, body.get("url"))
    return json_response(status_view(status))
