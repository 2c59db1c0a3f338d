"""Metrics of several worker processes (``kirogate serve --workers N``), added up on a scrape.

This is ``prometheus_client``'s multiprocess mode. At start the supervisor empties a
directory (:func:`fresh_directory`) and names it in ``PROMETHEUS_MULTIPROC_DIR`` before the
workers start, so that the library writes its values to one file per worker. Each worker
copies its plain numbers into its files once a second (:meth:`SharedNumbers.run`) and
before it answers a scrape. The scraped worker then sums every worker's files with
``MultiProcessCollector``: requests, tokens and errors of workers that are gone still
count, and the in-flight gauge adds up the live ones only. A worker removes its live
gauge when it stops (``mark_process_dead``); a scrape removes those of workers that died
without stopping.

``process_*`` metrics are left out in this mode: they would describe only the worker that
happened to answer the scrape. ``kirogate_credentials`` is that worker's view of the pool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from kirogate.metrics.directory import MULTIPROC_ENV
from kirogate.metrics.series import Buckets, Counts, label_values

if TYPE_CHECKING:
    from kirogate.metrics.gateway import GatewayMetrics

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0  # seconds a worker's numbers may lag behind in a scrape
_LIVE_FILE = re.compile(r"gauge_live\w*?_(\d+)\.db")


class SharedNumbers:
    """One worker's numbers in the library's multiprocess files, and the summed scrape."""

    @classmethod
    def create(cls, metrics: GatewayMetrics, directory: Path) -> SharedNumbers | None:
        from prometheus_client import values

        # The library picks its value store once, when it is imported.
        if values.ValueClass is values.MutexValue:
            log.warning(
                "metrics: %s was not set when prometheus_client was imported; "
                "this process's metrics are not shared with the other workers",
                MULTIPROC_ENV,
            )
            return None
        return cls(metrics, directory)

    def __init__(self, metrics: GatewayMetrics, directory: Path) -> None:
        from kirogate.metrics.gateway import LiveCollector

        self.metrics = metrics
        self.directory = directory
        self._copies: list[tuple[Counts | Buckets, Counter | Histogram]] = []
        for family in metrics.families:
            numbers = family.numbers
            if isinstance(numbers, Buckets):
                copy: Counter | Histogram = Histogram(
                    family.name,
                    family.help,
                    family.labelnames,
                    registry=None,
                    buckets=numbers.bounds,
                )
            else:
                copy = Counter(family.name, family.help, family.labelnames, registry=None)
            self._copies.append((numbers, copy))
        self._inflight = Gauge(
            "kirogate_inflight_requests",
            "HTTP requests being answered now.",
            registry=None,
            multiprocess_mode="livesum",
        )
        self._written: dict[tuple[str, Hashable], float | list[float]] = {}
        self._children: dict[tuple[str, Hashable], Counter | Histogram] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(self.registry, path=str(directory))  # type: ignore[no-untyped-call]
        self.registry.register(LiveCollector(metrics))

    def flush(self) -> None:
        """Write the numbers that changed since the last flush into this worker's files."""
        written, children = self._written, self._children
        for numbers, copy in self._copies:
            for key, value in numbers.values.items():
                mark = (numbers.name, key)
                last = written.get(mark)
                if last == value:
                    continue
                child = children.get(mark)
                if child is None:
                    child = children[mark] = copy.labels(*label_values(key, numbers.width))
                if isinstance(value, list):
                    assert isinstance(child, Histogram)
                    # The library has no call that sets a histogram; its child keeps one value
                    # per bucket (not cumulative) and one for the sum, each a slot in the file.
                    for index, count in enumerate(value[:-1]):
                        if not isinstance(last, list) or last[index] != count:
                            child._buckets[index].set(count)
                    child._sum.set(value[-1])
                    written[mark] = list(value)
                else:
                    assert isinstance(child, Counter)
                    child.inc(value - (last if isinstance(last, float | int) else 0))
                    written[mark] = value
        self._inflight.set(self.metrics.inflight)

    def render(self) -> bytes:
        """Every worker's metrics, summed, after this worker's own latest numbers."""
        self.flush()
        self.forget_dead_workers()
        return generate_latest(self.registry)

    def forget_dead_workers(self) -> None:
        """``mark_process_dead`` for the workers whose live gauges outlived them."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        for name in names:
            found = _LIVE_FILE.fullmatch(name)
            if found is not None and not _alive(int(found.group(1))):
                mark_process_dead(int(found.group(1)), str(self.directory))  # type: ignore[no-untyped-call]

    async def run(self) -> None:
        """Flush every :data:`FLUSH_INTERVAL` seconds until cancelled."""
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                self.flush()
            except OSError as exc:  # a full disk must not stop the worker
                log.warning("metrics: cannot write to %s: %s", self.directory, exc)

    def close(self) -> None:
        """This worker stops: its last numbers are written and its live gauge removed."""
        try:
            self.flush()
        finally:
            mark_process_dead(os.getpid(), str(self.directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
