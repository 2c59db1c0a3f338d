"""The ``/mcp`` web-search JSON-RPC answer (spec data §6), derived from the query alone.

Results: 5 entries; entry ``i`` (1-based) has title ``"<query> — result i"``, url
``https://<domain>/<slug>/<i>`` where ``domain`` cycles through :data:`DOMAINS` starting at
``sha256(query)[0] % 5``, and a snippet quoting the query. A query containing
``[[emu:error]]`` gets a JSON-RPC error; ``[[emu:empty]]`` gets no results.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

DOMAINS: Final = (
    "docs.example.com",
    "blog.example.org",
    "wiki.example.net",
    "news.example.com",
    "forum.example.org",
)
RESULT_COUNT: Final = 5
_EPOCH_2024_MS: Final = 1_704_067_200_000


def _slug(query: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", query.lower()).strip("-") or "search"


def search_results(query: str) -> list[dict[str, Any]]:
    digest = hashlib.sha256(query.encode()).digest()
    slug = _slug(query)
    out = []
    for i in range(1, RESULT_COUNT + 1):
        domain = DOMAINS[(digest[0] + i - 1) % len(DOMAINS)]
        out.append(
            {
                "title": f"{query} — result {i}",
                "url": f"https://{domain}/{slug}/{i}",
                "snippet": f"Result {i} about {query}. Text from the kirogate emulator.",
                "publishedDate": _EPOCH_2024_MS + digest[i] * 86_400_000,
                "id": hashlib.sha256(f"{query}/{i}".encode()).hexdigest()[:16],
                "domain": domain,
                "maxVerbatimWordLimit": 200,
                "publicDomain": False,
            }
        )
    return out


def rpc_error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, "id": request_id, "jsonrpc": "2.0"}


def answer(body: Any) -> dict[str, Any]:
    """The JSON-RPC response body for one request (always HTTP 200)."""
    if not isinstance(body, Mapping):
        return rpc_error(None, -32600, "Invalid Request")
    request_id = body.get("id")
    if body.get("method") != "tools/call":
        return rpc_error(request_id, -32601, f"Method not found: {body.get('method')}")
    params = body.get("params")
    params = params if isinstance(params, Mapping) else {}
    if params.get("name") != "web_search":
        return rpc_error(request_id, -32602, f"Unknown tool: {params.get('name')}")
    arguments = params.get("arguments")
    query = arguments.get("query") if isinstance(arguments, Mapping) else None
    if not isinstance(query, str) or not query.strip():
        return rpc_error(request_id, -32602, "Invalid params: query is required")
    if "[[emu:error]]" in query:
        return rpc_error(request_id, -32000, "Web search failed: upstream search error")
    results = [] if "[[emu:empty]]" in query else search_results(query)
    text = orjson.dumps(
        {"results": results, "totalResults": len(results) * 2, "query": query, "error": None}
    ).decode()
    return {
        "id": request_id,
        "jsonrpc": "2.0",
        "result": {"isError": False, "content": [{"type": "text", "text": text}]},
    }
