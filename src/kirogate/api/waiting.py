"""Streaming requests whose first upstream event is slow to come.

Until the upstream's first event nothing is sent, so the failover loop may still retry on
another credential and a failure keeps its HTTP status (429 with ``retry-after``, 503 ...).
A long wait (a big context, deep thinking, a queue for a busy credential) would leave the
client and any proxy in between without a byte, though, and nginx' default
``proxy_read_timeout`` (60 s) or a client's own timeout then cuts the connection. So after
``first_byte_grace`` seconds the response is committed: headers and the stream's opening
event go out, a ping follows every ``ping_interval`` seconds, and from then on a failure
becomes the dialect's error event, as for any error after the first byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING

from kirogate.api.request_log import log_failure
from kirogate.api.streaming import (
    PING_INTERVAL,
    FinalChunk,
    Renderer,
    sse_body,
)
from kirogate.convert.ir import Conversation
from kirogate.convert.models import ModelInfo
from kirogate.convert.render import COMMENT_PING
from kirogate.convert.tokens import estimate_conversation_tokens
from kirogate.errors import InternalError, KirogateError, ShuttingDown
from kirogate.service.shutdown import CUT_MESSAGE, Shutdown
from kirogate.tasks import spawn
from kirogate.upstream.classify import client_error

if TYPE_CHECKING:
    from kirogate.service import Answer, Gateway

log = logging.getLogger(__name__)


def _ping(renderer: Renderer) -> bytes:
    return renderer.ping() or COMMENT_PING  # OpenAI streams have no ping event


async def open_stream(
    gateway: Gateway,
    conv: Conversation,
    model: ModelInfo,
    *,
    endpoint: str,
    renderer_for: Callable[[int], Renderer],
) -> AsyncGenerator[bytes, None]:
    """Open the answer and return its SSE body; commit to streaming early if it is slow.

    ``renderer_for(input_tokens)`` builds the dialect's renderer (called once). Failures
    within the grace period raise here, so the route answers them with their HTTP status.
    """
    grace = gateway.settings.upstream.first_byte_grace
    opening = spawn(
        gateway.open_answer(conv, model, endpoint=endpoint), name="open answer", awaited=True
    )
    try:
        await _done_or_late(opening, grace if grace > 0 else None)
    except asyncio.CancelledError:
        opening.cancel()
        raise
    if opening.done():
        answer = opening.result()  # a failure raises here and keeps its HTTP status
        return sse_body(answer, renderer_for(answer.input_estimate))
    log.info("no upstream event after %.1fs; starting the stream with pings", grace)
    renderer = renderer_for(estimate_conversation_tokens(conv))
    return _waiting_body(
        opening, renderer, gateway.shutdown, lambda exc: _failed(gateway, endpoint, exc)
    )


async def _done_or_late(task: asyncio.Future[Answer], seconds: float | None) -> None:
    """Return once ``task`` is done or ``seconds`` (None: no limit) have passed, whichever
    comes first; ``task`` runs on either way. ``asyncio.wait({task}, timeout=seconds)``
    without its sets and checks, which cost more than the wait itself in this per-request step."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    task.add_done_callback(wake)
    timer = loop.call_later(seconds, wake) if seconds is not None else None
    try:
        await waiter
    finally:
        if timer is not None:
            timer.cancel()
        task.remove_done_callback(wake)


def _failed(gateway: Gateway, endpoint: str, exc: KirogateError) -> None:
    log_failure(gateway, endpoint, exc, exc.status)


async def _waiting_body(
    opening: asyncio.Future[Answer],
    renderer: Renderer,
    shutdown: Shutdown,
    failed: Callable[[KirogateError], None] | None = None,
) -> AsyncGenerator[bytes, None]:
    handed_over = False
    try:
        yield renderer.start() + _ping(renderer)  # as Anthropic does: the opening, then a ping
        while not opening.done():
            try:
                await asyncio.wait({opening}, timeout=PING_INTERVAL)
            except asyncio.CancelledError:
                # Still no upstream stream (a token refresh, a connect) when the stop's
                # grace period ran out: end with the error event all the same.
                if not shutdown.withdraw():
                    raise
                yield FinalChunk(renderer.error(ShuttingDown(CUT_MESSAGE)))
                return
            if not opening.done():
                yield _ping(renderer)
        try:
            answer = opening.result()
        except KirogateError as exc:
            log.warning("stream ended before its first event with %s", type(exc).__name__)
            error = client_error(exc)
            if failed is not None:
                failed(error)  # its request-log row: no answer will make one
            yield FinalChunk(renderer.error(error))
            return
        except Exception:
            log.exception("unexpected error while waiting for the upstream")
            yield FinalChunk(renderer.error(InternalError()))
            return
        handed_over = True  # sse_body closes the answer, whatever happens
        async with contextlib.aclosing(sse_body(answer, renderer, started=True)) as body:
            async for chunk in body:
                yield chunk
    finally:
        if not opening.done():
            opening.cancel()  # the client went away: stop the failover loop
            with contextlib.suppress(BaseException):
                await opening
        if not handed_over and not opening.cancelled() and opening.exception() is None:
            await opening.result().close()
