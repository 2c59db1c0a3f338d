"""What the gateway remembers between requests: cut-off tool calls and Responses API answers.

Both are bounded and per process (newest last, the oldest dropped first). Several gateway
processes on one database do not share them yet; keeping them in the store, so that any
instance can continue a conversation another one answered, is a later step.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from kirogate.convert.ir import Conversation, ToolCallStop
from kirogate.convert.kiro import TruncatedCall

TRUNCATION_MEMORY = 1000  # tool calls remembered as cut off (spec §7.4)


class TruncationMemory:
    """Tool calls whose input the upstream cut off (spec §7.4), so that the next request's
    build can tell the model about them when their results come back."""

    __slots__ = ("_calls", "limit")

    def __init__(self, limit: int = TRUNCATION_MEMORY) -> None:
        self.limit = limit
        self._calls: OrderedDict[str, TruncatedCall] = OrderedDict()

    def __len__(self) -> int:
        return len(self._calls)

    def remember(self, stop: ToolCallStop) -> None:
        reason = stop.truncation_reason or "the input JSON was incomplete"
        # The assembler words it "truncated at N bytes: <diagnosis>".
        size_text = reason.removeprefix("truncated at ").partition(" bytes")[0]
        size = int(size_text) if size_text.isdigit() else 0
        self._calls[stop.id] = TruncatedCall(size_bytes=size, reason=reason)
        while len(self._calls) > self.limit:
            self._calls.popitem(last=False)

    def calls(self) -> dict[str, TruncatedCall]:
        """A copy of the remembered calls by tool-call id."""
        return dict(self._calls)


class ResponseMemory:
    """Responses API answers kept for ``previous_response_id`` and ``GET /v1/responses/{id}``,
    and their output items by id, for an ``item_reference`` without ``previous_response_id``."""

    __slots__ = ("_items", "_responses", "items_limit", "limit")

    def __init__(self, limit: int = 1000, items_limit: int = 20_000) -> None:
        self.limit = limit
        self.items_limit = items_limit
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
        self._responses[response_id] = (conversation, response)
        while len(self._responses) > self.limit:
            self._responses.popitem(last=False)
        for item in items:
            if isinstance(item.get("id"), str):
                self._items[item["id"]] = item
        while len(self._items) > self.items_limit:
            self._items.popitem(last=False)
