"""AWS SSO-OIDC routes: ``/client/register``, ``/device_authorization``, ``/token``, and the
verification page ``GET /device?user_code=…`` that approves a device code when opened.

All bodies are camelCase JSON (spec auth §3.1, §2.2); errors are
``{"error": …, "error_description": …}``, 400 except ``invalid_client`` (401, as AWS).
A poll sooner than the code's interval answers ``slow_down`` without raising the interval
(RFC 8628 says +5 s; that would only slow tests down), except for the slow-downs a test asks
for (``POST /_emulator/slow-down``): each raises the interval by 5 s, so a client that does
not wait 5 s more gets ``slow_down`` again.
"""

from __future__ import annotations

import html
from typing import Any, Final

from aiohttp import web

from kirogate.emulator import replies
from kirogate.emulator.accounts import Account
from kirogate.emulator.responses import json_response, read_json, send_reply, state_of

DEVICE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
_REGISTRATION_TTL: Final = 90 * 86_400


def _field(body: Any, key: str) -> str | None:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def _tokens(account: Account, access: str, refresh: str, ttl: int) -> dict[str, Any]:
    # CreateToken does not return a profileArn for IdC; the gateway must discover it.
    return {"accessToken": access, "tokenType": "Bearer", "expiresIn": ttl, "refreshToken": refresh}


async def register_client(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await read_json(request)
    if _field(body, "clientName") is None or _field(body, "clientType") is None:
        return send_reply(
            request,
            replies.oauth_error("invalid_request", "clientName and clientType are required"),
        )
    client_id, client_secret = state.register_client()
    issued = int(state.now())
    return json_response(
        {
            "clientId": client_id,
            "clientSecret": client_secret,
            "clientIdIssuedAt": issued,
            "clientSecretExpiresAt": issued + _REGISTRATION_TTL,
        }
    )


async def device_authorization(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await read_json(request)
    client_id = _field(body, "clientId")
    if not state.client_valid(client_id, _field(body, "clientSecret")):
        return send_reply(request, replies.invalid_client())
    if _field(body, "startUrl") is None:
        return send_reply(request, replies.oauth_error("invalid_request", "startUrl is required"))
    assert client_id is not None
    device = state.start_device(client_id)
    base = f"{request.url.origin()}/device"
    return json_response(
        {
            "deviceCode": device.device_code,
            "userCode": device.user_code,
            "verificationUri": base,
            "verificationUriComplete": f"{base}?user_code={device.user_code}",
            "expiresIn": state.config.device_code_ttl,
            "interval": device.interval,
        }
    )


async def create_token(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await read_json(request)
    client_id = _field(body, "clientId")
    if not state.client_valid(client_id, _field(body, "clientSecret")):
        return send_reply(request, replies.invalid_client())
    grant_type = _field(body, "grantType")
    ttl = state.config.access_token_ttl
    if grant_type == "refresh_token":
        if state.refresh_outage is not None:
            return send_reply(request, replies.refresh_outage(state.refresh_outage))
        token = _field(body, "refreshToken")
        if token is None:
            return send_reply(
                request, replies.oauth_error("invalid_request", "refreshToken is required")
            )
        result = state.refresh(token, auth_method="idc", client_id=client_id)
        if result is None:
            return send_reply(request, replies.invalid_grant())
        return json_response(_tokens(result[0], result[1], result[2], ttl))
    if grant_type == DEVICE_GRANT:
        return _poll_device(request, client_id or "", _field(body, "deviceCode") or "")
    return send_reply(
        request,
        replies.oauth_error("unsupported_grant_type", f"Unsupported grant type: {grant_type}"),
    )


def _poll_device(request: web.Request, client_id: str, device_code: str) -> web.Response:
    state = state_of(request)
    device = state.devices.get(device_code)
    if device is None or device.client_id != client_id or device.status == "used":
        return send_reply(
            request, replies.oauth_error("invalid_grant", "Invalid device code provided")
        )
    now = state.now()
    if device.expires_at <= now:
        return send_reply(request, replies.oauth_error("expired_token", "Device code has expired"))
    last, device.last_poll = device.last_poll, now
    if state.device_slow_downs > 0 and device.status == "pending":
        state.device_slow_downs -= 1
        device.interval += 5
        return send_reply(
            request, replies.oauth_error("slow_down", "Client is polling too quickly")
        )
    if last is not None and now - last < device.interval:
        return send_reply(
            request, replies.oauth_error("slow_down", "Client is polling too quickly")
        )
    if device.status == "denied":
        return send_reply(
            request, replies.oauth_error("access_denied", "Access denied by the user")
        )
    if device.status == "pending":
        return send_reply(
            request, replies.oauth_error("authorization_pending", "Authorization is pending")
        )
    device.status = "used"
    account = state.create_account("idc")
    account.client_id = client_id
    access = state.issue_access_token(account)
    refresh = state.issue_refresh_token(account)
    return json_response(_tokens(account, access, refresh, state.config.access_token_ttl))


_PAGE = """<!doctype html><html><head><title>kirogate emulator: device login</title></head>
<body><h1>{title}</h1><p>{text}</p>
<form method="get" action="/device"><input name="user_code" placeholder="ABCD-EFGH">
<button>Approve</button></form></body></html>"""


def _page(title: str, text: str, status: int = 200) -> web.Response:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text))
    return web.Response(text=body, status=status, content_type="text/html")


async def device_page(request: web.Request) -> web.Response:
    """Opening ``verificationUriComplete`` approves the code (``action=deny`` refuses it)."""
    user_code = request.query.get("user_code", "")
    if not user_code:
        return _page("Device login", "Enter the code shown by the application.")
    approve = request.query.get("action", "approve") != "deny"
    if not state_of(request).approve_device(user_code, approve=approve):
        return _page("Unknown code", f"No pending request for {user_code}.", status=404)
    verb = "approved" if approve else "denied"
    return _page(f"Request {verb}", f"{user_code} was {verb}. You can close this window.")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/client/register", register_client)
    app.router.add_post("/device_authorization", device_authorization)
    app.router.add_post("/token", create_token)
    app.router.add_get("/device", device_page)
