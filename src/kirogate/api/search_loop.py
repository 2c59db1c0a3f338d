"""Web search as a tool the model calls and the gateway serves, within one client response.

With other tools beside it, web search is offered to the model as a function with a
``query`` (``kiro_tools.offered_tools``). The model's calls of it never reach the client:
:class:`SearchFilter` takes them out of the output events and holds back the round's
``Finish``. The gateway then runs each search through the upstream's MCP call, sends the
dialect's search blocks (Anthropic ``server_tool_use`` + ``web_search_tool_result``,
Responses ``web_search_call``), and asks the upstream again with the results as tool
results, so the model's answer goes on in the same response. At most ``max_uses``
searches (default 5, never above 10) run per request; a call past the limit gets a
``max_uses_exceeded`` result and ends the answer. When the model calls client tools in the
same round, the searches are served and the response ends with those calls (``tool_use``).

Requests without a served web search never come here: their per-chunk path is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from kirogate.api.streaming import PING_INTERVAL, FinalChunk, Renderer, sse_body
from kirogate.api.waiting import open_stream
from kirogate.api.websearch import run_search, summary_text
from kirogate.convert.ir import (
    Conversation,
    Finish,
    OutEvent,
    Part,
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
from kirogate.convert.models import ModelInfo
from kirogate.convert.render import StreamRenderer
from kirogate.errors import InternalError, KirogateError, ShuttingDown
from kirogate.service import Answer, Gateway
from kirogate.service.shutdown import CUT_MESSAGE
from kirogate.tasks import spawn
from kirogate.upstream.classify import client_error

log = logging.getLogger(__name__)

DEFAULT_MAX_SEARCHES = 5
MAX_SEARCHES = 10

Results = list[dict[str, Any]]
# Draws one served search for the client: (query, results or None, error code or None).
Emit = Callable[[str, Results | None, str | None], bytes]
R = TypeVar("R", bound=Renderer)  # the dialect's own renderer, for its emit


@dataclass(frozen=True, slots=True)
class SearchCall:
    id: str
    query: str


@dataclass(frozen=True, slots=True)
class Round:
    """One upstream answer that called the web search: what the loop needs to go on."""

    calls: tuple[SearchCall, ...]
    finish: Finish
    text: str  # the answer's text before the calls, for the follow-up's assistant turn
    client_calls: bool  # the model also called client tools


class SearchFilter:
    """Takes the model's calls of ``name`` out of the output events; holds that round's Finish."""

    __slots__ = ("_calls", "_client_calls", "_earlier_output", "_held", "_hiding", "_name", "_text")

    def __init__(self, name: str) -> None:
        self._name = name
        self._hiding = False  # inside a call of the search tool
        self._calls: list[SearchCall] = []
        self._text: list[str] = []
        self._client_calls = False
        self._held: Finish | None = None
        self._earlier_output = 0  # output tokens of the rounds already taken

    def note_text(self, text: str) -> None:
        self._text.append(text)

    def feed(self, events: Sequence[OutEvent]) -> list[OutEvent]:
        kept: list[OutEvent] = []
        for event in events:
            if type(event) is TextDelta:
                self._text.append(event.text)
            elif type(event) is ToolCallStart:
                if event.name == self._name:
                    self._hiding = True
                    continue
                self._client_calls = True
            elif type(event) is ToolCallDelta:
                if self._hiding:
                    continue
            elif type(event) is ToolCallStop:
                if self._hiding:
                    self._hiding = False
                    query = event.input.get("query")
                    text = query.strip() if isinstance(query, str) else ""
                    self._calls.append(SearchCall(event.id, text))
                    continue
            elif type(event) is Finish:
                if self._calls:
                    self._held = event
                    continue
                event = self.total(event)
            kept.append(event)
        return kept

    def take(self) -> Round | None:
        """The round that called the search (its Finish held back), or None."""
        held = self._held
        if held is None:
            return None
        taken = Round(tuple(self._calls), held, "".join(self._text), self._client_calls)
        self._earlier_output += held.output_tokens
        self._calls, self._text, self._client_calls, self._held = [], [], False, None
        return taken

    def total(self, finish: Finish) -> Finish:
        """``finish`` counting the output tokens of every round of the response."""
        if not self._earlier_output:
            return finish
        return dataclasses.replace(
            finish, output_tokens=finish.output_tokens + self._earlier_output
        )


class SearchingRenderer(StreamRenderer):
    """A dialect renderer behind a :class:`SearchFilter` (used only when search is served)."""

    __slots__ = ("filter", "inner")

    def __init__(self, inner: Renderer, search_filter: SearchFilter) -> None:
        self.inner = inner
        self.filter = search_filter

    def start(self) -> bytes:
        return self.inner.start()

    def render(self, events: list[OutEvent]) -> bytes:
        kept = self.filter.feed(events)
        return self.inner.render(kept) if kept else b""

    def render_text(self, text: str) -> bytes:
        self.filter.note_text(text)
        return self.inner.render_text(text)

    def ping(self) -> bytes:
        return self.inner.ping()

    def error(self, exc: KirogateError) -> bytes:
        return self.inner.error(exc)


class SearchLoop:
    """The state of one request's search loop: the growing conversation and the counts."""

    def __init__(
        self,
        gateway: Gateway,
        conv: Conversation,
        model: ModelInfo,
        tool: ToolDef,
        endpoint: str,
    ) -> None:
        self.gateway = gateway
        self.conv = conv
        self.model = model
        self.endpoint = endpoint
        self.name = tool.name
        self.limit = min(tool.max_uses or DEFAULT_MAX_SEARCHES, MAX_SEARCHES)
        self.filter = SearchFilter(tool.name)
        self.searches = 0
        self.rounds = 0

    async def serve(self, taken: Round, emit: Emit) -> tuple[bytes, Conversation | None]:
        """Run the round's searches; their blocks and the follow-up (None: the answer ends)."""
        self.rounds += 1
        drawn: list[bytes] = []
        results: list[tuple[SearchCall, str]] = []
        for call in taken.calls:
            if self.searches >= self.limit:
                drawn.append(emit(call.query, None, "max_uses_exceeded"))
                text = f"Web search limit reached ({self.limit} per request); answer without it."
            elif not call.query:
                drawn.append(emit(call.query, None, "invalid_tool_input"))
                text = "The web search needs a non-empty query."
            else:
                self.searches += 1
                log.info(
                    "serving the model's web search %d of at most %d", self.searches, self.limit
                )
                try:
                    found = await run_search(self.gateway, self.conv, self.model, call.query)
                except KirogateError as exc:
                    log.warning("web search failed with %s: %s", type(exc).__name__, exc.message)
                    drawn.append(emit(call.query, None, "unavailable"))
                    text = "The web search is unavailable right now; answer without it."
                else:
                    drawn.append(emit(call.query, found, None))
                    text = summary_text(call.query, found)
            results.append((call, text))
        if taken.client_calls or self.rounds > self.limit:
            return b"".join(drawn), None
        self.conv = follow_up(self.conv, self.name, taken.text, results)
        return b"".join(drawn), self.conv

    def last_finish(self, taken: Round) -> Finish:
        """The Finish that ends the response after ``taken`` (no further upstream request)."""
        finish = taken.finish
        if not taken.client_calls:
            finish = dataclasses.replace(finish, stop_reason="end_turn")
        return self.filter.total(finish)


def follow_up(
    conv: Conversation, name: str, text: str, results: Sequence[tuple[SearchCall, str]]
) -> Conversation:
    """``conv`` with the model's search calls and their results appended."""
    said: list[Part] = [ToolCall(call.id, name, {"query": call.query}) for call, _ in results]
    if text.strip():
        said.insert(0, Text(text))
    answers: tuple[Part, ...] = tuple(ToolResult(call.id, result) for call, result in results)
    turns = (*conv.turns, Turn("assistant", tuple(said)), Turn("user", answers))
    return dataclasses.replace(conv, turns=turns)


# ---------------------------------------------------------------- streamed


async def open_search_stream(
    loop: SearchLoop,
    *,
    renderer_for: Callable[[int], R],
    emit_for: Callable[[R], Emit],
) -> AsyncGenerator[bytes, None]:
    """As :func:`~kirogate.api.waiting.open_stream`, with the search loop inside the body."""
    inner: list[R] = []
    made: list[SearchingRenderer] = []

    def wrapped(tokens: int) -> Renderer:
        inner.append(renderer_for(tokens))
        made.append(SearchingRenderer(inner[-1], loop.filter))
        return made[0]

    body = await open_stream(
        loop.gateway, loop.conv, loop.model, endpoint=loop.endpoint, renderer_for=wrapped
    )
    return _search_body(loop, body, made[0], emit_for(inner[0]))


async def _search_body(
    loop: SearchLoop, body: AsyncGenerator[bytes, None], renderer: SearchingRenderer, emit: Emit
) -> AsyncGenerator[bytes, None]:
    current = body
    ping = renderer.inner.ping
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            final = b""
            async with contextlib.aclosing(current) as chunks:
                async for chunk in chunks:
                    if type(chunk) is FinalChunk:
                        final = chunk
                        break
                    yield chunk
            taken = loop.filter.take()
            if taken is None:
                yield FinalChunk(final)
                return
            if final:
                yield bytes(final)
            try:
                pending = spawn(loop.serve(taken, emit), name="web search", awaited=True)
                async for beat in _pings(pending, ping):
                    yield beat
                drawn, follow = pending.result()
                pending = None
                yield drawn
                if follow is None:
                    yield FinalChunk(renderer.inner.render([loop.last_finish(taken)]))
                    return
                opening = loop.gateway.open_answer(follow, loop.model, endpoint=loop.endpoint)
                pending = spawn(opening, name="web search follow-up", awaited=True)
                async for beat in _pings(pending, ping):
                    yield beat
                answer: Answer = pending.result()
                pending = None
            except KirogateError as exc:
                log.warning("search loop ended with %s: %s", type(exc).__name__, exc.message)
                yield FinalChunk(renderer.error(client_error(exc)))
                return
            except asyncio.CancelledError:
                # A search still running when the stop's grace period ran out.
                if not loop.gateway.shutdown.withdraw():
                    raise
                yield FinalChunk(renderer.error(ShuttingDown(CUT_MESSAGE)))
                return
            except Exception:  # the client must still get a well-formed end of stream
                log.exception("unexpected error in the search loop")
                yield FinalChunk(renderer.error(InternalError()))
                return
            current = sse_body(answer, renderer, started=True)
    finally:
        if pending is not None:
            await _abandon(pending)


async def _pings(
    task: asyncio.Future[Any], ping: Callable[[], bytes]
) -> AsyncGenerator[bytes, None]:
    """A ping every ``PING_INTERVAL`` seconds until ``task`` is done (none in a dialect
    without a ping event)."""
    while not task.done():
        await asyncio.wait({task}, timeout=PING_INTERVAL)
        if not task.done():
            beat = ping()
            if beat:
                yield beat


async def _abandon(task: asyncio.Future[Any]) -> None:
    """The client went away: stop ``task``, and close the answer it may have opened."""
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
    if not task.cancelled() and task.exception() is None:
        left = task.result()
        if isinstance(left, Answer):
            await left.close()


# ---------------------------------------------------------------- not streamed


async def collect_with_search(
    loop: SearchLoop, *, sink: Callable[[list[OutEvent]], Any], emit: Emit
) -> None:
    """Answer without streaming: feed every round's events to ``sink``, searches to ``emit``."""
    conv: Conversation | None = loop.conv
    while conv is not None:
        answer = await loop.gateway.open_answer(conv, loop.model, endpoint=loop.endpoint)
        sink(loop.filter.feed(await loop.gateway.collect(answer)))
        taken = loop.filter.take()
        if taken is None:
            return
        _, conv = await loop.serve(taken, emit)
        if conv is None:
            sink([loop.last_finish(taken)])
