"""The client API's part of the request log: what the request path notes, the rows of
requests refused or failed before any answer, and the bodies when ``log.bodies`` is on.

Every client route starts with :func:`note_request` (through ``authorized_gateway``): the
socket peer and the start time, in :data:`~kirogate.service.logs.NOTE`. An error a client
route raises passes :func:`log_refusal` (from ``api.direct.error_for``, the one place they
all pass), which queues its row unless an answer already made one. :class:`BodyRecorder`
keeps a copy of the request's and the response's bytes while ``log.bodies`` is on, and
queues the request's rows with them, redacted and cut, when the response has ended.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kirogate.api.errors import ADMIN_PREFIX, public_message
from kirogate.errors import KirogateError
from kirogate.log import REQUEST_ID
from kirogate.service.bodies import recorded_body
from kirogate.service.logs import NOTE, RequestNote, finished, who_asked

if TYPE_CHECKING:
    from kirogate.service import Gateway

# Bodies over this many bytes are redacted in a worker thread, not on the event loop.
INLINE_BYTES = 64 * 1024
# The request's bytes kept for redaction, as a multiple of ``log.body_limit`` (images are
# replaced by a short note, so the JSON must be whole to be parsed).
REQUEST_CAPTURE_FACTOR = 16
_NOT_LOGGED = ("/health", "/healthz", "/ready", "/metrics", "/version")


def note_request(request: Request) -> RequestNote:
    """The request's note (made here unless :class:`BodyRecorder` made it)."""
    note = NOTE.get()
    scope = request.scope
    if note is None or note.scope is not scope:
        client = scope.get("client")
        note = RequestNote(str(client[0]) if client else None, time.monotonic(), scope=scope)
        NOTE.set(note)
    return note


def log_refusal(request: Request, exc: KirogateError, status: int) -> None:
    """Queue the row of a client request that ended in ``exc`` before any answer made one."""
    path: str = request.scope["path"]
    if path.startswith(ADMIN_PREFIX) or path in _NOT_LOGGED:
        return
    gateway: Gateway | None = getattr(request.app.state, "gateway", None)
    if gateway is not None:
        note = note_request(request)  # this request's (a refusal may come before the gate)
        log_failure(gateway, path, exc, status, peer=note.peer)


def log_failure(
    gateway: Gateway, endpoint: str, exc: KirogateError, status: int, *, peer: str | None = None
) -> None:
    """Queue the row of a request that failed before any answer made one (a refusal, or a
    stream that was committed early and then failed before its first event)."""
    note = NOTE.get()
    if note is not None and note.answered:
        return
    # Test doubles of the gateway may have neither.
    store = getattr(gateway, "store", None)
    events = getattr(gateway, "events", None)
    if store is None and (events is None or not events.watched):
        return
    from kirogate.service.logs import RequestLogEntry

    key_id, key_name, address = who_asked(answered=False)
    finished(
        store,
        events,
        RequestLogEntry(
            at=datetime.now(UTC),
            request_id=REQUEST_ID.get() or "",
            endpoint=endpoint,
            model=None if note is None else note.sent,
            status=status,
            api_key_id=key_id,
            api_key_name=key_name,
            client_address=address or peer,
            duration_ms=None
            if note is None
            else round((time.monotonic() - note.started) * 1000, 2),
            error=public_message(exc),
            error_type=exc.anthropic_type,
            model_asked=None if note is None else note.asked,
            streamed=None if note is None else note.streamed,
        ),
    )


class BodyRecorder:
    """ASGI middleware: while ``log.bodies`` is on (read per request), the client routes'
    request and response bytes are kept (capped) and recorded with the request's rows."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = self.gateway.settings.log
        if not settings.bodies or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(ADMIN_PREFIX) or path in _NOT_LOGGED:
            await self.app(scope, receive, send)
            return
        limit = settings.body_limit
        client = scope.get("client")
        note = RequestNote(
            str(client[0]) if client else None, time.monotonic(), held=[], scope=scope
        )
        token = NOTE.set(note)
        asked: list[bytes] = []
        answered: list[bytes] = []
        sizes = [0, 0, 0, 0]  # request kept, request cut, response kept, response cut
        request_cap = limit * REQUEST_CAPTURE_FACTOR

        async def receive_copy() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                room = request_cap - sizes[0]
                asked.append(body[: max(room, 0)])
                sizes[0] += min(len(body), max(room, 0))
                sizes[1] += max(len(body) - max(room, 0), 0)
            return message

        async def send_copy(message: Message) -> None:
            if message["type"] == "http.response.body":
                body = message.get("body", b"")
                room = limit - sizes[2]
                if room > 0:
                    answered.append(body[:room])
                sizes[2] += min(len(body), max(room, 0))
                sizes[3] += max(len(body) - max(room, 0), 0)
            await send(message)

        try:
            await self.app(scope, receive_copy, send_copy)
        finally:
            NOTE.reset(token)
            if note.held:
                await self._record(note, b"".join(asked), b"".join(answered), sizes, limit)

    async def _record(
        self, note: RequestNote, asked: bytes, answered: bytes, sizes: list[int], limit: int
    ) -> None:
        def redact_both() -> tuple[str, str]:
            return (
                recorded_body(asked, limit, cut_before=sizes[1]),
                recorded_body(answered, limit, cut_before=sizes[3]),
            )

        if len(asked) + len(answered) > INLINE_BYTES:
            request_body, response_body = await asyncio.to_thread(redact_both)
        else:
            request_body, response_body = redact_both()
        store = self.gateway.store
        if store is None:
            return
        for entry in note.held or ():
            store.log_request(
                replace(entry, request_body=request_body, response_body=response_body)
            )
