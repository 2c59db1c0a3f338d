"""Test-only routes under ``/_emulator/`` and the middleware that records every other request.

Inspection: ``GET requests`` (``?path=`` filter, ``?limit=`` last N), ``GET stats``,
``GET scenarios``, ``GET credentials``, ``GET config``.
Control: ``POST reset`` (``?what=requests`` clears only the log), ``POST credentials``,
``POST expire`` ``{accessToken}``, ``POST revoke`` ``{refreshToken|apiKey|accessToken}``,
``POST clients`` ``{clientId, clientSecret}``, ``POST approve`` ``{userCode, deny?}``,
``POST clock`` ``{advance: seconds}``, ``POST refresh-outage`` ``{status}`` (every token refresh
answers that HTTP status; ``null`` ends the outage), ``POST slow-down`` ``{polls}`` (the next
device-code polls answer ``slow_down``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from kirogate.emulator.recorder import RecordedRequest
from kirogate.emulator.responses import json_response, read_json, state_of
from kirogate.emulator.scenarios import SCENARIOS

PREFIX = "/_emulator"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def record_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PREFIX + "/"):
        return await handler(request)
    state = state_of(request)
    raw = await request.read()  # aiohttp caches the body; the handler reads it again for free
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    entry = state.requests.add(
        RecordedRequest(
            seq=0,
            time=state.now(),
            method=request.method,
            path=request.path,
            query={str(k): v for k, v in request.query.items()},
            headers={str(k): v for k, v in request.headers.items()},
            body=body,
            body_bytes=len(raw),
        )
    )
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        state.requests.finish(entry, exc.status)
        raise
    state.requests.finish(entry, response.status)
    return response


def _error(message: str, status: int = 400) -> web.Response:
    return json_response({"error": message}, status)


def _str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    return body if isinstance(body, dict) else {}


async def list_requests(request: web.Request) -> web.Response:
    entries = state_of(request).requests.entries(request.query.get("path"))
    if "limit" in request.query:
        entries = entries[-int(request.query["limit"]) :]
    return json_response({"requests": [entry.to_json() for entry in entries]})


async def stats(request: web.Request) -> web.Response:
    return json_response(state_of(request).requests.stats())


async def reset(request: web.Request) -> web.Response:
    state = state_of(request)
    if request.query.get("what") == "requests":
        state.requests.clear()
    else:
        state.reset()
    return json_response({"reset": True})


async def scenarios(request: web.Request) -> web.Response:
    listing = [
        {"name": s.name, "summary": s.summary, "kind": s.kind, "multiTurn": s.multi_turn}
        for s in sorted(SCENARIOS.values(), key=lambda s: s.name)
    ]
    return json_response({"scenarios": listing})


async def list_credentials(request: web.Request) -> web.Response:
    accounts = state_of(request).accounts.values()
    return json_response({"credentials": [account.to_json() for account in accounts]})


async def register_credential(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        count = body.get("count")
        expires_in = body.get("expiresIn")
        usage = body.get("usage")
        if usage is not None and not isinstance(usage, dict):
            raise ValueError("usage must be an object")
        account = state_of(request).register_credential(
            account_id=_str(body, "id"),
            refresh_token=_str(body, "refreshToken"),
            access_token=_str(body, "accessToken"),
            api_key=_str(body, "apiKey"),
            auth_method=_str(body, "authMethod"),
            client_id=_str(body, "clientId"),
            client_secret=_str(body, "clientSecret"),
            profile_arn=_str(body, "profileArn"),
            email=_str(body, "email"),
            expires_in=float(expires_in) if expires_in is not None else None,
            scenario=_str(body, "scenario"),
            count=int(count) if count is not None else None,
            usage=usage,
        )
    except (ValueError, TypeError) as exc:
        return _error(str(exc))
    return json_response(account.to_json())


async def expire(request: web.Request) -> web.Response:
    token = (await _body(request)).get("accessToken")
    if not isinstance(token, str) or not state_of(request).expire_access_token(token):
        return _error("unknown accessToken", 404)
    return json_response({"expired": True})


async def revoke(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        done = state_of(request).revoke(
            refresh_token=_str(body, "refreshToken"),
            api_key=_str(body, "apiKey"),
            access_token=_str(body, "accessToken"),
        )
    except ValueError as exc:
        return _error(str(exc))
    if not done:
        return _error("give refreshToken, apiKey or a known accessToken", 404)
    return json_response({"revoked": True})


async def register_client(request: web.Request) -> web.Response:
    body = await _body(request)
    client_id, client_secret = state_of(request).register_client(
        body.get("clientId") or None, body.get("clientSecret") or None
    )
    return json_response({"clientId": client_id, "clientSecret": client_secret})


async def approve(request: web.Request) -> web.Response:
    body = await _body(request)
    user_code = body.get("userCode")
    deny = bool(body.get("deny"))
    if not isinstance(user_code, str) or not state_of(request).approve_device(
        user_code, approve=not deny
    ):
        return _error("unknown or expired userCode", 404)
    return json_response({"status": "denied" if deny else "approved"})


async def slow_down(request: web.Request) -> web.Response:
    polls = (await _body(request)).get("polls", 1)
    if isinstance(polls, bool) or not isinstance(polls, int) or polls < 0:
        return _error("polls must be a whole number of polls")
    state_of(request).device_slow_downs = polls
    return json_response({"slowDowns": polls})


async def clock(request: web.Request) -> web.Response:
    state = state_of(request)
    advance = (await _body(request)).get("advance", 0)
    if not isinstance(advance, int | float):
        return _error("advance must be a number of seconds")
    state.advance_clock(float(advance))
    return json_response({"now": state.now()})


async def refresh_outage(request: web.Request) -> web.Response:
    status = (await _body(request)).get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
    ):
        return _error("status must be an HTTP error status (400-599) or null")
    state_of(request).refresh_outage = status
    return json_response({"refreshOutage": status})


async def config(request: web.Request) -> web.Response:
    cfg = state_of(request).config
    return json_response(
        {
            field.name: dataclasses.asdict(value)
            if dataclasses.is_dataclass(value) and not isinstance(value, type)
            else value
            for field in dataclasses.fields(cfg)
            for value in [getattr(cfg, field.name)]
        }
    )


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get(f"{PREFIX}/requests", list_requests)
    router.add_get(f"{PREFIX}/stats", stats)
    router.add_get(f"{PREFIX}/scenarios", scenarios)
    router.add_get(f"{PREFIX}/credentials", list_credentials)
    router.add_get(f"{PREFIX}/config", config)
    router.add_post(f"{PREFIX}/reset", reset)
    router.add_post(f"{PREFIX}/credentials", register_credential)
    router.add_post(f"{PREFIX}/expire", expire)
    router.add_post(f"{PREFIX}/revoke", revoke)
    router.add_post(f"{PREFIX}/clients", register_client)
    router.add_post(f"{PREFIX}/approve", approve)
    router.add_post(f"{PREFIX}/clock", clock)
    router.add_post(f"{PREFIX}/slow-down", slow_down)
    router.add_post(f"{PREFIX}/refresh-outage", refresh_outage)
