"""What the gateway remembers between requests: cut-off tool calls and Responses API answers.

Both live in bounded process memory (newest last, the oldest dropped first), which is all
the request path reads. When the gateway is persistent they also write through to the store
in the background (:class:`SharedMemory`), and what a request refers to but this process
has not seen (a ``previous_response_id`` another instance answered, a tool result for a call
another instance saw cut off, anything from before a restart) is looked up there once,
within a short timeout. A database that is away costs a lookup nothing: it is skipped
until the database answers again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from kirogate.cluster.outage import OutageLog
from kirogate.convert.ir import Conversation, ToolCallStop, ToolResult
from kirogate.convert.ir_json import conversation_from_json, to_json
from kirogate.convert.kiro import TruncatedCall
from kirogate.tasks import spawn, stop_task

log = logging.getLogger(__name__)

TRUNCATION_MEMORY = 1000  # tool calls remembered as cut off (spec §7.4)
RECALL_TIMEOUT = 0.25  # seconds a request waits for the store before going on without it
RETRY_AFTER = 10.0  # seconds to skip lookups after the store failed one
QUEUE_LIMIT = 5000  # memories waiting to be written; more are dropped and counted
RETENTION = timedelta(hours=24)  # stored memories older than this are pruned
PRUNE_INTERVAL = 600.0
LATE_WRITE_RETRIES = (0.05, 0.1, 0.2, 0.0)  # waits between lookups of a missing response
CLOSE_TIMEOUT = 2.0  # seconds the last write may take at shutdown
NOT_STORED_LIMIT = 10_000  # keys known to be absent from the store, not asked again


class MemoryStore(Protocol):
    async def keep_memories(self, kind: str, entries: Iterable[tuple[str, Any]]) -> None: ...

    async def recall_memories(self, kind: str, keys: Sequence[str]) -> dict[str, Any]: ...

    async def forget_memories(self, older_than: datetime) -> int: ...


class SharedMemory:
    """Writes memories to the store behind the request path, and looks up missing ones."""

    def __init__(
        self,
        store: MemoryStore,
        *,
        timeout: float = RECALL_TIMEOUT,
        queue_limit: int = QUEUE_LIMIT,
        retention: timedelta = RETENTION,
    ) -> None:
        self._store = store
        self._timeout = timeout
        self._queue: deque[tuple[str, str, Any]] = deque()
        self._queue_limit = queue_limit
        self._retention = retention
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._pruned_at = -math.inf  # the first flush prunes, however recent the boot
        self._broken_until = 0.0
        self._not_stored: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._outage = OutageLog(log, "memory store")
        self.dropped = 0  # memories not stored: queue full, or the store refused the batch

    @property
    def healthy(self) -> bool:
        """The last lookup did not fail (or failed long enough ago to try again)."""
        return time.monotonic() >= self._broken_until

    def keep(self, kind: str, key: str, value: Any) -> None:
        """Queue ``value`` for the store; never waits."""
        if len(self._queue) >= self._queue_limit:
            self.dropped += 1
            return
        self._queue.append((kind, key, value))
        self._not_stored.pop((kind, key), None)
        if self._writer is None or self._writer.done():
            self._writer = spawn(self._write(), name="memory writer")
        self._wakeup.set()

    async def recall(
        self, kind: str, keys: Iterable[str], *, note_absent: bool = False
    ) -> dict[str, Any]:
        """The stored values of ``keys`` (those the store has), or ``{}`` if it is away.

        ``note_absent``: keys the store does not have are not asked for again (for lookups
        that almost always miss, such as tool results of calls that were never cut off).
        """
        wanted = [key for key in keys if (kind, key) not in self._not_stored]
        if not wanted or time.monotonic() < self._broken_until:
            return {}
        try:
            async with asyncio.timeout(self._timeout):
                found = await self._store.recall_memories(kind, wanted)
        except Exception as exc:  # a lookup is optional: any failure means "not known"
            self._broken_until = time.monotonic() + RETRY_AFTER
            self._outage.failed("looking up", exc)
            return {}
        self._outage.succeeded()
        if note_absent:
            for key in wanted:
                if key not in found:
                    self._not_stored[(kind, key)] = None
            while len(self._not_stored) > NOT_STORED_LIMIT:
                self._not_stored.popitem(last=False)
        return found

    async def flush(self) -> None:
        """Write what is queued now (one attempt)."""
        batch = list(self._queue)
        self._queue.clear()
        by_kind: dict[str, list[tuple[str, Any]]] = {}
        for kind, key, value in batch:
            by_kind.setdefault(kind, []).append((key, value))
        for kind, entries in by_kind.items():
            try:
                await self._store.keep_memories(kind, entries)
            except Exception as exc:  # kept in process memory all the same
                self.dropped += len(entries)
                self._outage.failed("writing", exc)
            else:
                self._outage.succeeded()
        if time.monotonic() - self._pruned_at > PRUNE_INTERVAL:
            self._pruned_at = time.monotonic()
            try:
                await self._store.forget_memories(datetime.now(UTC) - self._retention)
            except Exception as exc:
                self._outage.failed("pruning", exc)

    async def close(self) -> None:
        if self._writer is not None:
            await stop_task(self._writer)
        pending = len(self._queue)
        if pending:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.flush()
            except TimeoutError:
                log.warning("memory store: %d memories not written at shutdown", pending)

    async def _write(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self.flush()


class TruncationMemory:
    """Tool calls whose input the upstream cut off (spec §7.4), so that the next request's
    build can tell the model about them when their results come back."""

    __slots__ = ("_calls", "limit", "shared")

    def __init__(self, limit: int = TRUNCATION_MEMORY, shared: SharedMemory | None = None) -> None:
        self.limit = limit
        self.shared = shared
        self._calls: OrderedDict[str, TruncatedCall] = OrderedDict()

    def __len__(self) -> int:
        return len(self._calls)

    def remember(self, stop: ToolCallStop) -> None:
        reason = stop.truncation_reason or "the input JSON was incomplete"
        # The assembler words it "truncated at N bytes: <diagnosis>".
        size_text = reason.removeprefix("truncated at ").partition(" bytes")[0]
        size = int(size_text) if size_text.isdigit() else 0
        self._add(stop.id, TruncatedCall(size_bytes=size, reason=reason))
        if self.shared is not None:
            self.shared.keep("truncation", stop.id, {"size": size, "reason": reason})

    async def load(self, conv: Conversation) -> None:
        """Look up the tool results of ``conv`` this process has not seen cut off."""
        if self.shared is None:
            return
        ids = [
            part.tool_use_id
            for turn in conv.turns
            if turn.role == "user"
            for part in turn.parts
            if type(part) is ToolResult and part.tool_use_id not in self._calls
        ]
        if not ids:
            return
        for key, value in (await self.shared.recall("truncation", ids, note_absent=True)).items():
            if isinstance(value, dict):
                size, reason = value.get("size"), value.get("reason")
                if isinstance(size, int) and isinstance(reason, str):
                    self._add(key, TruncatedCall(size_bytes=size, reason=reason))

    def _add(self, call_id: str, call: TruncatedCall) -> None:
        self._calls[call_id] = call
        while len(self._calls) > self.limit:
            self._calls.popitem(last=False)

    def calls(self) -> dict[str, TruncatedCall]:
        """A copy of the remembered calls by tool-call id."""
        return dict(self._calls)


class ResponseMemory:
    """Responses API answers kept for ``previous_response_id`` and ``GET /v1/responses/{id}``,
    and their output items by id, for an ``item_reference`` without ``previous_response_id``."""

    __slots__ = ("_items", "_responses", "items_limit", "limit", "shared")

    def __init__(
        self, limit: int = 1000, items_limit: int = 20_000, shared: SharedMemory | None = None
    ) -> None:
        self.limit = limit
        self.items_limit = items_limit
        self.shared = shared
        self._responses: OrderedDict[str, tuple[Conversation, dict[str, Any]]] = OrderedDict()
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, response_id: str) -> tuple[Conversation, dict[str, Any]] | None:
        """The conversation so far and the response object stored under ``response_id``."""
        return self._responses.get(response_id)

    @property
    def items(self) -> Mapping[str, dict[str, Any]]:
        return self._items

    def keep(
        self,
        response_id: str,
        conversation: Conversation,
        response: dict[str, Any],
        items: Iterable[dict[str, Any]],
    ) -> None:
        """Store a finished response with the conversation it continues, and index ``items``."""
        items = [item for item in items if isinstance(item.get("id"), str)]
        self._add(response_id, conversation, response, items)
        if self.shared is not None:
            conv = to_json(conversation)
            self.shared.keep("response", response_id, {"conversation": conv, "response": response})
            for item in items:
                self.shared.keep("item", item["id"], item)

    async def load(self, response_id: str | None, item_ids: Sequence[str] = ()) -> None:
        """Look up a response and items this process does not hold (see :class:`SharedMemory`)."""
        shared = self.shared
        if shared is None:
            return
        if response_id is not None and response_id not in self._responses:
            stored: Any = None
            for delay in LATE_WRITE_RETRIES:
                # The instance that answered writes behind its answer: a client continuing
                # at once may ask before the row is there.
                stored = (await shared.recall("response", [response_id])).get(response_id)
                if stored is not None or not shared.healthy:
                    break
                await asyncio.sleep(delay)
            try:
                conv = conversation_from_json(stored["conversation"])
                response = stored["response"]
            except (TypeError, KeyError, ValueError):
                if stored is not None:
                    log.warning("stored response %s is unreadable; ignored", response_id)
            else:
                if isinstance(response, dict):
                    self._add(response_id, conv, response, ())
        missing = [item_id for item_id in item_ids if item_id not in self._items]
        if missing:
            for item_id, item in (await shared.recall("item", missing)).items():
                if isinstance(item, dict):
                    self._add_items([{**item, "id": item_id}])

    def _add(
        self,
        response_id: str,
        conversation: Conversation,
        response: dict[str, Any],
        items: Iterable[dict[str, Any]],
    ) -> None:
        self._responses[response_id] = (conversation, response)
        while len(self._responses) > self.limit:
            self._responses.popitem(last=False)
        self._add_items(items)

    def _add_items(self, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            self._items[item["id"]] = item
        while len(self._items) > self.items_limit:
            self._items.popitem(last=False)
