"""Request ids, request metrics and the access log, in one pure ASGI middleware.

It wraps the whole application (outside Starlette's error middleware, so even an
unexpected 500 carries its ``x-request-id``). Per request it takes the client's
``X-Request-Id`` when it is sane or makes a new one, puts it in :data:`kirogate.log.REQUEST_ID`
(every log line of the request shows it) and in ``request.state.request_id``, and adds it
to the response headers. When the response ends it counts the request by route template
and status, observes its duration (and, for event streams, the time to the first byte)
and writes one access line. Every response gets :data:`SECURITY_HEADERS` here, once, with
its other headers. A client that takes no data for ``send_timeout`` seconds is disconnected
(:mod:`kirogate.api.send_watch`). Per body chunk it only counts bytes; only a 4xx/5xx answer's
first bytes are kept, so its line can say why: the error envelope's type and message (every
renderer, client dialects and admin API alike, is covered), at INFO for 4xx and WARNING for
5xx.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import secrets
import time
from collections.abc import Collection, Mapping, MutableMapping
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kirogate.api.send_watch import SendWatch
from kirogate.log import REQUEST_ID
from kirogate.metrics import METRICS, GatewayMetrics

access_log = logging.getLogger("kirogate.access")

REQUEST_ID_HEADER = b"x-request-id"
# On every response: no MIME sniffing of JSON or event streams into HTML, no Referer to
# other sites, no framing (the HTML pages add their CSP themselves).
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
UNMATCHED = "unmatched"
# Probes and scrapes: logged at DEBUG while they succeed, so they do not flood the log.
QUIET_PATHS = frozenset({"/health", "/healthz", "/ready", "/metrics"})
# Ids from clients and proxies (UUIDs, hex, ULIDs, trace ids); anything else is replaced
# so a header cannot inject text into log lines.
_SANE_ID = re.compile(rb"[A-Za-z0-9._:@+=/-]{1,128}")
_EVENT_STREAM = b"text/event-stream"
# An error envelope is small; a larger error body is not parsed for its reason.
ERROR_BODY_LIMIT = 16 * 1024
REASON_LIMIT = 500
# scope["state"][ON_END]: callbacks to run once the response has ended, however it ended
# (what a request holds until then, such as a client key's slot of its max_concurrency).
ON_END = "kirogate_on_end"
# C0/C1 controls and Unicode line breaks, escaped so a message cannot forge log lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def new_request_id() -> str:
    """16 random hex characters: short, and unique enough for one deployment's logs."""
    return secrets.token_hex(8)


def incoming_request_id(scope: Scope) -> str | None:
    """The client's ``X-Request-Id`` when it is a sane token, else ``None``."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            return value.decode("ascii") if _SANE_ID.fullmatch(value) else None
    return None


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/v1/models/{model_id}``), or ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def escape_controls(text: str, limit: int = REASON_LIMIT) -> str:
    """``text`` on one line: control characters as ``\\xNN``/``\\uNNNN``, cut at ``limit``."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_reason(body: bytes) -> tuple[str, str] | None:
    """``(type, message)`` of an error envelope (Anthropic, OpenAI or admin JSON), else ``None``.

    Only the envelope's own two fields are read, never the request, so no body or secret
    reaches the log through here.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    kind, message = error.get("type"), error.get("message")
    if not isinstance(kind, str) and not isinstance(message, str):
        return None
    kind = kind if isinstance(kind, str) else "error"
    message = message if isinstance(message, str) else ""
    return escape_controls(kind, 100), escape_controls(message)


def client_ip(scope: Scope) -> str | None:
    # uvicorn has already applied X-Forwarded-For from trusted proxies (--forwarded-allow-ips).
    client = scope.get("client")
    return str(client[0]) if client else None


class ObservabilityMiddleware:
    """See the module docstring; ``metrics`` defaults to the process-wide :data:`METRICS`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: GatewayMetrics | None = None,
        quiet_paths: Collection[str] = QUIET_PATHS,
        trace_request_ids: bool = False,
        send_timeout: float = 0.0,
    ) -> None:
        self.app = app
        self.send_watch = SendWatch(send_timeout) if send_timeout > 0 else None
        self.metrics = metrics if metrics is not None else METRICS
        self.quiet_paths = frozenset(quiet_paths)
        self.trace_request_ids = trace_request_ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = incoming_request_id(scope) or new_request_id()
        id_header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        token = REQUEST_ID.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        if self.trace_request_ids:
            _tag_span(request_id)
        metrics = self.metrics
        metrics.request_started()
        status = 0
        sent = 0
        complete = False
        stream = False
        first_byte: float | None = None
        error_body = b""
        watch = self.send_watch
        write = watch.watch(send) if watch is not None else None

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent, complete, stream, first_byte, error_body
            kind = message["type"]
            if kind == "http.response.body":
                body = message.get("body", b"")
                if body:
                    sent += len(body)
                    if stream and first_byte is None:
                        first_byte = time.perf_counter()
                    if status >= 400 and len(error_body) <= ERROR_BODY_LIMIT:
                        error_body += body
                if not message.get("more_body", False):
                    complete = True
            elif kind == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() != REQUEST_ID_HEADER
                ]
                headers.append(id_header)
                headers += SECURITY_HEADERS
                stream = any(
                    k.lower() == b"content-type" and v.startswith(_EVENT_STREAM) for k, v in headers
                )
                message = {**message, "headers": headers}
            if write is None:
                await send(message)
                return
            write.since = time.monotonic()
            await send(message)
            write.since = 0.0

        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            error = exc
            raise
        finally:
            for callback in scope.get("state", {}).pop(ON_END, ()):
                callback()
            if watch is not None and write is not None:
                watch.done(write)
            elapsed = time.perf_counter() - start
            endpoint = route_template(scope)
            if not status:
                # No response started: the client left (nginx's 499) or the app crashed.
                status = 499 if isinstance(error, asyncio.CancelledError) else 500
            metrics.request_finished(endpoint, status, elapsed)
            if first_byte is not None:
                metrics.observe_ttft(endpoint, first_byte - start)
            outcome = "error" if error is not None else ("ok" if complete else "client_closed")
            reason = None
            if error_body and len(error_body) <= ERROR_BODY_LIMIT:
                reason = error_reason(error_body)
            self._log(scope, endpoint, status, elapsed, sent, outcome, reason)
            REQUEST_ID.reset(token)

    def _log(
        self,
        scope: Scope,
        endpoint: str,
        status: int,
        elapsed: float,
        sent: int,
        outcome: str,
        reason: tuple[str, str] | None = None,
    ) -> None:
        path = scope.get("path", "")
        quiet = path in self.quiet_paths
        if quiet and status < 400 and outcome == "ok":
            level = logging.DEBUG
        elif status >= 500 and not quiet:  # a probe's 503 (not ready) is an answer, not a fault
            level = logging.WARNING
        else:
            level = logging.INFO
        if not access_log.isEnabledFor(level):
            return
        method = scope.get("method", "")
        ip = client_ip(scope)
        ms = elapsed * 1000.0
        # The query string is left out: clients sometimes put keys in it.
        access_log.log(
            level,
            "%s %s %d %.1fms %dB client=%s%s%s",
            method,
            path,
            status,
            ms,
            sent,
            ip or "-",
            "" if outcome == "ok" else f" ({outcome})",
            f" {reason[0]}: {reason[1]}" if reason else "",
            extra={
                "method": method,
                "path": path,
                "endpoint": endpoint,
                "status": status,
                "duration_ms": round(ms, 1),
                "bytes": sent,
                "client_ip": ip,
                "outcome": outcome,
                "error_type": reason[0] if reason else None,
                "error_message": reason[1] if reason else None,
            },
        )


# ---------------------------------------------------------------- OpenTelemetry

OTEL_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_requested(environ: Mapping[str, str]) -> bool:
    """True when an OTLP endpoint is configured and the SDK is not switched off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in OTEL_ENDPOINT_VARS)


def _skip_quiet(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in QUIET_PATHS


def telemetry_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """FastAPI's native OpenTelemetry settings for kirogate.

    Spans are exported over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and the SDK
    and exporter are installed (``pip install 'kirogate[otel]'``). FastAPI's own metrics
    and log export stay off: Prometheus has the metrics, and exported exception messages
    would bypass the log redaction. Probes and scrapes get no spans.
    """
    return {
        "auto_configure": tracing_requested(environ),
        "metrics": False,
        "logs": False,
        "exclude": _skip_quiet,
    }


def otel_available() -> bool:
    """Whether the OpenTelemetry SDK and OTLP/HTTP exporter can be imported."""
    for module in ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http"):
        try:
            if importlib.util.find_spec(module) is None:
                return False
        except ImportError:  # a parent package is missing
            return False
    return True


def _tag_span(request_id: str) -> None:
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("kirogate.request_id", request_id)
