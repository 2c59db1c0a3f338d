from typing import Any

import pytest

from kirogate.api import search_loop
from kirogate.api.search_loop import (
    SearchCall,
    SearchFilter,
    SearchingRenderer,
    SearchLoop,
    follow_up,
)
from kirogate.convert.ir import (
    Conversation,
    Finish,
    OutEvent,
    Text,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolCallStop,
    ToolDef,
    ToolResult,
    Turn,
)
from kirogate.convert.models import resolve_model
from kirogate.convert.render import StreamRenderer
from kirogate.errors import KirogateError, UpstreamUnavailable

SEARCH = ToolDef("web_search", "", {}, kind="web_search")
CONV = Conversation("claude-sonnet-4-5", (Turn("user", (Text("news?"),)),), tools=(SEARCH,))


def search_round(call_id: str = "s1", query: str = "rust") -> list[OutEvent]:
    return [
        TextDelta("Looking."),
        ToolCallStart(call_id, "web_search"),
        ToolCallDelta(f'{{"query": "{query}"}}'),
        ToolCallStop(call_id, {"query": query}),
        Finish("tool_use", 10, 4),
    ]


def test_filter_hides_search_calls_and_holds_the_finish() -> None:
    search_filter = SearchFilter("web_search")
    assert search_filter.feed(search_round()) == [TextDelta("Looking.")]
    taken = search_filter.take()
    assert taken is not None
    assert taken.calls == (SearchCall("s1", "rust"),)
    assert (taken.text, taken.client_calls, taken.finish.output_tokens) == ("Looking.", False, 4)
    assert search_filter.take() is None


def test_filter_passes_other_tools_and_notes_them() -> None:
    search_filter = SearchFilter("web_search")
    events: list[OutEvent] = [
        ToolCallStart("b1", "Bash"),
        ToolCallDelta("{}"),
        ToolCallStop("b1", {}),
        *search_round()[1:],
    ]
    kept = search_filter.feed(events)
    assert kept == events[:3]
    taken = search_filter.take()
    assert taken is not None and taken.client_calls


def test_filter_passes_a_finish_without_search_calls() -> None:
    search_filter = SearchFilter("web_search")
    finish = Finish("end_turn", 10, 2)
    assert search_filter.feed([TextDelta("hi"), finish]) == [TextDelta("hi"), finish]
    assert search_filter.take() is None


def test_final_finish_counts_the_output_of_every_round() -> None:
    search_filter = SearchFilter("web_search")
    search_filter.feed(search_round())
    search_filter.take()
    kept = search_filter.feed([TextDelta("Found."), Finish("end_turn", 30, 6)])
    assert kept[-1] == Finish("end_turn", 30, 10)


def test_follow_up_appends_the_calls_and_their_results() -> None:
    conv = follow_up(CONV, "web_search", "Looking.", [(SearchCall("s1", "rust"), "1. Rust")])
    assert conv.turns[1:] == (
        Turn("assistant", (Text("Looking."), ToolCall("s1", "web_search", {"query": "rust"}))),
        Turn("user", (ToolResult("s1", "1. Rust"),)),
    )


class _Inner(StreamRenderer):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def start(self) -> bytes:
        return b"start"

    def error(self, exc: KirogateError) -> bytes:
        return b"error"

    def render(self, events: list[OutEvent]) -> bytes:
        self.seen.extend(events)
        return b"rendered"

    def render_text(self, text: str) -> bytes:
        return text.encode()


def test_searching_renderer_notes_fast_text_and_filters_events() -> None:
    inner = _Inner()
    search_filter = SearchFilter("web_search")
    renderer = SearchingRenderer(inner, search_filter)
    assert renderer.render_text("Looking.") == b"Looking."
    assert renderer.render(search_round()[1:]) == b""
    assert inner.seen == []
    taken = search_filter.take()
    assert taken is not None and taken.text == "Looking."


def test_searching_renderer_sends_no_ping_when_the_inner_has_none() -> None:
    renderer = SearchingRenderer(_Inner(), SearchFilter("web_search"))
    assert renderer.ping() == b""


def _loop(monkeypatch: pytest.MonkeyPatch, tool: ToolDef = SEARCH) -> tuple[SearchLoop, list[str]]:
    queries: list[str] = []

    async def fake_search(gateway: Any, conv: Any, model: Any, query: str) -> list[dict[str, Any]]:
        queries.append(query)
        if query == "down":
            raise UpstreamUnavailable("no search today")
        return [{"title": "Rust", "url": "https://rust.example", "snippet": "A language"}]

    monkeypatch.setattr(search_loop, "run_search", fake_search)
    conv = Conversation(CONV.model, CONV.turns, tools=(tool,))
    return SearchLoop(None, conv, resolve_model(CONV.model), tool, "/v1/messages"), queries  # type: ignore[arg-type]


def _taken(loop: SearchLoop, *queries: str) -> Any:
    events: list[OutEvent] = []
    for number, query in enumerate(queries):
        events += search_round(f"s{number}", query)[1:4]
    loop.filter.feed([*events, Finish("tool_use", 10, 4)])
    return loop.filter.take()


def _emitted() -> tuple[list[tuple[str, Any, Any]], Any]:
    drawn: list[tuple[str, Any, Any]] = []

    def emit(query: str, results: Any, error_code: Any) -> bytes:
        drawn.append((query, results is not None, error_code))
        return b"|"

    return drawn, emit


async def test_serve_runs_the_search_and_continues_with_its_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop, queries = _loop(monkeypatch)
    drawn, emit = _emitted()
    data, conv = await loop.serve(_taken(loop, "rust"), emit)
    assert (data, queries, drawn) == (b"|", ["rust"], [("rust", True, None)])
    assert conv is not None
    result = conv.turns[-1].parts[0]
    assert isinstance(result, ToolResult) and 'search results for "rust"' in result.content


async def test_serve_past_max_uses_reports_it_and_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    tool = ToolDef("web_search", "", {}, kind="web_search", max_uses=1)
    loop, queries = _loop(monkeypatch, tool)
    drawn, emit = _emitted()
    _, conv = await loop.serve(_taken(loop, "one", "two"), emit)
    assert queries == ["one"]
    assert drawn == [("one", True, None), ("two", False, "max_uses_exceeded")]
    assert conv is not None  # the model is told and may answer
    _, conv = await loop.serve(_taken(loop, "three"), emit)
    assert conv is None
    assert drawn[-1] == ("three", False, "max_uses_exceeded")


async def test_limit_never_exceeds_the_hard_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    loop, _ = _loop(monkeypatch, ToolDef("web_search", "", {}, kind="web_search", max_uses=99))
    assert loop.limit == search_loop.MAX_SEARCHES


async def test_a_failed_search_is_an_unavailable_result(monkeypatch: pytest.MonkeyPatch) -> None:
    loop, _ = _loop(monkeypatch)
    drawn, emit = _emitted()
    _, conv = await loop.serve(_taken(loop, "down"), emit)
    assert drawn == [("down", False, "unavailable")]
    assert conv is not None


async def test_an_empty_query_is_invalid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    loop, queries = _loop(monkeypatch)
    drawn, emit = _emitted()
    await loop.serve(_taken(loop, ""), emit)
    assert queries == []
    assert drawn == [("", False, "invalid_tool_input")]


async def test_client_tool_calls_end_the_answer_with_tool_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop, _ = _loop(monkeypatch)
    _, emit = _emitted()
    loop.filter.feed([ToolCallStart("b1", "Bash"), ToolCallStop("b1", {})])
    taken = _taken(loop, "rust")
    _, conv = await loop.serve(taken, emit)
    assert conv is None
    assert loop.last_finish(taken).stop_reason == "tool_use"


def test_last_finish_of_a_search_only_round_is_end_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    loop, _ = _loop(monkeypatch)
    assert loop.last_finish(_taken(loop, "rust")).stop_reason == "end_turn"


async def test_a_search_still_running_at_the_stops_cut_ends_with_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio
    from types import SimpleNamespace

    from kirogate.api.streaming import FinalChunk
    from kirogate.service.shutdown import Shutdown

    loop, _ = _loop(monkeypatch)
    stop = Shutdown(0.0, settle=0.0)
    loop.gateway = SimpleNamespace(shutdown=stop)  # type: ignore[assignment]
    searching = asyncio.Event()
    stopped: list[bool] = []

    async def slow_search(gateway: Any, conv: Any, model: Any, query: str) -> Any:
        searching.set()
        try:
            await asyncio.sleep(30.0)
        except asyncio.CancelledError:
            stopped.append(True)
            raise

    monkeypatch.setattr(search_loop, "run_search", slow_search)
    loop.filter.feed([*search_round("s0", "slow")[1:4], Finish("tool_use", 10, 4)])

    async def first_round() -> Any:
        yield FinalChunk(b"")

    renderer = SearchingRenderer(_Inner(), loop.filter)
    _, emit = _emitted()
    body = search_loop._search_body(loop, first_round(), renderer, emit)

    async def read() -> list[bytes]:
        with stop.request():
            return [chunk async for chunk in body]

    reading = asyncio.ensure_future(read())
    await asyncio.wait_for(searching.wait(), 30.0)
    stop.cut()
    chunks = await asyncio.wait_for(reading, 30.0)
    assert chunks[-1] == b"error"
    assert type(chunks[-1]) is FinalChunk
    assert stopped == [True]  # the search was abandoned
