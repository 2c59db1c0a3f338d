"""Request logs: queued in memory by the request path, written in batches by a background task.

``log_request`` never waits: when the bounded queue is full the entry is dropped and counted.
While the database is away, unwritten batches stay queued (within the same bound) and are
written once it answers again.
The background writer runs every few seconds (or sooner when a batch is full) and, at most
once a minute or every :data:`BATCH_SIZE` rows, deletes the oldest rows beyond the
``request_log_retention`` setting; an explicit :meth:`flush_request_logs` always prunes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import operator
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from kirogate.errors import InvalidRequest, KirogateError, StoreUnavailable
from kirogate.store.asyncio_engine import AsyncConnection
from kirogate.store.base import StoreBase
from kirogate.store.schema import request_log_bodies as bodies_table
from kirogate.store.schema import request_logs as table
from kirogate.store.schema import settings as settings_table
from kirogate.tasks import spawn

log = logging.getLogger(__name__)

RETENTION_SETTING = "request_log_retention"
DEFAULT_RETENTION = 10_000_000  # rows; the operator's limit is ``log.retention_days``
DEFAULT_QUEUE_LIMIT = 10_000
DEFAULT_FLUSH_INTERVAL = 1.0  # kill -9 loses at most this much of the log
BATCH_SIZE = 500
PRUNE_INTERVAL = 60.0  # seconds between retention prunes of the background writer
MAX_RECENT = 10_000
_LIMITS = {
    "request_id": 100,
    "endpoint": 200,
    "model": 200,
    "error": 4000,
    "model_asked": 200,
    "api_key_name": 200,
    "client_address": 64,
    "error_type": 100,
}
_WARN_EVERY = 60.0  # seconds between "dropped" (or "not written") warnings
CLOSE_TIMEOUT = 10.0  # how long closing the store tries to write what is still queued


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    at: datetime
    request_id: str
    endpoint: str
    model: str | None
    status: int
    credential_id: int | None = None
    api_key_id: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_ms: float | None = None
    ttft_ms: float | None = None
    error: str | None = None  # the error's message
    model_asked: str | None = None  # the name the client asked for (``model`` is the one sent)
    api_key_name: str | None = None
    client_address: str | None = None
    error_type: str | None = None
    streamed: bool | None = None
    # Recorded only with ``log.bodies`` on (already redacted and capped), in their own table.
    request_body: str | None = field(default=None, repr=False)
    response_body: str | None = field(default=None, repr=False)
    id: int | None = field(default=None, compare=False)  # the row id, once read back


_BODY_NAMES = ("request_body", "response_body")
_NAMES = tuple(f.name for f in fields(RequestLogEntry) if f.name not in {*_BODY_NAMES, "id"})
_values = operator.attrgetter(*_NAMES)


def _row(entry: RequestLogEntry) -> dict[str, Any]:
    values = dict(zip(_NAMES, _values(entry), strict=True))  # shallow: asdict deep-copies
    for name, limit in _LIMITS.items():
        text = values[name]
        if isinstance(text, str) and len(text) > limit:
            values[name] = text[: limit - 1] + "…"
    return values


def _has_body(entry: RequestLogEntry) -> bool:
    return entry.request_body is not None or entry.response_body is not None


def _entry(row: sa.Row[Any]) -> RequestLogEntry:
    return RequestLogEntry(
        id=row.id,
        model_asked=row.model_asked,
        api_key_name=row.api_key_name,
        client_address=row.client_address,
        error_type=row.error_type,
        streamed=row.streamed,
        at=row.at,
        request_id=row.request_id,
        endpoint=row.endpoint,
        model=row.model,
        status=row.status,
        credential_id=row.credential_id,
        api_key_id=row.api_key_id,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        duration_ms=row.duration_ms,
        ttft_ms=row.ttft_ms,
        error=row.error,
    )


class RequestLogMixin(StoreBase):
    _log_queue: deque[RequestLogEntry]
    _log_queue_limit: int
    _log_dropped: int
    _log_dropped_warned: float
    _log_wakeup: asyncio.Event
    _log_flush_lock: asyncio.Lock
    _log_flush_interval: float
    _log_flusher: asyncio.Task[None] | None
    _log_unpruned: int
    _log_pruned_at: float
    # Rows older than this many days go at each prune (0: kept); the gateway sets it to read
    # ``log.retention_days`` from its settings at use time.
    log_retention_days: Callable[[], int]

    def _init_request_log(self, queue_limit: int, flush_interval: float) -> None:
        self._log_queue = deque()
        self._log_queue_limit = queue_limit
        self._log_dropped = 0
        self._log_dropped_warned = 0.0
        self._log_wakeup = asyncio.Event()
        self._log_flush_lock = asyncio.Lock()
        self._log_flush_interval = flush_interval
        self._log_flusher = None
        self._log_unpruned = 0  # rows written since the last prune
        self._log_pruned_at = time.monotonic()
        self.log_retention_days = lambda: 0

    @property
    def request_logs_dropped(self) -> int:
        """Entries lost because the queue was full or their batch could not be written."""
        return self._log_dropped

    @property
    def request_logs_queued(self) -> int:
        """Entries waiting to be written (at most the queue limit)."""
        return len(self._log_queue)

    def log_request(self, entry: RequestLogEntry) -> None:
        """Queue ``entry`` for the next batch; never blocks, drops (and counts) when full."""
        if not isinstance(entry, RequestLogEntry):
            raise InvalidRequest(f"expected a RequestLogEntry, got {type(entry).__name__}")
        status_ok = isinstance(entry.status, int) and not isinstance(entry.status, bool)
        if not isinstance(entry.at, datetime) or not status_ok:
            raise InvalidRequest("a request log entry needs a datetime 'at' and an int 'status'")
        if entry.at.tzinfo is None:
            entry = replace(entry, at=entry.at.replace(tzinfo=UTC))
        if len(self._log_queue) >= self._log_queue_limit:
            self._drop(1, "the request log queue is full")
            return
        self._log_queue.append(entry)
        if len(self._log_queue) >= BATCH_SIZE:
            self._log_wakeup.set()

    def _drop(self, count: int, why: str) -> None:
        self._log_dropped += count
        now = time.monotonic()
        if now - self._log_dropped_warned >= _WARN_EVERY:
            self._log_dropped_warned = now
            log.warning("%s: request log entries dropped (%d so far)", why, self._log_dropped)

    async def flush_request_logs(self, *, prune: bool = True) -> None:
        """Write every queued entry, then (``prune``) delete rows beyond the retention limit.

        While the database is away (:class:`StoreUnavailable`) the batch goes back to the
        queue, to be written when it returns; a batch the database refuses is dropped (and
        counted). Either way the error is raised. The key usage counted so far is written in
        the first batch's transaction (kept for later on any failure).
        """
        async with self._log_flush_lock:
            # The key usage counted meanwhile goes in the first batch's transaction.
            usage = self._take_key_usage()
            usage_failed: Exception | None = None
            while self._log_queue or usage:
                count = min(BATCH_SIZE, len(self._log_queue))
                batch = [self._log_queue.popleft() for _ in range(count)]
                try:
                    async with self._writing() as conn:
                        if batch:
                            await _insert(conn, batch)
                            self._log_unpruned += count
                        if usage:
                            await self._write_key_usage(conn, usage)
                        if prune and batch:
                            await self._prune(conn)
                except (StoreUnavailable, asyncio.CancelledError):
                    # Away, or the writer was stopped mid-write: the rows wait for later.
                    self._put_back(batch)
                    if usage:
                        self._return_key_usage(usage)
                    raise
                except Exception:
                    if not usage:
                        self._drop(len(batch), "writing request logs failed")
                        raise
                    # Refused, by the log rows or by the usage: write each alone, as before
                    # (the usage kept for later if it fails again, the batch next).
                    self._put_back(batch)
                    self._return_key_usage(usage)
                    usage = {}
                    try:
                        await self.flush_key_usage()
                    except Exception as refused:
                        usage_failed = refused
                    continue
                usage = {}
            if usage_failed is not None:
                raise usage_failed

    def _put_back(self, batch: list[RequestLogEntry]) -> None:
        """Return an unwritten batch to the front of the queue for the next attempt (the
        database is away, not refusing the rows); what no longer fits is dropped and counted."""
        room = max(0, self._log_queue_limit - len(self._log_queue))
        kept = batch[:room]
        self._log_queue.extendleft(reversed(kept))
        if len(kept) < len(batch):
            self._drop(len(batch) - len(kept), "the request log queue is full")

    def _prune_due(self) -> bool:
        waited = time.monotonic() - self._log_pruned_at >= PRUNE_INTERVAL
        return self._log_unpruned >= BATCH_SIZE or (waited and self._log_unpruned > 0)

    async def _prune(self, conn: AsyncConnection) -> None:
        self._log_unpruned = 0
        self._log_pruned_at = time.monotonic()
        stored = await conn.scalar(
            sa.select(settings_table.c.value).where(settings_table.c.key == RETENTION_SETTING)
        )
        keep = DEFAULT_RETENTION
        if stored is not None:
            if isinstance(stored, int) and not isinstance(stored, bool) and stored >= 0:
                keep = stored
            else:
                log.warning(
                    "setting %s=%r is not a non-negative integer; keeping %d",
                    RETENTION_SETTING,
                    stored,
                    DEFAULT_RETENTION,
                )
        newest_dropped = (
            sa.select(table.c.id).order_by(table.c.id.desc()).limit(1).offset(keep)
        ).scalar_subquery()
        await conn.execute(sa.delete(bodies_table).where(bodies_table.c.log_id <= newest_dropped))
        await conn.execute(sa.delete(table).where(table.c.id <= newest_dropped))
        days = self.log_retention_days()
        if days > 0:
            cutoff = datetime.now(UTC) - timedelta(days=days)
            await conn.execute(sa.delete(bodies_table).where(bodies_table.c.at < cutoff))
            await conn.execute(sa.delete(table).where(table.c.at < cutoff))

    async def recent_requests(self, limit: int = 100) -> list[RequestLogEntry]:
        """The newest entries written so far, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RECENT:
            raise InvalidRequest(f"limit must be 1 to {MAX_RECENT}", param="limit")
        async with self._reading() as conn:
            rows = await conn.execute(sa.select(table).order_by(table.c.id.desc()).limit(limit))
            return [_entry(row) for row in rows]

    def _start_flusher(self) -> None:
        self._log_flusher = spawn(self._run_flusher(), name="kirogate request-log flusher")

    async def _run_flusher(self) -> None:
        failures, warned = 0, -math.inf
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._log_flush_interval):
                    await self._log_wakeup.wait()
            self._log_wakeup.clear()
            try:
                await self.flush_request_logs(prune=self._prune_due())
            except (KirogateError, SQLAlchemyError) as exc:
                # One line at the start of an outage and one every _WARN_EVERY seconds after.
                failures += 1
                if time.monotonic() - warned >= _WARN_EVERY:
                    warned = time.monotonic()
                    log.warning(
                        "request logs not written (%d queued, kept for later): %s",
                        len(self._log_queue),
                        exc,
                    )
                continue
            except Exception:
                # The writer must outlive any one bad batch; the batch is already counted.
                log.exception("request log writer failed; continuing")
                continue
            if failures:
                log.warning("request logs written again after %d failed attempts", failures)
                failures, warned = 0, -math.inf

    async def _stop_flusher(self) -> None:
        """Stop the background task and write what is still queued (for at most
        :data:`CLOSE_TIMEOUT` seconds: a frozen database must not hold the shutdown)."""
        task, self._log_flusher = self._log_flusher, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.flush_request_logs()
        except (KirogateError, SQLAlchemyError, TimeoutError) as exc:
            log.warning(
                "%d request log entries lost at close: %s",
                len(self._log_queue),
                exc or "no answer in time",
            )


async def _insert(conn: AsyncConnection, batch: list[RequestLogEntry]) -> None:
    """One statement for the rows; a row with recorded bodies is inserted alone, for its id."""
    plain = [_row(entry) for entry in batch if not _has_body(entry)]
    if plain:
        await conn.execute(sa.insert(table), plain)
    for entry in batch:
        if not _has_body(entry):
            continue
        log_id = await conn.scalar(sa.insert(table).values(_row(entry)).returning(table.c.id))
        await conn.execute(
            sa.insert(bodies_table).values(
                log_id=log_id,
                at=entry.at,
                request_body=entry.request_body,
                response_body=entry.response_body,
            )
        )
