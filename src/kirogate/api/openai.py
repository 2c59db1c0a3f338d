"""OpenAI Chat Completions: ``/v1/chat/completions``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import (
    authorized_gateway,
    endpoint_path,
    estimated_cache,
    hex_id,
    model_for,
    read_converted,
    unix_now,
)
from kirogate.api.schemas import CHAT_BODY, OPENAI_ERRORS
from kirogate.api.streaming import sse_response
from kirogate.api.waiting import open_stream
from kirogate.convert.openai_in import chat_to_ir
from kirogate.convert.openai_out import ChatAggregator, ChatStreamRenderer

router = APIRouter()


@router.post(
    "/v1/chat/completions",
    openapi_extra=CHAT_BODY,
    responses=OPENAI_ERRORS,
)
async def chat_completions(request: Request) -> Response:
    gateway = await authorized_gateway(request)
    conv = await read_converted(request, chat_to_ir)
    model = model_for(request, conv.model)
    completion_id = f"chatcmpl-{hex_id(12)}"
    created = unix_now()
    cache = estimated_cache(request, gateway, conv)
    if conv.stream:
        body = await open_stream(
            gateway,
            conv,
            model,
            endpoint=endpoint_path(request),
            renderer_for=lambda _: ChatStreamRenderer.for_conversation(
                conv, completion_id, created, cache
            ),
        )
        return sse_response(body)
    answer = await gateway.open_answer(conv, model, endpoint=endpoint_path(request))
    events = await gateway.collect(answer)
    aggregator = ChatAggregator.for_conversation(conv, completion_id, created, cache)
    aggregator.feed_all(events)
    return json_response(aggregator.body())
