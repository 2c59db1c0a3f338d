"""OpenAI Responses API: ``POST /v1/responses`` (Codex CLI, newer OpenAI SDK code).

Conversations are kept in memory (bounded) so ``previous_response_id`` works within one
gateway process; ``GET /v1/responses/{id}`` returns a stored response.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kirogate.api.common import (
    authorized_gateway,
    endpoint_path,
    estimated_cache,
    hex_id,
    model_for,
    read_json_object,
    unix_now,
)
from kirogate.api.responses import json_response
from kirogate.api.streaming import FinalChunk, sse_response
from kirogate.api.waiting import open_stream
from kirogate.convert.ir import Conversation, OutEvent
from kirogate.convert.responses_in import continue_conversation, responses_to_ir
from kirogate.convert.responses_out import ResponsesStreamRenderer, response_echo
from kirogate.errors import NotFound
from kirogate.service import Gateway

router = APIRouter()


class _BatchRenderer:
    """Adds ``render(events)`` (one write per upstream chunk) to the Responses renderer."""

    def __init__(self, inner: ResponsesStreamRenderer) -> None:
        self.inner = inner
        self.start = inner.start
        self.error = inner.error

    def render(self, events: list[OutEvent]) -> bytes:
        return b"".join([self.inner.feed(event) for event in events])


def _store(gateway: Gateway, conv: Conversation, response: dict[str, Any]) -> None:
    if response.get("status") not in ("completed", "incomplete"):
        return
    gateway.responses[response["id"]] = (continue_conversation(conv, response), response)
    while len(gateway.responses) > gateway.responses_limit:
        gateway.responses.popitem(last=False)


@router.post("/v1/responses")
async def create_response(request: Request) -> Response:
    gateway = await authorized_gateway(request)
    body = await read_json_object(request)
    previous_id = body.get("previous_response_id")
    stored = gateway.responses.get(previous_id) if isinstance(previous_id, str) else None
    conv = responses_to_ir(body, previous=stored[0] if stored else None)
    model = model_for(request, conv.model)
    custom = [tool.name for tool in conv.tools if tool.kind == "custom"]
    renderer = ResponsesStreamRenderer(
        conv.model,
        f"resp_{hex_id(24)}",
        unix_now(),
        custom_tools=custom,
        echo=response_echo(body),
        cache=estimated_cache(request, gateway, conv),
    )
    if conv.stream:
        body = await open_stream(
            gateway,
            conv,
            model,
            endpoint=endpoint_path(request),
            renderer_for=lambda _: _BatchRenderer(renderer),
        )

        async def body_then_store() -> AsyncIterator[bytes]:
            # aclosing: a client hang-up closes the inner body too (and so the upstream).
            async with contextlib.aclosing(body) as chunks:
                async for chunk in chunks:
                    if type(chunk) is FinalChunk:
                        # The response is complete; the server stops reading after this one.
                        _store(gateway, conv, renderer.final_response())
                    yield chunk

        return sse_response(body_then_store())
    answer = await gateway.open_answer(conv, model, endpoint=endpoint_path(request))
    events = await gateway.collect(answer)
    renderer.start()
    for event in events:
        renderer.feed(event)
    final = renderer.final_response()
    _store(gateway, conv, final)
    return json_response(final)


@router.get("/v1/responses/{response_id}")
async def get_response(request: Request, response_id: str) -> Response:
    gateway = await authorized_gateway(request)
    stored = gateway.responses.get(response_id)
    if stored is None:
        raise NotFound(f"response {response_id!r} not found", param="response_id")
    return json_response(stored[1])
