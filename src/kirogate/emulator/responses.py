"""Shared plumbing for the route modules: the app key for the state and JSON answers."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from kirogate.emulator.replies import HttpReply
from kirogate.emulator.state import EmulatorState

STATE_KEY = web.AppKey("kirogate_emulator_state", EmulatorState)


def state_of(request: web.Request) -> EmulatorState:
    return request.app[STATE_KEY]


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def send_reply(request: web.Request, reply: HttpReply) -> web.Response:
    headers = {"x-amzn-RequestId": state_of(request).new_request_id(), **reply.headers}
    return json_response(reply.body, reply.status, headers)


async def read_json(request: web.Request) -> Any:
    """The parsed body, or None when it is empty or not JSON."""
    raw = await request.read()
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
