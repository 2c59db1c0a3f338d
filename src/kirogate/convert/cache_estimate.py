"""Estimated prompt-cache usage from the prefixes of recent requests (``cache.estimate``).

The upstream keeps no prompt cache it reports on (spec data §4.6), so answers say 0 cache
tokens unless ``cache.estimate`` is on. Then one :class:`PrefixCache` per gateway remembers
digests of the prompt prefixes clients sent and tells which part of a new request repeats
one, the way Anthropic's and OpenAI's caches would have served it:

- The prompt is a chain of segments in Anthropic's order: each tool, the system prompt,
  each turn. A prefix has a digest (chained BLAKE2b of the segments' JSON, seeded with the
  client, the model and ``prompt_cache_key``, so clients never share entries) and a token
  count (:mod:`.tokens`, the estimator behind ``input_tokens``).
- A request with ``cache_control`` breakpoints (Anthropic) reads the longest remembered
  prefix that ends at one of its breakpoints or up to :data:`LOOKBACK` segments before one,
  and writes ("creation") the tokens from there to its last breakpoint. Each breakpoint's
  prefix is remembered.
- A request with ``prompt_cache_key`` (OpenAI) reads the longest remembered prefix ending at
  any segment from the system prompt on; the whole prompt is remembered. Nothing is
  reported as written (OpenAI has no such figure).
- Any other request is not estimated: 0 read, 0 written.
- Prefixes under :data:`MIN_CACHEABLE_TOKENS` are never cached (both APIs' minimum).
- An entry lives 5 minutes (an hour for ``ttl: "1h"``), renewed by every hit; at most
  ``max_entries`` are kept, the least recently used dropped first.

The estimate is computed once per request, before it is answered; nothing runs per chunk.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import orjson

from kirogate.convert.ir import NO_CACHE, CacheUsage, Conversation
from kirogate.convert.tokens import (
    TOOL_SYSTEM_TOKENS,
    estimate_text_tokens,
    tool_tokens,
    turn_tokens,
)

MIN_CACHEABLE_TOKENS: Final = 1024
LOOKBACK: Final = 20  # Anthropic checks this many blocks before a breakpoint for a hit
DEFAULT_TTL: Final = 300.0
MAX_ENTRIES: Final = 8192


def prompt_prefixes(conv: Conversation, seed: bytes) -> tuple[list[bytes], list[int]]:
    """``digests[k]`` and ``tokens[k]`` of the prompt's first ``k + 1`` segments."""
    chain = hashlib.blake2b(seed, digest_size=16)
    digests: list[bytes] = []
    tokens: list[int] = []
    total = TOOL_SYSTEM_TOKENS if conv.tools else 0

    def add(data: bytes, cost: int) -> None:
        nonlocal total
        chain.update(len(data).to_bytes(8, "little"))
        chain.update(data)
        digests.append(chain.copy().digest())
        total += cost
        tokens.append(total)

    for tool in conv.tools:
        add(orjson.dumps(tool), tool_tokens(tool))
    add(conv.system.encode(), estimate_text_tokens(conv.system))
    for turn in conv.turns:
        add(orjson.dumps(turn), turn_tokens(turn))
    return digests, tokens


class PrefixCache:
    """Prompt prefixes seen recently, per client; see the module notes for the rules."""

    def __init__(
        self, *, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_entries = max_entries
        self._clock = clock
        # digest -> (time-to-live, expiry); the most recently used last
        self._entries: OrderedDict[bytes, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def estimate(self, conv: Conversation, client: str = "") -> CacheUsage:
        """What ``conv`` would read from and write to the cache; remembers its prefixes."""
        if not conv.cache_points and conv.cache_key is None:
            return NO_CACHE
        seed = "\x00".join((client, conv.model, conv.cache_key or "")).encode()
        digests, tokens = prompt_prefixes(conv, seed)
        count = len(digests)
        if conv.cache_points:
            ends = {min(point.end, count): point.ttl for point in conv.cache_points if point.end}
            candidates = {k for end in ends for k in range(max(1, end - LOOKBACK), end + 1)}
        else:
            ends = {count: DEFAULT_TTL}
            candidates = set(range(len(conv.tools) + 1, count + 1))
        now = self._clock()
        read = 0
        for k in sorted(candidates, reverse=True):
            if tokens[k - 1] < MIN_CACHEABLE_TOKENS:
                break  # shorter prefixes cost fewer tokens still
            if self._hit(digests[k - 1], now):
                read = tokens[k - 1]
                break
        written = [end for end in ends if tokens[end - 1] >= MIN_CACHEABLE_TOKENS]
        for end in written:
            self._remember(digests[end - 1], ends[end], now)
        if not conv.cache_points or not written:
            return CacheUsage(read=read)
        return CacheUsage(read=read, creation=max(0, tokens[max(written) - 1] - read))

    def _hit(self, digest: bytes, now: float) -> bool:
        entry = self._entries.get(digest)
        if entry is None:
            return False
        ttl, expires = entry
        if expires <= now:
            del self._entries[digest]
            return False
        self._entries[digest] = (ttl, now + ttl)  # a hit renews the lifetime
        self._entries.move_to_end(digest)
        return True

    def _remember(self, digest: bytes, ttl: float, now: float) -> None:
        previous = self._entries.get(digest)
        if previous is not None:
            ttl = max(ttl, previous[0])
        self._entries[digest] = (ttl, now + ttl)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
