"""OpenAI Responses API: ``POST /v1/responses`` (Codex CLI, newer OpenAI SDK code).

Conversations are kept in memory (bounded) so ``previous_response_id`` works within one
gateway process; ``GET /v1/responses/{id}`` returns a stored response. The output items of
stored responses are indexed by id too, so an ``item_reference`` resolves without
``previous_response_id`` (the Vercel AI SDK's tool loop sends those). A ``web_search`` tool
is served by the gateway (:mod:`.search_loop`); other hosted tools are declined with a log
line (docs/tools.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

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
from kirogate.api.schemas import (
    OPENAI_ERRORS,
    READ_ERRORS,
    RESPONSES_BODY,
    OpenAIError,
    error_responses,
)
from kirogate.api.search_loop import (
    Results,
    SearchLoop,
    collect_with_search,
    open_search_stream,
)
from kirogate.api.streaming import FinalChunk, sse_response
from kirogate.api.waiting import open_stream
from kirogate.api.websearch import summary_text
from kirogate.convert.ir import Conversation, OutEvent
from kirogate.convert.kiro_tools import served_web_search
from kirogate.convert.responses_in import (
    SEARCH_RESULTS_KEY,
    continue_conversation,
    responses_to_ir,
)
from kirogate.convert.responses_out import ResponsesStreamRenderer, response_echo
from kirogate.errors import NotFound
from kirogate.service import Gateway

router = APIRouter()
log = logging.getLogger(__name__)


def _store(
    gateway: Gateway,
    conv: Conversation,
    response: dict[str, Any],
    searches: Mapping[str, str],
) -> None:
    """Keep a finished response and index its output items; ``searches``: results by item id."""
    if response.get("status") not in ("completed", "incomplete"):
        return
    output = [
        {**item, SEARCH_RESULTS_KEY: searches[item["id"]]} if item.get("id") in searches else item
        for item in response.get("output") or ()
    ]
    kept = continue_conversation(conv, {**response, "output": output})
    gateway.responses.keep(response["id"], kept, response, output)


@router.post("/v1/responses", openapi_extra=RESPONSES_BODY, responses=OPENAI_ERRORS)
async def create_response(request: Request) -> Response:
    gateway = await authorized_gateway(request)

    def convert(body: dict[str, Any]) -> tuple[dict[str, Any], Conversation]:
        previous_id = body.get("previous_response_id")
        stored = gateway.responses.get(previous_id) if isinstance(previous_id, str) else None
        previous = stored[0] if stored else None
        return body, responses_to_ir(body, previous=previous, references=gateway.responses.items)

    async def recall(body: dict[str, Any]) -> None:
        """What the body refers to and another instance (or an earlier run) answered."""
        previous_id = body.get("previous_response_id")
        items = body.get("input")
        references = [
            item["id"]
            for item in (items if isinstance(items, list) else ())
            if isinstance(item, dict)
            and item.get("type") == "item_reference"
            and isinstance(item.get("id"), str)
        ]
        await gateway.responses.load(
            previous_id if isinstance(previous_id, str) else None, references
        )

    prepare = recall if gateway.responses.shared is not None else None
    body, conv = await read_converted(request, convert, prepare)
    declined = conv.metadata.get("declined_tools")
    if declined:
        log.info("declined tools the upstream cannot run: %s", ", ".join(declined))
    model = model_for(request, conv.model)
    custom = [tool.name for tool in conv.tools if tool.kind == "custom"]
    renderer = ResponsesStreamRenderer(
        conv.model,
        f"resp_{hex_id(24)}",
        unix_now(),
        custom_tools=custom,
        namespaces=conv.metadata.get("namespaces"),
        echo=response_echo(body),
        cache=estimated_cache(request, gateway, conv),
    )
    endpoint = endpoint_path(request)
    search = served_web_search(conv.tools)
    loop = SearchLoop(gateway, conv, model, search, endpoint) if search else None
    searches: dict[str, str] = {}  # web_search_call item id -> what the model was given

    def emit(query: str, results: Results | None, error_code: str | None) -> bytes:
        item_id = f"ws_{hex_id(24)}"
        if results is not None:
            searches[item_id] = summary_text(query, results)
        return renderer.web_search_call(query, item_id=item_id)

    if conv.stream:
        if loop is not None:
            stream = await open_search_stream(
                loop, renderer_for=lambda _: renderer, emit_for=lambda _: emit
            )
        else:
            stream = await open_stream(
                gateway,
                conv,
                model,
                endpoint=endpoint,
                renderer_for=lambda _: renderer,
            )

        async def body_then_store() -> AsyncIterator[bytes]:
            # aclosing: a client hang-up closes the inner body too (and so the upstream).
            async with contextlib.aclosing(stream) as chunks:
                async for chunk in chunks:
                    if type(chunk) is FinalChunk:
                        # The response is complete; the server stops reading after this one.
                        _store(gateway, conv, renderer.final_response(), searches)
                    yield chunk

        return sse_response(body_then_store())
    renderer.start()
    if loop is not None:
        await collect_with_search(loop, sink=_feed_all(renderer), emit=emit)
    else:
        answer = await gateway.open_answer(conv, model, endpoint=endpoint)
        _feed_all(renderer)(await gateway.collect(answer))
    final = renderer.final_response()
    _store(gateway, conv, final, searches)
    return json_response(final)


def _feed_all(renderer: ResponsesStreamRenderer) -> Callable[[list[OutEvent]], None]:
    def feed(events: list[OutEvent]) -> None:
        for event in events:
            renderer.feed(event)

    return feed


@router.get("/v1/responses/{response_id}", responses=error_responses(OpenAIError, READ_ERRORS))
async def get_response(request: Request, response_id: str) -> Response:
    gateway = await authorized_gateway(request)
    await gateway.responses.load(response_id)
    stored = gateway.responses.get(response_id)
    if stored is None:
        raise NotFound(f"response {response_id!r} not found", param="response_id")
    return json_response(stored[1])
