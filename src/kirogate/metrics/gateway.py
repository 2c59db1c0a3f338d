"""The gateway's metrics and the calls the rest of the code makes to feed them.

``endpoint`` labels are route templates (``/v1/messages``, ``/v1/models/{model_id}``),
never raw paths, so the number of series stays bounded; requests that match no route
are counted under ``unmatched``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from kirogate import __version__
from kirogate.metrics.process import ProcessStats
from kirogate.metrics.registry import (
    CallbackMetric,
    Counter,
    Gauge,
    Histogram,
    Registry,
    Sample,
)

log = logging.getLogger(__name__)

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 90, 120)
# The pool's availability states (kirogate.pool.status.Availability); all are always shown.
CREDENTIAL_STATES = ("ready", "busy", "cooling", "disabled")

CredentialSource = Callable[[], Mapping[str, int]]


class GatewayMetrics:
    """Every metric kirogate exports, with one method per thing worth counting."""

    def __init__(self, *, process: ProcessStats | None = None) -> None:
        self.registry = registry = Registry()
        self.requests = registry.register(
            Counter(
                "kirogate_requests_total",
                "HTTP requests answered, by route template and status code.",
                ("endpoint", "status"),
            )
        )
        self.request_duration = registry.register(
            Histogram(
                "kirogate_request_duration_seconds",
                "Time from request arrival to the end of the response (whole stream).",
                ("endpoint",),
                buckets=REQUEST_BUCKETS,
            )
        )
        self.ttft = registry.register(
            Histogram(
                "kirogate_ttft_seconds",
                "Time from request arrival to the first byte of a streamed answer.",
                ("endpoint",),
                buckets=TTFT_BUCKETS,
            )
        )
        self.tokens = registry.register(
            Counter(
                "kirogate_tokens_total",
                "Tokens in answered requests (input: prompt, output: completion).",
                ("direction",),
            )
        )
        self.upstream_errors = registry.register(
            Counter(
                "kirogate_upstream_errors_total",
                "Failed upstream attempts, by error class (docs/pool.md).",
                ("class",),
                max_series=200,
            )
        )
        self.refreshes = registry.register(
            Counter(
                "kirogate_refreshes_total",
                "Access-token refreshes, by outcome (ok, invalid_grant, failed).",
                ("outcome",),
                max_series=50,
            )
        )
        self.credentials = registry.register(
            CallbackMetric(
                "kirogate_credentials",
                "Credentials in the pool, by state.",
                ("state",),
                callback=self._credential_samples,
            )
        )
        self.inflight = registry.register(
            Gauge("kirogate_inflight_requests", "HTTP requests being answered now.")
        )
        build = registry.register(
            Gauge("kirogate_build_info", "The running kirogate version.", ("version",))
        )
        build.labels(__version__).set(1)
        self._process = process or ProcessStats()
        self._process_now: dict[str, float] = {}
        for key, name, kind, text in (
            ("rss", "process_resident_memory_bytes", "gauge", "Resident memory size in bytes."),
            ("virtual", "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes."),
            ("cpu", "process_cpu_seconds_total", "counter", "User and system CPU time in seconds."),
            ("fds", "process_open_fds", "gauge", "Open file descriptors."),
            ("max_fds", "process_max_fds", "gauge", "The open file descriptor limit."),
            ("start", "process_start_time_seconds", "gauge", "Process start, seconds since epoch."),
        ):
            registry.register(
                CallbackMetric(name, text, callback=self._process_reader(key), kind=kind)
            )
        self._credential_source: CredentialSource | None = None
        self._tokens_in = self.tokens.labels("input")
        self._tokens_out = self.tokens.labels("output")
        self._inflight = self.inflight.labels()
        self._status_text: dict[int, str] = {}

    # ------------------------------------------------------------ hot path

    def request_started(self) -> None:
        self._inflight.value += 1

    def request_finished(self, endpoint: str, status: int, seconds: float) -> None:
        """One answered request (called once, when its response has ended or failed)."""
        self._inflight.value -= 1
        text = self._status_text.get(status)
        if text is None:
            text = self._status_text[status] = str(status)
        self.requests.labels(endpoint, text).value += 1
        self.request_duration.labels(endpoint).observe(seconds)

    def observe_ttft(self, endpoint: str, seconds: float) -> None:
        """Time to the first streamed byte of one answer."""
        self.ttft.labels(endpoint).observe(seconds)

    def add_tokens(self, input: int, output: int) -> None:
        """Usage of one answered request (negative numbers are ignored)."""
        if input > 0:
            self._tokens_in.value += input
        if output > 0:
            self._tokens_out.value += output

    def upstream_error(self, error_class: str) -> None:
        """One failed upstream attempt; ``error_class`` is the kirogate error class name."""
        self.upstream_errors.labels(error_class).value += 1

    def refresh(self, outcome: str) -> None:
        """One token refresh: ``ok``, ``invalid_grant`` or ``failed``."""
        self.refreshes.labels(outcome).value += 1

    # ------------------------------------------------------------ scrape time

    def set_credential_source(self, source: CredentialSource | None) -> None:
        """Where ``kirogate_credentials`` comes from: a count per state, read at scrape time."""
        self._credential_source = source

    def _credential_samples(self) -> Iterable[Sample]:
        counts: dict[str, int] = dict.fromkeys(CREDENTIAL_STATES, 0)
        if self._credential_source is not None:
            for state, count in self._credential_source().items():
                counts[state] = counts.get(state, 0) + count
        return [((state,), float(count)) for state, count in counts.items()]

    def _process_reader(self, key: str) -> Callable[[], Iterable[Sample]]:
        def read() -> Iterable[Sample]:
            value = self._process_now.get(key)
            return [] if value is None else [((), value)]

        return read

    def render(self) -> bytes:
        """The text exposition of every metric (Content-Type :data:`CONTENT_TYPE`)."""
        self._process_now = self._process.read()
        return self.registry.render()


METRICS = GatewayMetrics()
