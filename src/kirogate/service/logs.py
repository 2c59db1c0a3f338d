"""The request log as the service keeps it: one row per request, and the operator's reading.

Writing: :func:`finished` takes the row of a request that ended (an answer, a refusal, a
failure before any answer) with plain values, queues it for the store's background writer
(never a database write on the request's path) and publishes a light ``request.finished``
event for the live feed. While bodies are being recorded (``log.bodies``) the row waits in
the request's :class:`RequestNote` until the API has the response's bytes, and is queued
then, with its redacted bodies.

Reading: :class:`LogOperations`, a mixin of :class:`~kirogate.service.operations.Operations`:
pages by an opaque cursor, one row, deletion by age, the CSV export's rows, the statistics,
and the live feed's subscription.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kirogate.caller import CALLER
from kirogate.errors import InvalidRequest, NotFound
from kirogate.events import EventBus, Subscription
from kirogate.store.logquery import BUCKETS, Bucket, LogFilter
from kirogate.store.requestlog import RequestLogEntry

if TYPE_CHECKING:
    from kirogate.store import Store

__all__ = [
    "BUCKETS",
    "NOTE",
    "Bucket",
    "LogFilter",
    "LogOperations",
    "RequestLogEntry",
    "RequestNote",
    "finished",
]

MAX_PAGE = 500
LIVE_KINDS = ("request.finished", "credential.state")
LIVE_QUEUE = 256  # events a slow live-feed client may fall behind by (the oldest go)


@dataclass(slots=True)
class RequestNote:
    """What the request path learns about one client request, for its log row: set when
    the client routes start (``api.request_gate``), read when the row is made."""

    peer: str | None  # the socket peer (the caller's address, when the access check has none)
    started: float  # time.monotonic() at the start
    asked: str | None = None  # the model name the client asked for
    sent: str | None = None  # ... and the upstream id it was sent as
    streamed: bool | None = None
    answered: bool = False  # an answer's row was made (a later error adds none)
    # With ``log.bodies`` on: the rows held until the response's bytes are known.
    held: list[RequestLogEntry] | None = None
    # The request's ASGI scope: a note left in the context by an earlier request (one task
    # serving several, as in-process test clients do) is not this request's.
    scope: object = None


NOTE: ContextVar[RequestNote | None] = ContextVar("kirogate_request_note", default=None)


def who_asked(*, answered: bool) -> tuple[int | None, str | None, str | None]:
    """The request's key id and name and the client's address, for its log row: the access
    check's caller, else the socket peer of the request's note. ``answered`` marks the note
    (an answer's row is made: a later error makes none)."""
    caller, note = CALLER.get(), NOTE.get()
    address = None if caller is None else caller.address
    if note is not None:
        if answered:
            note.answered = True
        if address is None:
            address = note.peer
    if caller is None:
        return None, None, address
    return caller.key_id, caller.key_name, address


def finished(store: Store | None, events: EventBus | None, entry: RequestLogEntry) -> None:
    """Queue ``entry`` (or hold it for its bodies) and tell the live feed; never blocks."""
    note = NOTE.get()
    if note is not None and note.held is not None:
        note.held.append(entry)
    elif store is not None:
        store.log_request(entry)
    if events is not None and events.watched:
        events.publish(
            "request.finished",
            id=entry.request_id,
            at=entry.at.isoformat(),
            endpoint=entry.endpoint,
            model=entry.model_asked or entry.model,
            model_sent=entry.model,
            key_id=entry.api_key_id,
            key_name=entry.api_key_name,
            credential_id=entry.credential_id,
            client_address=entry.client_address,
            status=entry.status,
            error_type=entry.error_type,
            latency_ms=entry.duration_ms,
            ttft_ms=entry.ttft_ms,
            input_tokens=entry.input_tokens,
            output_tokens=entry.output_tokens,
            streamed=entry.streamed,
        )


# ---------------------------------------------------------------- reading


def encode_cursor(log_id: int) -> str:
    return base64.urlsafe_b64encode(f"log:{log_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The row id a cursor continues below; a cursor not made here is a 400."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "log" or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("cursor: not a cursor this API gave out", param="cursor") from None


@dataclass(frozen=True, slots=True)
class LogPage:
    rows: list[RequestLogEntry]
    next_cursor: str | None = None


class LogOperations:
    """The operator's reading of the request log (a mixin of ``Operations``)."""

    events: EventBus

    _store: Callable[[], Store | None]  # set by Operations

    def _log_store(self) -> Store | None:
        """The store, or ``None`` for a gateway without one (its log is empty)."""
        return self._store()

    async def request_logs(
        self, where: LogFilter, *, cursor: str | None = None, limit: int = 50
    ) -> LogPage:
        """A page of rows, newest first; ``next_cursor`` continues it (``None``: the end)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit: 1 to {MAX_PAGE}", param="limit")
        before = decode_cursor(cursor) if cursor else None
        store = self._log_store()
        if store is None:
            return LogPage([])
        rows = await store.request_log_page(where, before_id=before, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1].id if rows and more else None
        return LogPage(rows, encode_cursor(last) if last is not None else None)

    async def request_log_entry(self, log_id: int) -> RequestLogEntry:
        store = self._log_store()
        entry = None if store is None else await store.request_log(log_id)
        if entry is None:
            raise NotFound(f"no request log row {log_id}")
        return entry

    async def delete_request_logs(self, before: datetime) -> int:
        """Delete the rows older than ``before``; how many went."""
        store = self._log_store()
        return 0 if store is None else await store.delete_request_logs(before)

    async def export_request_logs(self, where: LogFilter) -> AsyncIterator[RequestLogEntry]:
        store = self._log_store()
        if store is not None:
            async for entry in store.iter_request_logs(where):
                yield entry

    async def request_stats(self, where: LogFilter, bucket: Bucket) -> dict[str, Any]:
        if bucket not in BUCKETS:
            raise InvalidRequest(f"bucket: one of {', '.join(BUCKETS)}", param="bucket")
        store = self._log_store()
        if store is None:
            return {
                "bucket": bucket,
                "buckets": [],
                "total": None,
                "per_key": [],
                "per_credential": [],
                "per_model": [],
            }
        return await store.request_log_stats(where, bucket)

    def live_feed(self) -> Subscription:
        """Finished requests and credential state changes from now on (bounded: a client
        that falls behind loses the oldest). Close it when done."""
        return self.events.subscribe(LIVE_KINDS, limit=LIVE_QUEUE)
