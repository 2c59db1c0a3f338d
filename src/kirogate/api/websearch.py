"""Anthropic's server-side ``web_search`` tool, answered through the upstream MCP call (spec §6).

When a Messages request's only tool is ``web_search`` (what Claude Code sends for its
WebSearch), the query is sent to ``/mcp`` and the answer is rendered as Anthropic server
tool blocks: ``server_tool_use`` + ``web_search_tool_result`` + a text summary, without
asking the model (kiro.rs's path). With other tools, :mod:`.search_loop` lets the model
call the search; it uses :func:`run_search` and :func:`search_blocks` from here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from starlette.responses import Response

from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import hex_id
from kirogate.api.streaming import sse_response
from kirogate.convert.ir import Conversation, Text
from kirogate.convert.models import ModelInfo
from kirogate.convert.tokens import estimate_conversation_tokens
from kirogate.errors import InvalidRequest
from kirogate.service import Gateway

QUERY_PREFIX = "Perform a web search for the query: "
SNIPPET_LIMIT = 200
TEXT_CHUNK = 100


def is_web_search_request(conv: Conversation) -> bool:
    return len(conv.tools) == 1 and conv.tools[0].kind == "web_search"


def search_query(conv: Conversation) -> str:
    """The first user message's text, without Claude Code's fixed prefix."""
    for turn in conv.turns:
        if turn.role != "user":
            continue
        for part in turn.parts:
            if isinstance(part, Text) and part.text.strip():
                return part.text.strip().removeprefix(QUERY_PREFIX).strip()
        break
    raise InvalidRequest("web search: no query text in the first user message", param="messages")


def _page_age(value: Any) -> str | None:
    if not isinstance(value, int | float) or value <= 0:
        return None
    seconds = value / 1000 if value > 1e11 else value
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%B %-d, %Y")


def summary_text(query: str, results: list[dict[str, Any]]) -> str:
    if not results:
        return f'No results found for "{query}".'
    lines = [f'Here are the search results for "{query}":\n']
    for number, item in enumerate(results, 1):
        snippet = str(item.get("snippet") or "")
        if len(snippet) > SNIPPET_LIMIT:
            snippet = snippet[:SNIPPET_LIMIT] + "..."
        lines.append(
            f"{number}. **{item.get('title', '')}**\n   {snippet}\n   Source: {item.get('url', '')}\n"
        )
    lines.append(
        "Please note that these are web search results and may not be fully accurate or up-to-date."
    )
    return "\n".join(lines)


def search_blocks(
    query: str, results: list[dict[str, Any]] | None, error_code: str | None = None
) -> list[dict[str, Any]]:
    """Anthropic's ``server_tool_use`` + ``web_search_tool_result`` for one search.

    ``results`` None: the search did not run; the result block carries ``error_code``
    (``max_uses_exceeded``, ``unavailable``, ``invalid_tool_input``) as Anthropic's API does.
    """
    tool_id = f"srvtoolu_{hex_id()}"
    content: Any = (
        {"type": "web_search_tool_result_error", "error_code": error_code or "unavailable"}
        if results is None
        else [
            {
                "type": "web_search_result",
                "title": str(item.get("title") or ""),
                "url": str(item.get("url") or ""),
                "encrypted_content": str(item.get("snippet") or ""),
                "page_age": _page_age(item.get("publishedDate")),
            }
            for item in results
        ]
    )
    return [
        {"type": "server_tool_use", "id": tool_id, "name": "web_search", "input": {"query": query}},
        {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": content},
    ]


def content_blocks(query: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"type": "text", "text": f'I\'ll search for "{query}".'},
        *search_blocks(query, results),
        {"type": "text", "text": summary_text(query, results)},
    ]


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _stream(message: dict[str, Any], blocks: list[dict[str, Any]], usage: dict[str, Any]) -> bytes:
    start = {**message, "content": [], "stop_reason": None}
    out = [_sse("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            text = block["text"]
            out.append(
                _sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            for offset in range(0, len(text), TEXT_CHUNK):
                out.append(
                    _sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {
                                "type": "text_delta",
                                "text": text[offset : offset + TEXT_CHUNK],
                            },
                        },
                    )
                )
        else:
            out.append(
                _sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": block},
                )
            )
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": usage,
            },
        )
    )
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return b"".join(out)


async def run_search(
    gateway: Gateway, conv: Conversation, model: ModelInfo, query: str, *, endpoint: str = ""
) -> list[dict[str, Any]]:
    """The results of one MCP web search (the service's answering path: failover, refresh,
    request log)."""
    return await gateway.web_search(conv, model, query, endpoint=endpoint)


async def web_search_response(
    gateway: Gateway, conv: Conversation, model: ModelInfo, *, endpoint: str = ""
) -> Response:
    query = search_query(conv)
    results = await run_search(gateway, conv, model, query, endpoint=endpoint)
    blocks = content_blocks(query, results)
    output_tokens = max(1, len(blocks[-1]["text"]) // 4)
    usage = {
        "input_tokens": estimate_conversation_tokens(conv),
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "server_tool_use": {"web_search_requests": 1},
    }
    message = {
        "id": f"msg_{hex_id()}",
        "type": "message",
        "role": "assistant",
        "model": conv.model,
        "content": blocks,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    if not conv.stream:
        return json_response(message)
    body = _stream(message, blocks, usage)

    async def once() -> Any:
        yield body

    return sse_response(once())
