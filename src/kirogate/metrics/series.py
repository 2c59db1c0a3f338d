"""Plain numbers by label values: what the hot path touches, read by the collector at scrape.

Recording through ``prometheus_client``'s metric objects costs five times as many
instructions per request as a dict lookup and a float add (docs/observability.md has the
figures), so requests count here and :mod:`.gateway` turns the numbers into metric families
when Prometheus scrapes. Each family holds at most ``max_series`` label sets: later ones are
folded into one ``other`` series, so a bug elsewhere cannot grow memory without limit.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Hashable

log = logging.getLogger(__name__)

DEFAULT_MAX_SERIES = 1000
OVERFLOW = "other"


class Counts:
    """A counter per label set (``key`` is a tuple of label values, or one value)."""

    __slots__ = ("_overflowed", "max_series", "name", "values", "width")

    def __init__(self, name: str, width: int, max_series: int = DEFAULT_MAX_SERIES) -> None:
        self.name = name
        self.width = width
        self.max_series = max_series
        self.values: dict[Hashable, float] = {}
        self._overflowed = False

    def add(self, key: Hashable, amount: float = 1) -> None:
        values = self.values
        if key in values:
            values[key] += amount
        else:
            key = admit(self, key)
            values[key] = values.get(key, 0) + amount


class Buckets:
    """A histogram per label set: per-bucket counts (not cumulative, the last is ``+Inf``)
    followed by the sum of the observed values."""

    __slots__ = ("_overflowed", "bounds", "max_series", "name", "values", "width")

    def __init__(
        self,
        name: str,
        width: int,
        bounds: tuple[float, ...],
        max_series: int = DEFAULT_MAX_SERIES,
    ) -> None:
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError(f"histogram {name!r}: buckets must be increasing and distinct")
        self.name = name
        self.width = width
        self.bounds = bounds
        self.max_series = max_series
        self.values: dict[Hashable, list[float]] = {}
        self._overflowed = False

    def observe(self, key: Hashable, value: float) -> None:
        row = self.values.get(key)
        if row is None:
            key = admit(self, key)
            row = self.values.setdefault(key, [0] * (len(self.bounds) + 1) + [0.0])
        # bisect_left: a value equal to a bound belongs to that bucket (le = less or equal).
        row[bisect.bisect_left(self.bounds, value)] += 1
        row[-1] += value


def admit(family: Counts | Buckets, key: Hashable) -> Hashable:
    """``key``, or the ``other`` key once the family holds ``max_series`` label sets."""
    if len(family.values) < family.max_series:
        return key
    if not family._overflowed:
        family._overflowed = True
        log.warning(
            "metric %s reached %d label sets; further ones are counted as %r",
            family.name,
            family.max_series,
            OVERFLOW,
        )
    return OVERFLOW if family.width == 1 else (OVERFLOW,) * family.width


def label_values(key: Hashable, width: int) -> list[str]:
    """The label values of ``key`` as text (status codes are kept as ints until here)."""
    if width == 1:
        return [str(key)]
    assert isinstance(key, tuple)
    return [str(value) for value in key]
