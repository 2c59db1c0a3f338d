"""Prometheus metrics: the gateway's metrics, exposed through ``prometheus_client``.

    from kirogate.metrics import METRICS

    METRICS.observe_ttft("/v1/messages", 0.42)
    METRICS.add_tokens(input=1200, output=350)
    METRICS.upstream_error("UpstreamThrottled")
    METRICS.refresh("ok")
    body = METRICS.render()  # for GET /metrics, served as CONTENT_TYPE

One process counts its own numbers; with ``--workers N`` a scrape adds up every worker's
(:mod:`.multiprocess`).

The names load on first use: the ``--workers`` supervisor imports :mod:`.directory` only
and keeps ``prometheus_client`` out of its memory.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kirogate.metrics.directory import MULTIPROC_ENV, fresh_directory

if TYPE_CHECKING:
    from kirogate.metrics.gateway import CONTENT_TYPE, CREDENTIAL_STATES, METRICS, GatewayMetrics

__all__ = [
    "CONTENT_TYPE",
    "CREDENTIAL_STATES",
    "METRICS",
    "MULTIPROC_ENV",
    "GatewayMetrics",
    "fresh_directory",
]

_FROM_GATEWAY = frozenset({"CONTENT_TYPE", "CREDENTIAL_STATES", "METRICS", "GatewayMetrics"})


def __getattr__(name: str) -> Any:
    if name in _FROM_GATEWAY:
        value = getattr(importlib.import_module("kirogate.metrics.gateway"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
