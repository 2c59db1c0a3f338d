"""Social auth service routes: ``/refreshToken`` and the PKCE login (``/login``, ``/oauth/token``).

Social refresh and the code exchange answer camelCase ``{accessToken, refreshToken,
profileArn, expiresIn}``; the exchange request is snake_case (spec auth §3.2). Errors use
the OAuth shape, with the exact invalid_grant body kiro.rs keys on (spec auth §2.3).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from kirogate.emulator import replies
from kirogate.emulator.accounts import Account
from kirogate.emulator.responses import json_response, read_json, send_reply, state_of

IDPS: Final = ("Google", "Github")


def _field(body: Any, key: str) -> str | None:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def social_tokens(account: Account, access: str, refresh: str, ttl: int) -> dict[str, Any]:
    return {
        "accessToken": access,
        "refreshToken": refresh,
        "profileArn": account.profile_arn,
        "expiresIn": ttl,
    }


async def refresh_token(request: web.Request) -> web.Response:
    state = state_of(request)
    if state.refresh_outage is not None:
        return send_reply(request, replies.refresh_outage(state.refresh_outage))
    token = _field(await read_json(request), "refreshToken")
    if token is None:
        return send_reply(
            request, replies.oauth_error("invalid_request", "refreshToken is required")
        )
    result = state.refresh(token, auth_method="social")
    if result is None:
        return send_reply(request, replies.invalid_grant())
    account, access, refresh = result
    return json_response(social_tokens(account, access, refresh, state.config.access_token_ttl))


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def login(request: web.Request) -> web.Response:
    """The login page: no identity provider, it redirects straight back with a code."""
    query = request.query
    redirect_uri = query.get("redirect_uri", "")
    challenge = query.get("code_challenge", "")
    idp = query.get("idp", "")
    if not redirect_uri or not challenge:
        return send_reply(
            request,
            replies.oauth_error("invalid_request", "redirect_uri and code_challenge are required"),
        )
    if query.get("code_challenge_method", "S256") != "S256":
        return send_reply(
            request, replies.oauth_error("invalid_request", "code_challenge_method must be S256")
        )
    if idp not in IDPS:
        return send_reply(
            request, replies.oauth_error("invalid_request", f"idp must be one of {', '.join(IDPS)}")
        )
    code = state_of(request).start_login(challenge=challenge, redirect_uri=redirect_uri, idp=idp)
    params = {"code": code}
    if "state" in query:
        params["state"] = query["state"]
    separator = "&" if "?" in redirect_uri else "?"
    location = f"{redirect_uri}{separator}{urlencode(params)}"
    return web.Response(status=302, headers={"Location": location})


async def oauth_token(request: web.Request) -> web.Response:
    state = state_of(request)
    body = await read_json(request)
    code = _field(body, "code")
    verifier = _field(body, "code_verifier")
    redirect_uri = _field(body, "redirect_uri")
    if code is None or verifier is None or redirect_uri is None:
        return send_reply(
            request,
            replies.oauth_error(
                "invalid_request", "code, code_verifier and redirect_uri are required"
            ),
        )
    grant = state.take_login(code)
    if grant is None:
        return send_reply(
            request, replies.oauth_error("invalid_grant", "Invalid authorization code")
        )
    if grant.redirect_uri != redirect_uri:
        return send_reply(request, replies.oauth_error("invalid_grant", "redirect_uri mismatch"))
    if s256(verifier) != grant.challenge:
        return send_reply(request, replies.oauth_error("invalid_grant", "PKCE verification failed"))
    account = state.create_account("social")
    access = state.issue_access_token(account)
    refresh = state.issue_refresh_token(account)
    return json_response(social_tokens(account, access, refresh, state.config.access_token_ttl))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/refreshToken", refresh_token)
    app.router.add_get("/login", login)
    app.router.add_post("/oauth/token", oauth_token)
