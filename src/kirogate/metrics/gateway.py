"""The gateway's metrics and the calls the rest of the code makes to feed them.

Requests count in plain numbers (:mod:`.series`); ``prometheus_client`` does the rest: a
custom collector turns the numbers into metric families at scrape time, its process
collector adds ``process_*``, and its exposition writes the text format. With several
worker processes (:mod:`.multiprocess`) the numbers are also copied into the library's
multiprocess files once a second and on every scrape, and a scrape reads every worker's.

``endpoint`` labels are route templates (``/v1/messages``, ``/v1/models/{model_id}``),
never raw paths, so the number of series stays bounded; requests that match no route
are counted under ``unmatched``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from kirogate import __version__
from kirogate.metrics.series import Buckets, Counts, label_values

if TYPE_CHECKING:
    from kirogate.metrics.multiprocess import SharedNumbers

log = logging.getLogger(__name__)
_V = TypeVar("_V")

# What generate_latest writes (the library names it CONTENT_TYPE_PLAIN_0_0_4 since 0.22).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 90, 120)
# The pool's availability states (kirogate.pool.status.Availability); all are always shown.
CREDENTIAL_STATES = ("ready", "busy", "cooling", "disabled")

CredentialSource = Callable[[], Mapping[str, int]]
# The store's numbers, read at scrape time: "up" (1/0), "request_logs_queued",
# "request_logs_dropped", "pool_state_pending" (see Gateway.database_numbers); None: no database.
DatabaseSource = Callable[[], Mapping[str, int] | None]


@dataclass(frozen=True, slots=True)
class Family:
    """One counted metric: its name, help and label names, and where its numbers are."""

    name: str
    help: str
    labelnames: tuple[str, ...]
    numbers: Counts | Buckets


class GatewayMetrics:
    """Every metric kirogate exports, with one method per thing worth counting."""

    def __init__(self) -> None:
        self.requests = Counts("kirogate_requests_total", 2)
        self.request_duration = Buckets(
            "kirogate_request_duration_seconds", 1, tuple(map(float, REQUEST_BUCKETS))
        )
        self.ttft = Buckets("kirogate_ttft_seconds", 1, tuple(map(float, TTFT_BUCKETS)))
        self.tokens = Counts("kirogate_tokens_total", 1)
        self.upstream_errors = Counts("kirogate_upstream_errors_total", 1, max_series=200)
        self.refreshes = Counts("kirogate_refreshes_total", 1, max_series=50)
        self.inflight = 0
        self.families = (
            Family(
                "kirogate_requests_total",
                "HTTP requests answered, by route template and status code.",
                ("endpoint", "status"),
                self.requests,
            ),
            Family(
                "kirogate_request_duration_seconds",
                "Time from request arrival to the end of the response (whole stream).",
                ("endpoint",),
                self.request_duration,
            ),
            Family(
                "kirogate_ttft_seconds",
                "Time from request arrival to the first byte of a streamed answer.",
                ("endpoint",),
                self.ttft,
            ),
            Family(
                "kirogate_tokens_total",
                "Tokens in answered requests (input: prompt, output: completion).",
                ("direction",),
                self.tokens,
            ),
            Family(
                "kirogate_upstream_errors_total",
                "Failed upstream attempts, by error class (docs/pool.md).",
                ("class",),
                self.upstream_errors,
            ),
            Family(
                "kirogate_refreshes_total",
                "Access-token refreshes, by outcome (ok, invalid_grant, failed).",
                ("outcome",),
                self.refreshes,
            ),
        )
        self._credential_source: CredentialSource | None = None
        self._database_source: DatabaseSource | None = None
        self._shared: SharedNumbers | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(CountedCollector(self))
        self.registry.register(LiveCollector(self))
        ProcessCollector(registry=self.registry)

    # ------------------------------------------------------------ hot path

    def request_started(self) -> None:
        self.inflight += 1

    def request_finished(self, endpoint: str, status: int, seconds: float) -> None:
        """One answered request (called once, when its response has ended or failed)."""
        self.inflight -= 1
        self.requests.add((endpoint, status))
        self.request_duration.observe(endpoint, seconds)

    def observe_ttft(self, endpoint: str, seconds: float) -> None:
        """Time to the first streamed byte of one answer."""
        self.ttft.observe(endpoint, seconds)

    def add_tokens(self, input: int, output: int) -> None:
        """Usage of one answered request (negative numbers are ignored)."""
        if input > 0:
            self.tokens.add("input", input)
        if output > 0:
            self.tokens.add("output", output)

    def upstream_error(self, error_class: str) -> None:
        """One failed upstream attempt; ``error_class`` is the kirogate error class name."""
        self.upstream_errors.add(error_class)

    def refresh(self, outcome: str) -> None:
        """One token refresh: ``ok``, ``invalid_grant`` or ``failed``."""
        self.refreshes.add(outcome)

    # ------------------------------------------------------------ scrape time

    def set_credential_source(self, source: CredentialSource | None) -> None:
        """Where ``kirogate_credentials`` comes from: a count per state, read at scrape time."""
        self._credential_source = source

    def set_database_source(self, source: DatabaseSource | None) -> None:
        """Where the database metrics come from (none are shown without a database)."""
        self._database_source = source

    def database_numbers(self) -> Mapping[str, int] | None:
        return None if self._database_source is None else self._database_source()

    def credential_counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(CREDENTIAL_STATES, 0)
        if self._credential_source is not None:
            for state, count in self._credential_source().items():
                counts[state] = counts.get(state, 0) + count
        return counts

    def use_multiprocess(self, directory: Path) -> bool:
        """Share the counted numbers with the other workers through ``directory`` (the
        ``PROMETHEUS_MULTIPROC_DIR`` this process started with); ``False`` when the library
        was imported without it, so nothing could be shared."""
        from kirogate.metrics.multiprocess import SharedNumbers

        shared = SharedNumbers.create(self, directory)
        if shared is None:
            return False
        self._shared = shared
        return True

    @property
    def shared(self) -> SharedNumbers | None:
        """The multiprocess copy of the numbers, when :meth:`use_multiprocess` is on."""
        return self._shared

    def render(self) -> bytes:
        """The text exposition of every metric (Content-Type :data:`CONTENT_TYPE`)."""
        if self._shared is not None:
            return self._shared.render()
        return generate_latest(self.registry)


class CountedCollector(Collector):
    """This process's counted numbers as metric families."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for family in self.metrics.families:
            yield counted_family(family)
        yield GaugeMetricFamily(
            "kirogate_inflight_requests",
            "HTTP requests being answered now.",
            value=self.metrics.inflight,
        )


class LiveCollector(Collector):
    """What is read at scrape time, in this process, also with several workers."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        credentials = GaugeMetricFamily(
            "kirogate_credentials", "Credentials in the pool, by state.", labels=("state",)
        )
        try:
            counts = self.metrics.credential_counts()
        except Exception:
            # One broken source must not break the whole scrape.
            log.exception("metric kirogate_credentials: reading the pool failed")
        else:
            for state, count in counts.items():
                credentials.add_metric([state], count)
        yield credentials
        yield from self._database()
        build = GaugeMetricFamily(
            "kirogate_build_info", "The running kirogate version.", labels=("version",)
        )
        build.add_metric([__version__], 1)
        yield build
        try:
            tasks = len(asyncio.all_tasks())
        except RuntimeError:
            return  # scraped outside the event loop (a test, a worker thread): nothing to count
        yield GaugeMetricFamily(
            "kirogate_asyncio_tasks",
            "asyncio tasks alive in this process (a leak shows as growth at rest).",
            value=tasks,
        )

    def _database(self) -> Iterator[Metric]:
        try:
            numbers = self.metrics.database_numbers()
        except Exception:
            log.exception("database metrics: reading the store failed")
            return
        if numbers is None:
            return
        yield GaugeMetricFamily(
            "kirogate_database_up",
            "1 while the database answers the background ping, 0 while it is away.",
            value=numbers.get("up", 0),
        )
        queued = GaugeMetricFamily(
            "kirogate_store_writes_queued",
            "Store writes made by serving, held in memory until the database takes them.",
            labels=("kind",),
        )
        queued.add_metric(["request_log"], numbers.get("request_logs_queued", 0))
        queued.add_metric(["pool_state"], numbers.get("pool_state_pending", 0))
        yield queued
        dropped = CounterMetricFamily(
            "kirogate_store_writes_dropped",
            "Store writes dropped because their bounded buffer was full (or refused).",
            labels=("kind",),
        )
        dropped.add_metric(["request_log"], numbers.get("request_logs_dropped", 0))
        yield dropped


def counted_family(family: Family) -> Metric:
    numbers = family.numbers
    if isinstance(numbers, Buckets):
        histogram = HistogramMetricFamily(family.name, family.help, labels=family.labelnames)
        bounds = [floatToGoString(b) for b in numbers.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        for labels, row in _sorted(numbers.values, numbers.width):
            running, cumulative = 0.0, []
            for bound, count in zip(bounds, row[:-1], strict=True):
                running += count
                cumulative.append((bound, running))
            histogram.add_metric(labels, cumulative, sum_value=row[-1])
        return histogram
    counter = CounterMetricFamily(family.name, family.help, labels=family.labelnames)
    for labels, value in _sorted(numbers.values, numbers.width):
        counter.add_metric(labels, value)
    return counter


def _sorted(values: Mapping[object, _V], width: int) -> list[tuple[list[str], _V]]:
    return sorted(((label_values(k, width), v) for k, v in values.items()), key=lambda kv: kv[0])


METRICS = GatewayMetrics()
