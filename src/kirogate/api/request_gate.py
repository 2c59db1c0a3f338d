"""What every client route does first: find the gateway, check the key, read the JSON body."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import orjson
from starlette.requests import Request

from kirogate.api.access import AccessControl
from kirogate.api.auth import presented_key
from kirogate.api.request_log import note_request
from kirogate.convert.ir import NO_CACHE, CacheUsage, Conversation
from kirogate.convert.models import ModelInfo, ModelTable, resolve_model
from kirogate.errors import InvalidRequest, PermissionDenied
from kirogate.service import Gateway

T = TypeVar("T")


def gateway_of(request: Request) -> Gateway:
    return cast(Gateway, request.app.state.gateway)


async def authorized_gateway(request: Request) -> Gateway:
    """The gateway, once the caller passed the access checks (address, key, rate limit)."""
    gateway = gateway_of(request)
    note_request(request)  # the peer and start time, for the request-log row
    state = request.app.state
    access: AccessControl | None = getattr(state, "access", None)
    if access is None:
        access = state.access = AccessControl(gateway)
    await access.check(request)
    return gateway


# Bodies up to this size are parsed and converted on the event loop; larger ones in a
# worker thread. Measured: a 64 KiB body takes ~0.1 ms to parse, ~1 ms to convert and up
# to ~4 ms to count tokens in, the cost of the thread hop is ~0.1 ms; a 50 MB body took
# ~0.2 s to parse and seconds to count, stalling every stream meanwhile.
INLINE_BODY_BYTES = 64 * 1024


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (parsed in a worker thread when large)."""
    raw = await request.body()
    if len(raw) > INLINE_BODY_BYTES:
        return await asyncio.to_thread(json_object, raw)
    return json_object(raw)


async def read_converted(
    request: Request,
    convert: Callable[[dict[str, Any]], T],
    prepare: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> T:
    """``convert`` of the body's JSON object; both run in a worker thread when the body is
    large, so a big request does not stall the streams the event loop is serving.
    ``prepare``, when given, is awaited on the parsed body before ``convert`` runs."""
    raw = await request.body()
    large = len(raw) > INLINE_BODY_BYTES
    if prepare is None:
        if large:
            return await asyncio.to_thread(lambda: convert(json_object(raw)))
        return convert(json_object(raw))
    body = await asyncio.to_thread(json_object, raw) if large else json_object(raw)
    await prepare(body)
    return await asyncio.to_thread(convert, body) if large else convert(body)


def json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` parsed; an empty body, bad JSON or a non-object is an InvalidRequest."""
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
    """The model ``name`` resolves to; a 403 when the request's client key may not use it."""
    table: ModelTable | None = getattr(request.app.state, "models", None)
    info = table.resolve(name) if table is not None else resolve_model(name)
    access: AccessControl | None = getattr(request.app.state, "access", None)
    if access is not None:
        access.check_model(request, name, info)
    return info


def key_allows(request: Request, info: ModelInfo) -> bool:
    """Whether the request's client key may use ``info`` (for listing the models)."""
    access: AccessControl | None = getattr(request.app.state, "access", None)
    if access is None:
        return True
    try:
        access.check_model(request, info.public_id, info)
    except PermissionDenied:
        return False
    return True


def hex_id(nbytes: int = 16) -> str:
    return secrets.token_hex(nbytes)


def unix_now() -> int:
    return int(time.time())
