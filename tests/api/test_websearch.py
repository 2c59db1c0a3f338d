"""Anthropic's server-side ``web_search``: the query, the blocks, the summary, and the answer
(plain and streamed) built from the upstream's results."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kirogate.api import websearch
from kirogate.api.websearch import (
    QUERY_PREFIX,
    SNIPPET_LIMIT,
    content_blocks,
    is_web_search_request,
    search_blocks,
    search_query,
    summary_text,
    web_search_response,
)
from kirogate.convert.ir import Conversation, Text, ToolDef, Turn
from kirogate.convert.models import ModelInfo, resolve_model
from kirogate.errors import InvalidRequest

MODEL = resolve_model("claude-sonnet-4-6")
SEARCH = ToolDef("web_search", "", {}, kind="web_search")
RESULTS = [
    {"title": "Rust", "url": "https://rust-lang.org", "snippet": "A language.", "publishedDate": 1_700_000_000_000},
    {"title": "Crab", "url": "https://crab.example", "snippet": "x" * (SNIPPET_LIMIT + 50)},
]  # fmt: skip


def conversation(*turns: Turn, tools: tuple[ToolDef, ...] = (SEARCH,), stream: bool = False) -> Conversation:  # fmt: skip
    return Conversation(model="claude-sonnet-4-6", turns=list(turns), tools=list(tools), stream=stream)  # fmt: skip


def user(text: str) -> Turn:
    return Turn("user", (Text(text),))


def test_only_a_lone_web_search_tool_is_answered_without_the_model() -> None:
    assert is_web_search_request(conversation(user("q")))
    other = ToolDef("read", "", {})
    assert not is_web_search_request(conversation(user("q"), tools=(SEARCH, other)))
    assert not is_web_search_request(conversation(user("q"), tools=()))


def test_the_query_is_the_first_user_text_without_claude_codes_prefix() -> None:
    conv = conversation(user(f"  {QUERY_PREFIX}rust async  "), user("later"))
    assert search_query(conv) == "rust async"


def test_a_first_user_message_without_text_is_a_400_naming_messages() -> None:
    with pytest.raises(InvalidRequest) as refused:
        search_query(conversation(user("   ")))
    assert refused.value.param == "messages"


def test_summary_lists_results_with_cut_snippets_or_says_none_were_found() -> None:
    text = summary_text("rust", RESULTS)
    assert text.startswith('Here are the search results for "rust":')
    assert "1. **Rust**" in text and "Source: https://rust-lang.org" in text
    assert "x" * SNIPPET_LIMIT + "..." in text and "x" * (SNIPPET_LIMIT + 1) not in text
    assert summary_text("rust", []) == 'No results found for "rust".'


def test_search_blocks_pair_the_call_with_its_results() -> None:
    call, result = search_blocks("rust", RESULTS)
    assert call["type"] == "server_tool_use" and call["input"] == {"query": "rust"}
    assert result["tool_use_id"] == call["id"] and call["id"].startswith("srvtoolu_")
    first = result["content"][0]
    assert first["url"] == "https://rust-lang.org" and first["encrypted_content"] == "A language."
    assert first["page_age"] == "November 14, 2023"
    assert result["content"][1]["page_age"] is None


def test_a_search_that_did_not_run_carries_its_error_code() -> None:
    _, result = search_blocks("rust", None, "max_uses_exceeded")
    assert result["content"] == {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"}  # fmt: skip
    assert search_blocks("q", None)[1]["content"]["error_code"] == "unavailable"


def test_content_blocks_announce_search_and_summarise() -> None:
    kinds = [block["type"] for block in content_blocks("rust", RESULTS)]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "text"]


class SearchingGateway:
    def __init__(self) -> None:
        self.queries: list[str] = []

    async def web_search(self, conv: Conversation, model: ModelInfo, query: str, *, endpoint: str = "") -> list[dict[str, Any]]:  # fmt: skip
        self.queries.append(query)
        return RESULTS


async def test_the_answer_is_a_complete_message_with_usage() -> None:
    gateway = SearchingGateway()
    conv = conversation(user("rust"))
    response = await web_search_response(gateway, conv, MODEL)  # type: ignore[arg-type]
    message = orjson.loads(response.body)
    assert gateway.queries == ["rust"]
    assert message["type"] == "message" and message["stop_reason"] == "end_turn"
    assert [b["type"] for b in message["content"]][1:3] == ["server_tool_use", "web_search_tool_result"]  # fmt: skip
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 1}
    assert message["usage"]["input_tokens"] > 0 and message["usage"]["output_tokens"] > 0


async def test_the_streamed_answer_is_anthropics_event_sequence() -> None:
    conv = conversation(user("rust"), stream=True)
    response = await web_search_response(SearchingGateway(), conv, MODEL)  # type: ignore[arg-type]
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[misc]
    events = [line.removeprefix(b"event: ").decode() for line in body.split(b"\n") if line.startswith(b"event: ")]  # fmt: skip
    assert events[0] == "message_start" and events[-2:] == ["message_delta", "message_stop"]
    assert events.count("content_block_start") == 4 == events.count("content_block_stop")
    data = [orjson.loads(line[6:]) for line in body.split(b"\n") if line.startswith(b"data: ")]
    texts = "".join(d["delta"]["text"] for d in data if d["type"] == "content_block_delta")
    assert summary_text("rust", RESULTS) in texts
    assert all(len(d["delta"]["text"]) <= websearch.TEXT_CHUNK for d in data if d["type"] == "content_block_delta")  # fmt: skip
