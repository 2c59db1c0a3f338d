"""Prometheus metrics: the gateway's metrics, exposed through ``prometheus_client``.

    from kirogate.metrics import METRICS

    METRICS.observe_ttft("/v1/messages", 0.42)
    METRICS.add_tokens(input=1200, output=350)
    METRICS.upstream_error("UpstreamThrottled")
    METRICS.refresh("ok")
    body = METRICS.render()  # for GET /metrics, served as CONTENT_TYPE

One process counts its own numbers; with ``--workers N`` a scrape adds up every worker's
(:mod:`.multiprocess`).
"""

from kirogate.metrics.gateway import CONTENT_TYPE, CREDENTIAL_STATES, METRICS, GatewayMetrics
from kirogate.metrics.multiprocess import MULTIPROC_ENV, fresh_directory

__all__ = [
    "CONTENT_TYPE",
    "CREDENTIAL_STATES",
    "METRICS",
    "MULTIPROC_ENV",
    "GatewayMetrics",
    "fresh_directory",
]
