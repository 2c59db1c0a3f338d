"""Prometheus metrics: a small registry (:mod:`.registry`) and the gateway's metrics.

    from kirogate.metrics import METRICS

    METRICS.observe_ttft("/v1/messages", 0.42)
    METRICS.add_tokens(input=1200, output=350)
    METRICS.upstream_error("UpstreamThrottled")
    METRICS.refresh("ok")
    body = METRICS.render()  # for GET /metrics, served as CONTENT_TYPE

Every process has its own numbers (with several uvicorn workers, scrape each one or run
one worker per container).
"""

from kirogate.metrics.gateway import CREDENTIAL_STATES, METRICS, GatewayMetrics
from kirogate.metrics.process import ProcessStats
from kirogate.metrics.registry import (
    CONTENT_TYPE,
    CallbackMetric,
    Counter,
    Gauge,
    Histogram,
    Registry,
)

__all__ = [
    "CONTENT_TYPE",
    "CREDENTIAL_STATES",
    "METRICS",
    "CallbackMetric",
    "Counter",
    "GatewayMetrics",
    "Gauge",
    "Histogram",
    "ProcessStats",
    "Registry",
]
