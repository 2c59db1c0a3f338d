"""Anthropic Messages: ``/v1/messages``, ``/v1/messages/count_tokens`` and ``/cc/v1/messages``."""

from __future__ import annotations

from typing import Any, Protocol

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
)
from kirogate.api.schemas import ANTHROPIC_ERRORS, COUNT_TOKENS_BODY, MESSAGES_BODY
from kirogate.api.search_loop import (
    Emit,
    Results,
    SearchLoop,
    collect_with_search,
    open_search_stream,
)
from kirogate.api.streaming import sse_response
from kirogate.api.waiting import open_stream
from kirogate.api.websearch import is_web_search_request, search_blocks, web_search_response
from kirogate.convert.anthropic_in import count_tokens_to_ir, messages_to_ir
from kirogate.convert.anthropic_out import (
    AnthropicAggregator,
    AnthropicStreamRenderer,
    BufferedAnthropicRenderer,
)
from kirogate.convert.ir import Conversation
from kirogate.convert.kiro_tools import served_web_search
from kirogate.convert.tokens import estimate_conversation_tokens

router = APIRouter()


async def _messages(request: Request, *, buffered: bool) -> Response:
    gateway = await authorized_gateway(request)
    conv = await read_converted(request, messages_to_ir)
    model = model_for(request, conv.model)
    endpoint = endpoint_path(request)
    if is_web_search_request(conv):
        return await web_search_response(gateway, conv, model, endpoint=endpoint)
    thinking = conv.thinking is not None or model.thinking is not None
    message_id = f"msg_{hex_id()}"
    cache = estimated_cache(request, gateway, conv)
    search = served_web_search(conv.tools)
    loop = SearchLoop(gateway, conv, model, search, endpoint) if search else None
    if conv.stream:
        cls = BufferedAnthropicRenderer if buffered else AnthropicStreamRenderer

        def renderer_for(tokens: int) -> AnthropicStreamRenderer | BufferedAnthropicRenderer:
            return cls(conv.model, message_id, tokens, thinking, cache)

        if loop is not None:
            body = await open_search_stream(loop, renderer_for=renderer_for, emit_for=_emit_blocks)
        else:
            body = await open_stream(
                gateway, conv, model, endpoint=endpoint, renderer_for=renderer_for
            )
        return sse_response(body)
    aggregator = AnthropicAggregator(conv.model, message_id, thinking, cache)
    if loop is not None:
        await collect_with_search(loop, sink=aggregator.feed_all, emit=_emit_blocks(aggregator))
        return json_response(aggregator.body())
    answer = await gateway.open_answer(conv, model, endpoint=endpoint)
    events = await gateway.collect(answer)
    aggregator.feed_all(events)
    return json_response(aggregator.body())


class _BlockTarget(Protocol):
    """What takes whole content blocks: the Anthropic renderers and the aggregator."""

    def blocks(self, blocks: list[dict[str, Any]]) -> bytes: ...


def _emit_blocks(target: _BlockTarget) -> Emit:
    """Served searches as Anthropic blocks on ``target`` (a renderer or the aggregator)."""

    def emit(query: str, results: Results | None, error_code: str | None) -> bytes:
        return target.blocks(search_blocks(query, results, error_code))

    return emit


@router.post("/v1/messages", openapi_extra=MESSAGES_BODY, responses=ANTHROPIC_ERRORS)
async def messages(request: Request) -> Response:
    return await _messages(request, buffered=False)


@router.post("/cc/v1/messages", openapi_extra=MESSAGES_BODY, responses=ANTHROPIC_ERRORS)
async def messages_buffered(request: Request) -> Response:
    """kiro.rs's Claude Code mode: the stream is held until the end so ``message_start``
    carries the upstream's exact input tokens (pings keep the connection alive)."""
    return await _messages(request, buffered=True)


@router.post(
    "/v1/messages/count_tokens", openapi_extra=COUNT_TOKENS_BODY, responses=ANTHROPIC_ERRORS
)
@router.post(
    "/cc/v1/messages/count_tokens", openapi_extra=COUNT_TOKENS_BODY, responses=ANTHROPIC_ERRORS
)
async def count_tokens(request: Request) -> Response:
    await authorized_gateway(request)
    conv, tokens = await read_converted(request, _counted)
    model_for(request, conv.model)  # an unknown model is a 404 here too
    return json_response({"input_tokens": max(1, tokens)})


def _counted(body: dict[str, Any]) -> tuple[Conversation, int]:
    """A count_tokens body as a Conversation and its estimated input tokens."""
    conv = count_tokens_to_ir(body)
    return conv, estimate_conversation_tokens(conv)
