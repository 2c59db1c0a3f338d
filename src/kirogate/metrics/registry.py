"""Prometheus metric families and their text exposition (format 0.0.4).

Written for one event loop per process: no locks, and the hot path is one dict lookup
by label values followed by a float add. Each family keeps one child per label set,
bounded by ``max_series``: later label sets are folded into one ``other`` series so a
bug elsewhere cannot grow memory without limit. :class:`CallbackMetric` reads its
samples at scrape time.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_MAX_SERIES = 1000
OVERFLOW = "other"

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

Labels = tuple[str, ...]
Sample = tuple[Labels, float]


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: integers without a fraction, ``+Inf``, ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _bound(value: float) -> str:
    return "+Inf" if math.isinf(value) else repr(float(value))


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label_text(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{escape_label(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


class CounterChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        self.value += amount


class GaugeChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def set(self, value: float) -> None:
        self.value = value

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount


class HistogramChild:
    __slots__ = ("_bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # per bucket, not cumulative; last is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bucket (le = less or equal).
        self.counts[bisect.bisect_left(self._bounds, value)] += 1
        self.sum += value
        self.count += 1


Child = TypeVar("Child", CounterChild, GaugeChild, HistogramChild)
F = TypeVar("F", bound="Family")


class Metric(Generic[Child]):
    """One metric family; ``labels(...)`` returns the child for a label set (created once)."""

    kind = "untyped"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        max_series: int = DEFAULT_MAX_SERIES,
    ) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"invalid metric name {name!r}")
        for label in labelnames:
            if not _LABEL.fullmatch(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r} on {name}")
        if len(set(labelnames)) != len(labelnames):
            raise ValueError(f"duplicate label names on {name}")
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        self.max_series = max_series
        self._children: dict[Labels, Child] = {}
        self._overflowed = False

    def _new_child(self) -> Child:
        raise NotImplementedError

    def labels(self, *values: str) -> Child:
        child = self._children.get(values)
        if child is not None:
            return child
        return self._add_child(values)

    def _add_child(self, values: Labels) -> Child:
        if len(values) != len(self.labelnames):
            raise ValueError(
                f"{self.name} takes {len(self.labelnames)} label value(s), got {len(values)}"
            )
        values = tuple(str(v) for v in values)
        existing = self._children.get(values)
        if existing is not None:  # the caller passed non-strings (e.g. a status code)
            return existing
        if len(self._children) >= self.max_series:
            if not self._overflowed:
                self._overflowed = True
                log.warning(
                    "metric %s reached %d label sets; further ones are counted as %r",
                    self.name,
                    self.max_series,
                    OVERFLOW,
                )
            values = (OVERFLOW,) * len(self.labelnames)
            existing = self._children.get(values)
            if existing is not None:
                return existing
        child = self._children[values] = self._new_child()
        return child

    def clear(self) -> None:
        self._children.clear()
        self._overflowed = False

    def samples(self) -> Iterable[tuple[str, Labels, Sequence[str], float]]:
        """(sample name, label names, label values, value) for the exposition."""
        raise NotImplementedError

    def render(self, out: list[str]) -> None:
        out.append(f"# HELP {self.name} {escape_help(self.help)}")
        out.append(f"# TYPE {self.name} {self.kind}")
        for sample_name, names, values, value in self.samples():
            out.append(f"{sample_name}{_label_text(names, values)} {format_value(value)}")


class Counter(Metric[CounterChild]):
    kind = "counter"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        max_series: int = DEFAULT_MAX_SERIES,
    ) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name!r} must end in _total")
        super().__init__(name, help, labelnames, max_series=max_series)

    def _new_child(self) -> CounterChild:
        return CounterChild()

    def inc(self, amount: float = 1.0) -> None:
        """Increment the metric without labels."""
        self.labels().inc(amount)

    def samples(self) -> Iterable[tuple[str, Labels, Sequence[str], float]]:
        for values in sorted(self._children):
            yield self.name, self.labelnames, values, self._children[values].value


class Gauge(Metric[GaugeChild]):
    kind = "gauge"

    def _new_child(self) -> GaugeChild:
        return GaugeChild()

    def set(self, value: float) -> None:
        self.labels().set(value)

    def inc(self, amount: float = 1.0) -> None:
        self.labels().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self.labels().dec(amount)

    def samples(self) -> Iterable[tuple[str, Labels, Sequence[str], float]]:
        for values in sorted(self._children):
            yield self.name, self.labelnames, values, self._children[values].value


class Histogram(Metric[HistogramChild]):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
        max_series: int = DEFAULT_MAX_SERIES,
    ) -> None:
        if "le" in labelnames:
            raise ValueError(f"histogram {name!r} cannot have a label named le")
        bounds = tuple(float(b) for b in buckets if not math.isinf(b))
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError(f"histogram {name!r}: buckets must be increasing and distinct")
        super().__init__(name, help, labelnames, max_series=max_series)
        self.bounds = bounds

    def _new_child(self) -> HistogramChild:
        return HistogramChild(self.bounds)

    def observe(self, value: float) -> None:
        self.labels().observe(value)

    def samples(self) -> Iterable[tuple[str, Labels, Sequence[str], float]]:
        names = (*self.labelnames, "le")
        for values in sorted(self._children):
            child = self._children[values]
            running = 0
            for bound, count in zip((*self.bounds, math.inf), child.counts, strict=True):
                running += count
                yield f"{self.name}_bucket", names, (*values, _bound(bound)), running
            yield f"{self.name}_sum", self.labelnames, values, child.sum
            yield f"{self.name}_count", self.labelnames, values, child.count


class CallbackMetric:
    """A gauge or counter whose samples ``callback`` returns at scrape time.

    A failing callback is logged and its family is rendered without samples, so one
    broken source cannot break the whole scrape.
    """

    def __init__(
        self,
        name: str,
        help: str,
        labelnames: Sequence[str] = (),
        *,
        callback: Callable[[], Iterable[Sample]],
        kind: str = "gauge",
    ) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"invalid metric name {name!r}")
        if kind not in ("gauge", "counter"):
            raise ValueError(f"callback metric {name!r}: kind must be gauge or counter")
        self.name = name
        self.help = help
        self.kind = kind
        self.labelnames = tuple(labelnames)
        self.callback = callback

    def render(self, out: list[str]) -> None:
        out.append(f"# HELP {self.name} {escape_help(self.help)}")
        out.append(f"# TYPE {self.name} {self.kind}")
        try:
            read = sorted(self.callback())
        except Exception:
            log.exception("metric %s: reading its value failed", self.name)
            return
        for values, value in read:
            if len(values) != len(self.labelnames):
                log.error("metric %s: callback gave label values %r", self.name, values)
                continue
            out.append(f"{self.name}{_label_text(self.labelnames, values)} {format_value(value)}")


class Family(Protocol):
    name: str

    def render(self, out: list[str]) -> None: ...


class Registry:
    """Metric families rendered together, in registration order."""

    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def register(self, family: F) -> F:
        if family.name in self._families:
            raise ValueError(f"metric {family.name} is already registered")
        self._families[family.name] = family
        return family

    def render(self) -> bytes:
        out: list[str] = []
        for family in self._families.values():
            family.render(out)
        out.append("")
        return "\n".join(out).encode("utf-8")
