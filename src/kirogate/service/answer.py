"""Answering a conversation from upstream: the failover loop up to the first event, and the answer.

:class:`Answering` holds the gateway's request-side methods (the :class:`~kirogate.service.gateway.Gateway`
inherits them): :meth:`Answering.open_answer` runs the failover loop up to the upstream's first
event; after that the request is committed to one credential and the caller streams the
:class:`Answer`, or reads it whole with :meth:`Answering.collect`.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kirogate.convert.cache_estimate import PrefixCache
from kirogate.convert.ir import (
    NO_CACHE,
    CacheUsage,
    Conversation,
    Finish,
    OutEvent,
    TextDelta,
    ToolCallStop,
)
from kirogate.convert.json_format import FormattedAssembler
from kirogate.convert.kiro import KiroBuild, KiroBuildOptions, TruncatedCall, build_kiro_request
from kirogate.convert.models import ModelInfo, resolve_model
from kirogate.convert.openai_common import relocate_error
from kirogate.convert.stream import StreamAssembler
from kirogate.convert.tokens import estimate_conversation_tokens
from kirogate.errors import InvalidRequest, KirogateError, UpstreamInvalidModel
from kirogate.log import REQUEST_ID
from kirogate.metrics import METRICS
from kirogate.pool.credential_pool import CredentialPool
from kirogate.pool.failover import AttemptContext, Leased, run_with_failover
from kirogate.protocol.events import KiroEvent, StreamException
from kirogate.settings import Settings
from kirogate.upstream.classify import classify_stream_exception
from kirogate.upstream.client import KiroClient
from kirogate.upstream.credentials import Credential
from kirogate.upstream.identity import machine_id_for, random_uuid
from kirogate.upstream.profiles import ensure_profile_arn
from kirogate.upstream.refresh import TokenManager
from kirogate.upstream.stream import UpstreamStream

if TYPE_CHECKING:
    from kirogate.service.compression import Compressor
    from kirogate.store import Store

log = logging.getLogger(__name__)

TRUNCATION_MEMORY = 1000  # tool calls remembered as cut off (spec §7.4)


@dataclass(slots=True)
class _Opened:
    stream: UpstreamStream
    first: KiroEvent | None  # None: the upstream answered 200 with an empty body


@dataclass(slots=True)
class Answer:
    """One committed upstream answer: iterate :meth:`events`, then :meth:`close`.

    ``events`` yields the raw Kiro events (the first one already read by the failover
    loop). The caller owns the assembler so it can render per event without copies.
    """

    held: Leased[_Opened]
    build: KiroBuild
    model: ModelInfo
    input_estimate: int
    assembler: StreamAssembler
    _gateway: Answering = field(repr=False)
    endpoint: str = ""
    started: float = 0.0  # time.monotonic() when the request reached open_answer
    first_event_at: float = 0.0  # ... and when the upstream's first event arrived
    finish: Finish | None = None
    error: KirogateError | None = None  # set by the streamer when the stream ended in error
    _closed: bool = False

    @property
    def credential(self) -> Credential:
        return self.held.credential

    @property
    def stream(self) -> UpstreamStream:
        return self.held.value.stream

    def first_event(self) -> KiroEvent | None:
        return self.held.value.first

    def remember(self, events: list[OutEvent]) -> None:
        """Note truncated tool calls (spec §7.4) and count the tokens of the finish."""
        for event in events:
            if type(event) is ToolCallStop:
                if event.truncated:
                    self._gateway.remember_truncation(event)
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
            self._gateway.log_answer(self)


class Answering:
    """The request side of the gateway; the resources it reads are set up by ``Gateway``."""

    settings: Settings
    pool: CredentialPool
    tokens: TokenManager
    client: KiroClient
    store: Store | None
    compressor: Compressor | None
    prompt_cache: PrefixCache | None
    build_options: KiroBuildOptions
    _truncated: OrderedDict[str, TruncatedCall]
    # Guessed ids of names newer than the table (claude-opus-5-5) that the upstream refused.
    _unserved_models: set[str]

    # ------------------------------------------------------------ truncation memory

    def remember_truncation(self, stop: ToolCallStop) -> None:
        reason = stop.truncation_reason or "the input JSON was incomplete"
        # The assembler words it "truncated at N bytes: <diagnosis>".
        size_text = reason.removeprefix("truncated at ").partition(" bytes")[0]
        size = int(size_text) if size_text.isdigit() else 0
        self._truncated[stop.id] = TruncatedCall(size_bytes=size, reason=reason)
        while len(self._truncated) > TRUNCATION_MEMORY:
            self._truncated.popitem(last=False)

    # ------------------------------------------------------------ answering

    def estimate_cache(self, conv: Conversation, client: str) -> CacheUsage:
        """Prompt-cache usage to report for ``conv`` from ``client`` (0 unless estimating)."""
        cache = self.prompt_cache
        return NO_CACHE if cache is None else cache.estimate(conv, client)

    def build(self, conv: Conversation, model: ModelInfo) -> KiroBuild:
        options = self.build_options
        if self._truncated:
            options = replace(options, truncated_calls=dict(self._truncated))
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
        if model.fallback is not None and model.upstream_id in self._unserved_models:
            model, build = replace(model, upstream_id=model.fallback, fallback=None), None
        if build is None and self.compressor is not None and compress:
            conv = await self.compressor.apply(conv)
        build = build or self.build(conv, model)
        thinking = conv.thinking is not None or model.thinking is not None
        input_estimate: int | None = None

        sent: dict[int, str | None] = {}  # the bearer each credential's last attempt used

        async def attempt(credential: Credential, _: AttemptContext) -> _Opened:
            nonlocal input_estimate
            machine_id = await self.machine_ready(credential)
            sent[id(credential)] = credential.bearer
            request = build.request if build.wire is None else build.wire
            stream = await self.client.open_stream(credential, request, machine_id=machine_id)
            try:
                if input_estimate is None:
                    # Counted while the upstream works on its first event: off the TTFT path.
                    input_estimate = estimate_conversation_tokens(conv)
                first = await anext(stream, None)
            except BaseException:
                await stream.aclose()
                raise
            if type(first) is StreamException:
                error = classify_stream_exception(first.exception_type, first.message)
                if error is not None:
                    await stream.aclose()
                    raise error
            return _Opened(stream, first)

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
            self,
            endpoint=endpoint,
            started=started,
            first_event_at=time.monotonic(),
        )

    def log_answer(self, answer: Answer) -> None:
        """One request-log row per answered request (queued; the store writes in batches)."""
        store = self.store
        if store is None or not answer.endpoint:
            return
        from kirogate.store import RequestLogEntry

        now = time.monotonic()
        finish = answer.finish
        store.log_request(
            RequestLogEntry(
                at=datetime.now(UTC),
                request_id=REQUEST_ID.get() or "",
                endpoint=answer.endpoint,
                model=answer.model.upstream_id,
                status=200 if answer.error is None else answer.error.status,
                credential_id=answer.credential.id,
                input_tokens=finish.input_tokens if finish else answer.input_estimate,
                output_tokens=finish.output_tokens if finish else None,
                duration_ms=round((now - answer.started) * 1000, 2),
                ttft_ms=round((answer.first_event_at - answer.started) * 1000, 2),
                error=None if answer.error is None else answer.error.message,
            )
        )

    async def summarise(self, request: Conversation) -> str:
        """Answer a compression summary request without streaming; the answer's text."""
        model = resolve_model(request.model)
        answer = await self.open_answer(request, model, compress=False)
        events = await self.collect(answer)
        return "".join(event.text for event in events if type(event) is TextDelta)

    async def collect(self, answer: Answer) -> list[OutEvent]:
        """Read a whole answer into output events (non-streaming responses)."""
        out: list[OutEvent] = []
        try:
            async for event in events_of(answer):
                produced = answer.assembler.feed(event)
                if produced:
                    out.extend(produced)
                if answer.assembler.done:
                    break
            out.extend(answer.assembler.finish())
        except KirogateError as exc:
            answer.error = exc  # for the request log (a format mismatch, a stream exception)
            raise
        finally:
            await answer.close()
        answer.remember(out)
        return out


async def events_of(answer: Answer) -> AsyncIterator[KiroEvent]:
    """The answer's Kiro events, the already-read first one included."""
    first = answer.first_event()
    if first is None:
        return
    yield first
    async for event in answer.stream:
        yield event
