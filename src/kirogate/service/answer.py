"""Answering a conversation from upstream: the failover loop up to the first event, and the relay.

:class:`Answering` holds the gateway's request-side methods (the :class:`~kirogate.service.gateway.Gateway`
inherits them): :meth:`Answering.open_answer` runs the failover loop up to the upstream's first
event; after that the request is committed to one credential. :func:`relay` is the one loop
that reads the :class:`Answer`'s upstream frames, feeds its assembler and asks a
:class:`~kirogate.convert.render.StreamRenderer` for bytes: the API streams what it yields
(``api.streaming.sse_body``), and :meth:`Answering.collect` gathers the output events of a
non-streamed answer through the same loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kirogate.caller import DEFAULT_KEY_NAME
from kirogate.convert.cache_estimate import PrefixCache
from kirogate.convert.ir import (
    NO_CACHE,
    CacheUsage,
    Conversation,
    Finish,
    Image,
    OutEvent,
    TextDelta,
    ToolCallStop,
    ToolResult,
)
from kirogate.convert.json_format import FormattedAssembler
from kirogate.convert.kiro import KiroBuild, KiroBuildOptions, build_kiro_request
from kirogate.convert.models import ModelInfo, ModelTable
from kirogate.convert.openai_fields import relocate_error
from kirogate.convert.render import COMMENT_PING, StreamRenderer
from kirogate.convert.stream import StreamAssembler
from kirogate.convert.tokens import estimate_conversation_tokens
from kirogate.errors import (
    InternalError,
    InvalidRequest,
    KirogateError,
    MalformedAnswer,
    UpstreamInvalidModel,
)
from kirogate.events import EventBus
from kirogate.log import REQUEST_ID
from kirogate.metrics import METRICS
from kirogate.pool.credential_pool import CredentialPool
from kirogate.pool.failover import AttemptContext, Leased, run_with_failover
from kirogate.protocol.events import (
    AssistantText,
    MalformedEvent,
    StreamException,
    assistant_text,
    parse_event,
)
from kirogate.protocol.eventstream import Message
from kirogate.service.keys import count_answer_usage
from kirogate.service.logs import NOTE, finished, who_asked
from kirogate.service.memory import TruncationMemory
from kirogate.service.shutdown import Shutdown
from kirogate.settings import Settings
from kirogate.store.requestlog import RequestLogEntry
from kirogate.upstream.auth.profiles import ensure_profile_arn
from kirogate.upstream.auth.refresh import TokenManager
from kirogate.upstream.classify import classify_stream_exception, client_error
from kirogate.upstream.client import KiroClient
from kirogate.upstream.credentials import Credential
from kirogate.upstream.identity import machine_id_for, random_uuid
from kirogate.upstream.stream import Silence, UpstreamStream

if TYPE_CHECKING:
    from kirogate.service.compression import Compressor
    from kirogate.store import Store

log = logging.getLogger(__name__)

EMPTY_ANSWER = "the upstream answered 200 with an empty body"


@dataclass(slots=True)
class _Opened:
    stream: UpstreamStream
    first: list[Message]  # never empty: an empty 200 body fails the attempt


@dataclass(slots=True)
class Answer:
    """One committed upstream answer: :meth:`relay` it to a renderer (which closes it).

    The failover loop already read the first chunk's frames (:meth:`first_batch`); the
    relay owns the assembler and renders per chunk without copies.
    """

    held: Leased[_Opened]
    build: KiroBuild
    model: ModelInfo
    input_estimate: int
    assembler: StreamAssembler
    truncations: TruncationMemory = field(repr=False)
    store: Store | None = field(repr=False)  # where the request-log row goes (None: nowhere)
    endpoint: str = ""
    started: float = 0.0  # time.monotonic() when the request reached open_answer
    first_event_at: float = 0.0  # ... and when the upstream's first event arrived
    finish: Finish | None = None
    error: KirogateError | None = None  # set by the streamer when the stream ended in error
    asked: str | None = None  # the model name the client asked for (for the log row)
    streamed: bool = False  # whether the client asked for a stream
    events: EventBus | None = field(default=None, repr=False)  # request.finished goes here
    _closed: bool = False

    @property
    def credential(self) -> Credential:
        return self.held.credential

    @property
    def stream(self) -> UpstreamStream:
        return self.held.value.stream

    def first_batch(self) -> list[Message] | None:
        """The frames of the upstream's first chunk (read by the failover loop)."""
        return self.held.value.first

    def relay(
        self, renderer: StreamRenderer, *, ping_interval: float | None = None, started: bool = False
    ) -> AsyncGenerator[bytes, None]:
        """The answer drawn by ``renderer``, one write per upstream chunk (see :func:`relay`)."""
        return relay(self, renderer, ping_interval=ping_interval, started=started)

    def remember(self, events: list[OutEvent]) -> None:
        """Note truncated tool calls (spec §7.4) and count the tokens of the finish."""
        for event in events:
            if type(event) is ToolCallStop:
                if event.truncated:
                    self.truncations.remember(event)
            elif type(event) is Finish:
                self.finish = event
                METRICS.add_tokens(event.input_tokens, event.output_tokens)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.stream.aclose()
        finally:
            await self.held.release()
            _log_answer(self)
            _count_usage(self)


def _log_answer(answer: Answer) -> None:
    """One request-log row per answered request (queued; the store writes in batches), and
    its ``request.finished`` event for the live feed. Plain values only: this runs once per
    request."""
    store = answer.store
    events = answer.events
    if not answer.endpoint or (store is None and (events is None or not events.watched)):
        return
    now = time.monotonic()
    finish = answer.finish
    error = answer.error
    key_id, key_name, address = who_asked(answered=True)
    finished(
        store,
        events,
        RequestLogEntry(
            at=datetime.now(UTC),
            request_id=REQUEST_ID.get() or "",
            endpoint=answer.endpoint,
            model=answer.model.upstream_id,
            status=200 if error is None else error.status,
            credential_id=answer.credential.id,
            api_key_id=key_id,
            api_key_name=key_name or DEFAULT_KEY_NAME,
            client_address=address,
            input_tokens=finish.input_tokens if finish else answer.input_estimate,
            output_tokens=finish.output_tokens if finish else None,
            duration_ms=round((now - answer.started) * 1000, 2),
            ttft_ms=round((answer.first_event_at - answer.started) * 1000, 2),
            error=None if error is None else error.message,
            error_type=None if error is None else error.anthropic_type,
            model_asked=answer.asked,
            streamed=answer.streamed,
        ),
    )


def _count_usage(answer: Answer) -> None:
    """Count the answer's tokens for the client key that asked (its limits and its usage);
    an answer cut short (a client that left) counts what the upstream produced so far."""
    finish = answer.finish
    if finish is not None:
        count_answer_usage(finish.input_tokens, finish.output_tokens)
    else:
        count_answer_usage(*answer.assembler.usage_so_far)


def has_images(conv: Conversation) -> bool:
    """Whether any turn carries a picture (in a tool result too)."""
    return any(
        type(part) is Image or (type(part) is ToolResult and part.images)
        for turn in conv.turns
        for part in turn.parts
    )


class Answering:
    """The request side of the gateway; the resources it reads are set up by ``Gateway``."""

    settings: Settings
    pool: CredentialPool
    tokens: TokenManager
    client: KiroClient
    store: Store | None
    compressor: Compressor | None
    events: EventBus
    prompt_cache: PrefixCache | None
    build_options: KiroBuildOptions
    truncations: TruncationMemory
    models: ModelTable
    shutdown: Shutdown
    # Guessed ids of names newer than the table (claude-opus-5-5) that the upstream refused.
    _unserved_models: set[str]

    # ------------------------------------------------------------ answering

    def estimate_cache(self, conv: Conversation, client: str) -> CacheUsage:
        """Prompt-cache usage to report for ``conv`` from ``client`` (0 unless estimating)."""
        cache = self.prompt_cache
        return NO_CACHE if cache is None else cache.estimate(conv, client)

    def build(self, conv: Conversation, model: ModelInfo) -> KiroBuild:
        options = self.build_options
        if self.truncations:
            options = replace(options, truncated_calls=self.truncations.calls())
        try:
            return build_kiro_request(
                conv,
                model,
                conversation_id=conv.session_id or random_uuid(),
                new_id=random_uuid,
                options=options,
            )
        except InvalidRequest as exc:
            # The builder names IR turns; name the client's own message instead.
            raise relocate_error(exc, conv) from exc

    async def machine_ready(self, credential: Credential) -> str:
        """Make the credential usable: fresh token, profileArn where the host needs one."""
        await self.tokens.ensure_fresh(credential)
        machine_id = machine_id_for(credential, self.settings.upstream)
        await ensure_profile_arn(self.client, credential, machine_id=machine_id)
        return machine_id

    async def _force_refresh(self, credential: Credential, rejected: str | None) -> None:
        """After a refused token: refresh, unless someone already replaced ``rejected``."""
        await self.tokens.ensure_fresh(credential, force=True, rejected=rejected)

    async def open_answer(
        self,
        conv: Conversation,
        model: ModelInfo,
        *,
        build: KiroBuild | None = None,
        compress: bool = True,
        endpoint: str = "",
    ) -> Answer:
        """Run the failover loop until one credential's stream has produced its first event."""
        started = time.monotonic()
        if endpoint:
            note = NOTE.get()
            if note is not None:  # named in the log row of a failure before any answer
                note.asked, note.sent, note.streamed = conv.model, model.upstream_id, conv.stream
        if model.fallback is not None and model.upstream_id in self._unserved_models:
            model, build = replace(model, upstream_id=model.fallback, fallback=None), None
        if build is None and self.compressor is not None and compress:
            conv = await self.compressor.apply(conv)
        if build is None and self.truncations.shared is not None:
            await self.truncations.load(conv)  # cut-off calls another instance answered
        if build is None and has_images(conv):
            # Decoding and shrinking pictures takes tens of milliseconds: not on the loop.
            build = await asyncio.to_thread(self.build, conv, model)
        build = build or self.build(conv, model)
        thinking = conv.thinking is not None or model.thinking is not None
        input_estimate: int | None = None

        sent: dict[int, str | None] = {}  # the bearer each credential's last attempt used

        async def attempt(credential: Credential, _: AttemptContext) -> _Opened:
            nonlocal input_estimate
            machine_id = await self.machine_ready(credential)
            sent[id(credential)] = credential.bearer
            request = build.request if build.body is None else build.body
            stream = await self.client.open_stream(credential, request, machine_id=machine_id)
            self.shutdown.watch(stream)  # ended with ShuttingDown at the end of a stop's grace
            try:
                if input_estimate is None:
                    # Counted while the upstream works on its first event: off the TTFT path.
                    input_estimate = estimate_conversation_tokens(conv)
                read = await stream.next_messages()  # no quiet time: never SILENCE
            except BaseException:
                await stream.aclose()
                raise
            if type(read) is not list:  # 200 and not one event: a fault, tried elsewhere
                log.warning("%s", EMPTY_ANSWER)
                await stream.aclose()
                raise MalformedAnswer(EMPTY_ANSWER)
            if assistant_text(read[0]) is None:
                event = parse_event(read[0])
                if type(event) is StreamException:
                    error = classify_stream_exception(event.exception_type, event.message)
                    if error is not None:
                        await stream.aclose()
                        raise error
                elif type(event) is MalformedEvent:
                    await stream.aclose()
                    malformed = StreamAssembler.malformed(event)
                    log.warning("%s", malformed.message)  # names a field, never its value
                    raise malformed
            return _Opened(stream, read)

        try:
            held = await run_with_failover(
                self.pool,
                attempt,
                model=model.upstream_id,
                session_id=conv.session_id,
                force_refresh=lambda credential: self._force_refresh(
                    credential, sent.get(id(credential))
                ),
            )
        except UpstreamInvalidModel:
            if model.fallback is None:
                raise
            # A name newer than the table knows: its guessed id was refused, so the newest
            # model of the family answers (and answers at once from now on).
            log.info(
                "upstream does not serve %s (asked as %s); using %s",
                model.upstream_id,
                model.public_id,
                model.fallback,
            )
            self._unserved_models.add(model.upstream_id)
            return await self.open_answer(conv, model, compress=False, endpoint=endpoint)
        if input_estimate is None:  # not reached: a successful attempt counted it
            input_estimate = estimate_conversation_tokens(conv)
        options: dict[str, Any] = {
            "thinking_enabled": thinking,
            "tool_names": build.tool_names,
            "context_window": model.context_window,
            "input_tokens_estimate": input_estimate,
            "stop_sequences": conv.stop_sequences,
            "max_tokens": conv.max_tokens,
        }
        assembler = (
            StreamAssembler(**options)
            if conv.output_format is None
            else FormattedAssembler(conv.output_format, **options)  # checks the answer
        )
        return Answer(
            held,
            build,
            model,
            input_estimate,
            assembler,
            self.truncations,
            self.store,
            endpoint=endpoint,
            started=started,
            first_event_at=time.monotonic(),
            asked=conv.model,
            streamed=conv.stream,
            events=self.events,
        )

    async def web_search(
        self, conv: Conversation, model: ModelInfo, query: str, *, endpoint: str = ""
    ) -> list[dict[str, Any]]:
        """The results of one upstream MCP web search, through the answers' failover loop and
        token-refresh rule; with an ``endpoint`` (the search is the whole request) it gets a
        request-log row as an answer does."""
        started = time.monotonic()
        sent: dict[int, str | None] = {}  # the bearer each credential's last attempt used

        async def attempt(credential: Credential, _: AttemptContext) -> dict[str, Any]:
            machine_id = await self.machine_ready(credential)
            sent[id(credential)] = credential.bearer
            return await self.client.web_search(credential, query, machine_id=machine_id)

        held = await run_with_failover(
            self.pool,
            attempt,
            model=model.upstream_id,
            session_id=conv.session_id,
            force_refresh=lambda credential: self._force_refresh(
                credential, sent.get(id(credential))
            ),
        )
        await held.release()
        found = held.value.get("results") or []
        results = [item for item in found if isinstance(item, dict)]
        if endpoint and (self.store is not None or self.events.watched):
            from kirogate.store import RequestLogEntry

            duration = round((time.monotonic() - started) * 1000, 2)
            key_id, key_name, address = who_asked(answered=True)
            finished(
                self.store,
                self.events,
                RequestLogEntry(
                    at=datetime.now(UTC),
                    request_id=REQUEST_ID.get() or "",
                    endpoint=endpoint,
                    model=model.upstream_id,
                    status=200,
                    credential_id=held.credential.id,
                    api_key_id=key_id,
                    api_key_name=key_name or DEFAULT_KEY_NAME,
                    client_address=address,
                    input_tokens=estimate_conversation_tokens(conv),
                    output_tokens=None,
                    duration_ms=duration,
                    ttft_ms=duration,
                    model_asked=conv.model,
                    streamed=conv.stream,
                ),
            )
        return results

    async def summarise(self, request: Conversation) -> str:
        """Answer a compression summary request without streaming; the answer's text."""
        model = self.models.resolve(request.model)
        answer = await self.open_answer(request, model, compress=False)
        events = await self.collect(answer)
        return "".join(event.text for event in events if type(event) is TextDelta)

    async def collect(self, answer: Answer) -> list[OutEvent]:
        """Read a whole answer into output events (non-streaming responses); a failure raises
        (classified as :func:`relay` classifies it). The answer is closed."""
        collector = _Collector()
        async for _ in relay(answer, collector):
            pass
        return collector.events


class _Collector(StreamRenderer):
    """Keeps the output events instead of drawing them (a non-streamed answer); an error
    is raised, for the route to answer with its HTTP status."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[OutEvent] = []

    def render(self, events: list[OutEvent]) -> bytes:
        self.events.extend(events)
        return b""

    def render_text(self, text: str) -> bytes:
        self.events.append(TextDelta(text))
        return b""

    def error(self, exc: KirogateError) -> bytes:
        raise exc


class FinalChunk(bytes):
    """The last bytes of a relayed answer: ``api.streaming.EventStreamResponse`` sends them
    together with the end of the response (one write less); to anyone else they are plain
    bytes."""


async def relay(
    answer: Answer,
    renderer: StreamRenderer,
    *,
    ping_interval: float | None = None,
    started: bool = False,
) -> AsyncGenerator[bytes, None]:
    """Read the answer's upstream frames, feed its assembler, yield the renderer's bytes.

    One write per upstream chunk (the last one a :class:`FinalChunk`). A plain text frame
    goes straight to ``renderer.render_text`` when the assembler says it needs no parsing,
    filtering or cut; every other frame is parsed and fed. While the upstream is quiet for
    ``ping_interval`` seconds (None: never) ``renderer.ping()`` goes out; the idle timeout
    keeps counting through pings. ``started``: the opening already went out. A failure is
    classified for the client (:func:`~kirogate.upstream.classify.client_error`), kept on
    ``answer.error`` and drawn by ``renderer.error``, so the stream ends cleanly. Closing
    this generator (a client hang-up) closes the answer: the upstream connection and the
    credential lease are released in ``finally``.
    """
    assembler = answer.assembler
    feed = assembler.feed
    render = renderer.render
    ping = renderer.ping
    render_text = renderer.render_text
    text_passes = assembler.text_passes
    remember = answer.remember
    # An output format's text is held to the end: ping while the model writes it.
    holding_ping = ping_interval if assembler.holds_text else None
    pinged = time.monotonic() if holding_ping is not None else 0.0
    parts: list[bytes] = []  # rendered for the current upstream chunk, not yet written
    try:
        head = b"" if started else renderer.start()
        if head:
            parts.append(head)  # goes out with the first chunk's events
        batch: list[Message] | Silence | None = answer.first_batch()
        if batch is not None:
            next_messages = answer.stream.next_messages
            while True:
                if type(batch) is not list:  # SILENCE
                    beat = ping()
                    if beat:
                        yield beat
                else:
                    for message in batch:
                        content = assistant_text(message)
                        if content is None:
                            out = feed(parse_event(message))
                        elif text_passes(content):
                            # What feed() would return is [TextDelta(content)], which
                            # remember() ignores and render() draws as render_text() does.
                            parts.append(render_text(content))
                            continue
                        else:
                            out = feed(AssistantText(content))
                        if out:
                            remember(out)
                            data = render(out)
                            if data:
                                parts.append(data)
                        if assembler.done:
                            break
                    if parts:
                        data = parts[0] if len(parts) == 1 else b"".join(parts)
                        parts.clear()
                        yield data
                    elif holding_ping is not None and time.monotonic() - pinged >= holding_ping:
                        pinged = time.monotonic()
                        yield ping() or COMMENT_PING
                if assembler.done:
                    break
                # One deadline serves both the ping and the upstream idle timeout (no timer
                # per event), and every event of an upstream chunk goes out in one write.
                batch = await next_messages(ping_interval)
                if batch is None:
                    break
        if parts:  # the opening of an empty answer
            yield b"".join(parts)
            parts.clear()
        out = assembler.finish()
        remember(out)
        yield FinalChunk(renderer.finish(out))
    except KirogateError as exc:
        log.warning("stream ended with %s: %s", type(exc).__name__, exc.message)
        answer.error = error = client_error(exc)
        yield FinalChunk(b"".join([*parts, renderer.error(error)]))
    except Exception:  # the client must still get a well-formed end of stream
        log.exception("unexpected error while streaming")
        answer.error = error = InternalError()
        yield FinalChunk(b"".join([*parts, renderer.error(error)]))
    finally:
        await answer.close()
