"""What every client route does first: find the gateway, check the key, read the JSON body."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any, cast

import orjson
from starlette.requests import Request

from kirogate.api.access import AccessControl
from kirogate.api.auth import presented_key
from kirogate.convert.ir import NO_CACHE, CacheUsage, Conversation
from kirogate.convert.models import ModelInfo, ModelTable, resolve_model
from kirogate.errors import InvalidRequest
from kirogate.service import Gateway


def gateway_of(request: Request) -> Gateway:
    return cast(Gateway, request.app.state.gateway)


async def authorized_gateway(request: Request) -> Gateway:
    """The gateway, once the caller passed the access checks (address, key, rate limit)."""
    gateway = gateway_of(request)
    state = request.app.state
    access: AccessControl | None = getattr(state, "access", None)
    if access is None:
        access = state.access = AccessControl(gateway)
    await access.check(request)
    return gateway


async def read_json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        raise InvalidRequest("the request body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def estimated_cache(request: Request, gateway: Gateway, conv: Conversation) -> CacheUsage:
    """The prompt-cache usage to report for ``conv`` (0 unless ``cache.estimate`` is on).

    Entries are kept apart per client key (by a digest; the key itself is not kept).
    """
    if gateway.prompt_cache is None:
        return NO_CACHE
    key = presented_key(request)
    client = hashlib.sha256(key.encode()).hexdigest()[:32] if key else ""
    return gateway.estimate_cache(conv, client)


def endpoint_path(request: Request) -> str:
    """The request's path, as ``request.url.path`` gives it for the fixed client routes,
    without building a :class:`starlette.datastructures.URL` (host parsing) per request."""
    path: str = request.scope["path"]
    if "?" in path or "#" in path or "\\" in path:
        return request.url.path
    return path


def model_for(request: Request, name: str) -> ModelInfo:
    table: ModelTable | None = getattr(request.app.state, "models", None)
    if table is not None:
        return table.resolve(name)
    return resolve_model(name)


def hex_id(nbytes: int = 16) -> str:
    return secrets.token_hex(nbytes)


def unix_now() -> int:
    return int(time.time())
