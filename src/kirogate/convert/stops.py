"""Client stop conditions the upstream ignores, applied by the gateway (spec data §3.5).

Kiro forwards neither ``stop_sequences`` nor ``max_tokens``. :class:`StopSequenceFilter`
cuts the text stream at the first stop sequence, holding back only a tail that could still
become one. :class:`OutputEstimate` keeps a running character count from which output tokens
are estimated; the stream assembler uses it for ``usage.output_tokens`` and, when asked, to
stop at ``max_tokens``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

_CJK: Final = re.compile("[\u4e00-\u9fff]")


def _partial_start(buf: str, stop: str) -> int:
    """Start of the longest suffix of ``buf`` that is a proper prefix of ``stop``, else len(buf)."""
    size = len(buf)
    first = stop[0]
    i = buf.find(first, max(0, size - len(stop) + 1))
    while i != -1:
        if stop.startswith(buf[i:]):
            return i
        i = buf.find(first, i + 1)
    return size


class StopSequenceFilter:
    """Pass text through until a stop sequence appears; then report it and drop the rest.

    The match is the sequence that *completes* first in the stream (ties: the one starting
    first), which is where a model sampling token by token would have stopped. At most
    ``len(longest) - 1`` characters are held back, and only while they could start a match.
    """

    __slots__ = ("_held", "_stops", "matched")

    def __init__(self, stop_sequences: Iterable[str]) -> None:
        self._stops = tuple(dict.fromkeys(s for s in stop_sequences if s))
        self._held = ""
        self.matched: str | None = None

    def feed(self, text: str) -> str:
        """The text that is safe to emit now (the part before the match, once matched)."""
        if self.matched is not None:
            return ""
        buf = self._held + text if self._held else text
        best: str | None = None
        best_start = best_end = 0
        for stop in self._stops:
            i = buf.find(stop)
            if i != -1:
                end = i + len(stop)
                if best is None or end < best_end or (end == best_end and i < best_start):
                    best, best_start, best_end = stop, i, end
        if best is not None:
            self.matched = best
            self._held = ""
            return buf[:best_start]
        hold = len(buf)
        for stop in self._stops:
            hold = min(hold, _partial_start(buf, stop))
        self._held = buf[hold:]
        return buf[:hold]

    def flush(self) -> str:
        """Release the held tail: the text run ended (a tool call or the end of the stream)."""
        held, self._held = self._held, ""
        return held


class OutputEstimate:
    """Running estimate of generated tokens from character counts.

    RS's stream estimator, summed over the whole response rather than rounded up per chunk:
    CJK ideographs (U+4E00–U+9FFF) count ⌈2n/3⌉ tokens, every other character ⌈n/4⌉. Tool
    input JSON is counted the same way. ``add`` is a ``len`` for ASCII text; only non-ASCII
    chunks are scanned for ideographs.
    """

    __slots__ = ("cjk", "other")

    def __init__(self) -> None:
        self.cjk = 0
        self.other = 0

    def add(self, text: str) -> None:
        size = len(text)
        if not text.isascii():
            cjk = len(_CJK.findall(text))
            self.cjk += cjk
            size -= cjk
        self.other += size

    @property
    def tokens(self) -> int:
        return -(-2 * self.cjk // 3) + -(-self.other // 4)

    def tokens_after(self, text: str) -> int:
        """The estimate if ``text`` were added."""
        other = len(text)
        cjk = 0
        if not text.isascii():
            cjk = len(_CJK.findall(text))
            other -= cjk
        return -(-2 * (self.cjk + cjk) // 3) + -(-(self.other + other) // 4)

    def add_within(self, text: str, limit: int) -> bool:
        """``add`` ``text`` if the estimate stays within ``limit`` (as :meth:`fits` decides);
        False, and nothing added, otherwise. One call per chunk on the hot path."""
        if text.isascii():  # exact and cheap: no ideographs
            other = self.other + len(text)
            if -(-2 * self.cjk // 3) + -(-other // 4) > limit:
                return False
            self.other = other
            return True
        if not self.fits(text, limit):
            return False
        self.add(text)
        return True

    def fits(self, text: str, limit: int) -> bool:
        """Whether the estimate stays within ``limit`` with ``text`` added.

        A character adds at most one token (⌈2x/3⌉ ≤ x, ⌈y/4⌉ ≤ y), so the exact count is only
        needed near the limit.
        """
        return self.tokens + len(text) <= limit or self.tokens_after(text) <= limit

    def room(self, text: str, limit: int) -> int:
        """How many leading characters of ``text`` can be added without exceeding ``limit``."""
        lo, hi = 0, len(text)
        while lo < hi:  # binary search: run once, on the chunk that crosses the limit
            mid = (lo + hi + 1) // 2
            if self.tokens_after(text[:mid]) <= limit:
                lo = mid
            else:
                hi = mid - 1
        return lo
