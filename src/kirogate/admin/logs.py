"""``/api/admin/logs``, ``/api/admin/stats`` and ``/api/admin/live``: the request log, its
statistics and the live feed (see docs/logs.md).

The query strings are read here, each bad value a 400 naming its parameter; the rows, the
figures and the events come from the service's operations.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from kirogate.admin.auth import AdminRoute, operations_of
from kirogate.admin.schemas import admin_errors
from kirogate.admin.views import rfc3339
from kirogate.api.json_reply import json_response
from kirogate.api.request_gate import gateway_of
from kirogate.errors import InvalidRequest
from kirogate.service.logs import BUCKETS, MAX_PAGE, Bucket, LogFilter, RequestLogEntry

router = APIRouter(route_class=AdminRoute)

HEARTBEAT = 15.0  # seconds between the live feed's heartbeat comments
_CHECK_EVERY = 1.0  # seconds between the live feed's looks at the shutdown
MAX_BUCKETS = 10_000  # per stats answer
DEFAULT_STATS_WINDOW = timedelta(hours=24)
_MAX_ID = 2**63 - 1
_BUCKET_SIZE = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}
CSV_COLUMNS = (
    "id",
    "at",
    "request_id",
    "endpoint",
    "model",
    "model_sent",
    "key_id",
    "key_name",
    "credential_id",
    "client_address",
    "status",
    "error_type",
    "error",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "streamed",
)


# ---------------------------------------------------------------- schemas (OpenAPI)


class LogRow(BaseModel):
    """One request: ``model`` is the name the client asked for, ``model_sent`` the upstream id."""

    id: int
    at: str = Field(description="RFC 3339, UTC")
    request_id: str
    endpoint: str
    model: str | None
    model_sent: str | None
    key_id: int | None = Field(description="the client key's id; null for the configured key")
    key_name: str | None
    credential_id: int | None
    client_address: str | None
    status: int
    error_type: str | None
    error: str | None
    latency_ms: float | None
    ttft_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    streamed: bool | None


class LogDetail(LogRow):
    """One request with its bodies, when ``log.bodies`` was on (redacted and cut)."""

    request_body: str | None
    response_body: str | None


class LogPage(BaseModel):
    rows: list[LogRow]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null: end")


class Deleted(BaseModel):
    deleted: int


class Percentiles(BaseModel):
    p50: float | None
    p95: float | None
    p99: float | None


class StatNumbers(BaseModel):
    requests: int
    errors: dict[str, int] = Field(description='{"4xx": n, "5xx": n}')
    errors_by_type: dict[str, int]
    input_tokens: int
    output_tokens: int
    latency_ms: Percentiles
    ttft_ms: Percentiles


class StatBucket(StatNumbers):
    start: str = Field(description="the bucket's start, RFC 3339, UTC")


class StatTotal(BaseModel):
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int


class KeyTotal(StatTotal):
    key_id: int | None
    key_name: str | None


class CredentialTotal(StatTotal):
    credential_id: int | None


class ModelTotal(StatTotal):
    model: str | None


class Stats(BaseModel):
    since: str
    until: str
    bucket: Bucket
    buckets: list[StatBucket]
    total: StatNumbers | None
    per_key: list[KeyTotal]
    per_credential: list[CredentialTotal]
    per_model: list[ModelTotal]


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


_TIME = "RFC 3339 (2026-12-07T10:00:00Z) or Unix seconds"
_FILTERS = [
    _query("since", f"rows at or after this time: {_TIME}"),
    _query("until", f"rows before this time: {_TIME}"),
    _query("status", "a status (429) or a class (4xx)", pattern="^([1-5][0-9][0-9]|[1-5]xx)$"),
    _query("model", "the model asked for or sent"),
    _query("key_id", "the client key's id", pattern="^[0-9]{1,18}$"),
    _query("key_name", "the client key's name ('default' for the configured key)"),
    _query("credential_id", "the credential's id", pattern="^[0-9]{1,18}$"),
    _query("client", "the client address"),
    _query("endpoint", "the path, such as /v1/messages"),
]
_PAGE = [
    _query("cursor", "the next_cursor of the previous page"),
    _query("limit", f"rows per page, 1 to {MAX_PAGE} (default 50)", pattern="^[0-9]{1,3}$"),
]
_STATS = [
    _query("since", f"from this time (default: 24 hours ago): {_TIME}"),
    _query("until", f"to this time (default: now): {_TIME}"),
    _query("bucket", "the bucket size (default hour)", enum=list(BUCKETS)),
    *_FILTERS[2:],
]
_BEFORE = [{**_query("before", f"delete the rows before this time: {_TIME}"), "required": True}]


def _ok(model: type[BaseModel], description: str) -> dict[int | str, Any]:
    return {200: {"model": model, "description": description}}


# ---------------------------------------------------------------- query strings


def _time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise InvalidRequest(f"{name}: not a time ({_TIME})", param=name) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > _MAX_ID:
        raise InvalidRequest(f"{name}: not a whole number", param=name)
    return int(raw)


def _text(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > 200 or "\x00" in raw:
        raise InvalidRequest(f"{name}: at most 200 characters, no NUL", param=name)
    return raw


def _status(request: Request) -> tuple[int | None, int | None]:
    raw = (request.query_params.get("status") or "").strip().lower()
    if not raw:
        return None, None
    if len(raw) == 3 and raw.endswith("xx") and raw[0] in "12345":
        return None, int(raw[0])
    if len(raw) == 3 and raw.isascii() and raw.isdigit() and 100 <= int(raw) <= 599:
        return int(raw), None
    raise InvalidRequest("status: a status such as 429, or a class such as 4xx", param="status")


def log_filter(request: Request, *, since: datetime | None = None) -> LogFilter:
    """The filters of the query string (``since`` when the query gives none)."""
    status, status_class = _status(request)
    where = LogFilter(
        since=_time(request, "since") or since,
        until=_time(request, "until"),
        status=status,
        status_class=status_class,
        model=_text(request, "model"),
        key_id=_int(request, "key_id"),
        key_name=_text(request, "key_name"),
        credential_id=_int(request, "credential_id"),
        client_address=_text(request, "client"),
        endpoint=_text(request, "endpoint"),
    )
    if where.since is not None and where.until is not None and where.until < where.since:
        raise InvalidRequest("until: before since", param="until")
    return where


def _limit(request: Request) -> int:
    limit = _int(request, "limit")
    if limit is None:
        return 50
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit: 1 to {MAX_PAGE}", param="limit")
    return limit


# ---------------------------------------------------------------- views


def log_row(entry: RequestLogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": rfc3339(entry.at),
        "request_id": entry.request_id,
        "endpoint": entry.endpoint,
        "model": entry.model_asked or entry.model,
        "model_sent": entry.model,
        "key_id": entry.api_key_id,
        "key_name": entry.api_key_name,
        "credential_id": entry.credential_id,
        "client_address": entry.client_address,
        "status": entry.status,
        "error_type": entry.error_type,
        "error": entry.error,
        "latency_ms": entry.duration_ms,
        "ttft_ms": entry.ttft_ms,
        "input_tokens": entry.input_tokens,
        "output_tokens": entry.output_tokens,
        "streamed": entry.streamed,
    }


# ---------------------------------------------------------------- routes


@router.get(
    "/logs",
    tags=["Logs"],
    openapi_extra={"parameters": [*_FILTERS, *_PAGE]},
    responses={**_ok(LogPage, "A page of requests, newest first."), **admin_errors()},
)
async def list_logs(request: Request) -> Response:
    """The request log, newest first, filtered, a page at a time (cursor pagination)."""
    where = log_filter(request)
    limit = _limit(request)
    cursor = _text(request, "cursor")
    page = await operations_of(request).request_logs(where, cursor=cursor, limit=limit)
    return json_response(
        {"rows": [log_row(entry) for entry in page.rows], "next_cursor": page.next_cursor}
    )


@router.get(
    "/logs/export",
    tags=["Logs"],
    openapi_extra={"parameters": _FILTERS},
    responses={
        200: {"description": "CSV, one row per request", "content": {"text/csv": {}}},
        **admin_errors(),
    },
)
async def export_logs(request: Request) -> Response:
    """The filtered request log as CSV, newest first (the same filters as the listing)."""
    where = log_filter(request)
    rows = operations_of(request).export_request_logs(where)

    async def lines() -> AsyncIterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        count = 0
        async for entry in rows:
            view = log_row(entry)
            writer.writerow(["" if view[name] is None else view[name] for name in CSV_COLUMNS])
            count += 1
            if count % 500 == 0:
                yield out.getvalue().encode()
                out.seek(0)
                out.truncate()
        yield out.getvalue().encode()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="kirogate-logs-{stamp}.csv"'},
    )


@router.get(
    "/logs/{log_id}",
    tags=["Logs"],
    responses={**_ok(LogDetail, "One request, with its bodies when recorded."), **admin_errors()},
)
async def get_log(request: Request, log_id: str) -> Response:
    """One request of the log, with its request and response bodies when recorded."""
    if not log_id.isascii() or not log_id.isdigit() or int(log_id) > _MAX_ID:
        raise InvalidRequest("id: not a request log id", param="id")
    entry = await operations_of(request).request_log_entry(int(log_id))
    return json_response(
        {
            **log_row(entry),
            "request_body": entry.request_body,
            "response_body": entry.response_body,
        }
    )


@router.delete(
    "/logs",
    tags=["Logs"],
    openapi_extra={"parameters": _BEFORE},
    responses={**_ok(Deleted, "How many rows were deleted."), **admin_errors()},
)
async def delete_logs(request: Request) -> Response:
    """Delete the rows older than ``before`` (with their bodies)."""
    before = _time(request, "before")
    if before is None:
        raise InvalidRequest(f"before: required, a time ({_TIME})", param="before")
    deleted = await operations_of(request).delete_request_logs(before)
    return json_response({"deleted": deleted})


@router.get(
    "/stats",
    tags=["Stats"],
    openapi_extra={"parameters": _STATS},
    responses={
        **_ok(Stats, "Figures per bucket, in total, per key, credential, model."),
        **admin_errors(),
    },
)
async def stats(request: Request) -> Response:
    """Requests, errors, tokens, latency and TTFT percentiles per time bucket; totals per
    key, per credential and per model."""
    now = datetime.now(UTC)
    bucket = (request.query_params.get("bucket") or "hour").strip().lower()
    if bucket not in BUCKETS:
        raise InvalidRequest(f"bucket: one of {', '.join(BUCKETS)}", param="bucket")
    where = log_filter(request, since=now - DEFAULT_STATS_WINDOW)
    since = where.since or now - DEFAULT_STATS_WINDOW
    until = where.until or now
    if (until - since).total_seconds() / _BUCKET_SIZE[bucket] > MAX_BUCKETS:
        raise InvalidRequest(
            f"bucket: more than {MAX_BUCKETS} {bucket}s between since and until; "
            "take a larger bucket or a shorter range",
            param="bucket",
        )
    figures = await operations_of(request).request_stats(where, bucket)
    return json_response({"since": rfc3339(since), "until": rfc3339(until), **figures})


@router.get(
    "/live",
    tags=["Logs"],
    responses={
        200: {
            "description": (
                "Server-sent events: `request.finished` and `credential.state`, a heartbeat "
                "comment every 15 s"
            ),
            "content": {"text/event-stream": {}},
        },
        **admin_errors((401, 404)),
    },
)
async def live(request: Request) -> Response:
    """A light event per finished request and per credential state change (no polling)."""
    gateway = gateway_of(request)
    subscription = operations_of(request).live_feed()
    shutdown = gateway.shutdown

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 3000\n: connected\n\n"
            beat = time.monotonic()
            while not shutdown.begun:
                wait = min(_CHECK_EVERY, max(0.0, beat + HEARTBEAT - time.monotonic()))
                try:
                    event = await asyncio.wait_for(subscription.get(), timeout=wait)
                except TimeoutError:
                    if time.monotonic() - beat >= HEARTBEAT:
                        beat = time.monotonic()
                        yield b": heartbeat\n\n"
                    continue
                data = orjson.dumps(event.to_public())
                yield b"event: " + event.kind.encode() + b"\ndata: " + data + b"\n\n"
        finally:
            subscription.close()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
