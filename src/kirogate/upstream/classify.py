"""Map upstream failures onto the error tree, without I/O.

:func:`classify_http_error` turns a non-2xx answer (status, body, headers) into the matching
:class:`~kirogate.errors.UpstreamError`; :func:`classify_stream_exception` does the same for
an exception or error frame that arrived inside a 200 event stream. The pool decides what
to do with each class (refresh, fail over, back off, give up); this module only names it.
:func:`client_error` names the failure a client is told about, before and after the first
byte alike (``api/errors.py`` only renders it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final

import orjson

from kirogate.errors import (
    KirogateError,
    QuotaExhausted,
    UpstreamAuthRejected,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamForbidden,
    UpstreamInputTooLong,
    UpstreamInvalidModel,
    UpstreamStreamException,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnavailable,
)

BODY_LIMIT: Final = 4096  # bytes of the upstream body kept on the error
_SCAN_LIMIT: Final = 65536  # substring checks look at no more than this much of a body
_MAX_RESET_WAIT: Final = 24 * 3600.0

BEARER_INVALID: Final = "The bearer token included in the request is invalid"
_AUTH_MARKERS: Final = (
    BEARER_INVALID,
    "ExpiredTokenException",
    "UnauthorizedException",
    "INVALID_TOKEN",
)
_QUOTA_MARKER: Final = "MONTHLY_REQUEST_COUNT"
_TOO_LONG_MARKERS: Final = ("CONTENT_LENGTH_EXCEEDS_THRESHOLD", "Input is too long")
_INVALID_MODEL_MARKER: Final = "INVALID_MODEL_ID"
_SUSPENDED_MARKERS: Final = ("TEMPORARILY_SUSPENDED", "temporarily is suspended")


@dataclass(frozen=True, slots=True)
class _Body:
    text: str  # the whole body as text, for substring checks
    message: str | None  # the upstream's human message
    reason: str | None  # `reason`, `error.reason`, `__type` or the x-amzn-errortype header
    data: dict[str, Any]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None


def _short_type(value: object) -> str | None:
    # "com.amazon.coral.service#ThrottlingException" / "ThrottlingException:http://..."
    if not isinstance(value, str) or not value:
        return None
    return value.rpartition("#")[2].partition(":")[0] or None


def _parse_body(body: bytes, headers: Mapping[str, str]) -> _Body:
    text = body[:_SCAN_LIMIT].decode("utf-8", "replace")
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    data: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    nested = data.get("error")
    nested = nested if isinstance(nested, dict) else {}

    message = data.get("message") or data.get("Message") or nested.get("message")
    if not isinstance(message, str):
        message = text.strip()[:500] or None

    reason = data.get("reason") or nested.get("reason")
    if not isinstance(reason, str) or not reason:
        reason = _short_type(data.get("__type")) or _short_type(
            _header(headers, "x-amzn-errortype")
        )
    return _Body(text, message, reason, data)


def _retry_after(headers: Mapping[str, str], data: dict[str, Any], now: float) -> float | None:
    raw = _header(headers, "retry-after")
    if raw:
        try:
            return max(float(raw), 0.0)
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(when.timestamp() - now, 0.0)
    # kiro2api's session pool: `quota_reset_timestamp` (epoch seconds) in the error JSON,
    # trusted only if it is in the next 24 hours.
    nested = data.get("error")
    candidates = [data, nested] if isinstance(nested, dict) else [data]
    for holder in candidates:
        for key in ("quota_reset_timestamp", "quotaResetTimestamp"):
            value = holder.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                stamp = float(value) / 1000.0 if value > 1e11 else float(value)
                wait = stamp - now
                if 0 < wait < _MAX_RESET_WAIT:
                    return wait
    return None


def classify_http_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
) -> UpstreamError:
    """The error for a non-2xx upstream answer; it keeps the status, reason and a body prefix."""
    parsed = _parse_body(body, headers)
    text = parsed.text
    detail = parsed.message or "no message"
    kept = body[:BODY_LIMIT].decode("utf-8", "replace")
    fields: dict[str, Any] = {"upstream_status": status, "reason": parsed.reason, "body": kept}

    if status == 402 or _QUOTA_MARKER in text:
        fields["reason"] = _QUOTA_MARKER if _QUOTA_MARKER in text else parsed.reason
        return QuotaExhausted(f"upstream quota exhausted ({status}): {detail}", **fields)
    if status == 400:
        if any(marker in text for marker in _TOO_LONG_MARKERS):
            return UpstreamInputTooLong(
                f"upstream rejected the input as too long: {detail}", **fields
            )
        if _INVALID_MODEL_MARKER in text:
            return UpstreamInvalidModel(f"upstream rejected the model: {detail}", **fields)
        return UpstreamBadRequest(f"upstream rejected the request (400): {detail}", **fields)
    if status == 502 and _INVALID_MODEL_MARKER in text:
        return UpstreamInvalidModel(f"upstream rejected the model: {detail}", **fields)
    if status == 401 or (status == 403 and any(m in text for m in _AUTH_MARKERS)):
        return UpstreamAuthRejected(f"upstream refused the token ({status}): {detail}", **fields)
    if status == 403:
        if any(marker in text for marker in _SUSPENDED_MARKERS):
            fields["reason"] = parsed.reason or "TEMPORARILY_SUSPENDED"
        return UpstreamForbidden(f"upstream denied access (403): {detail}", **fields)
    if status == 429:
        wait = _retry_after(headers, parsed.data, time.time() if now is None else now)
        return UpstreamThrottled(
            f"upstream throttled the request (429): {detail}", retry_after=wait, **fields
        )
    if status == 408:
        return UpstreamTimeout(f"upstream timed out (408): {detail}", **fields)
    if status >= 500:
        return UpstreamUnavailable(f"upstream unavailable ({status}): {detail}", **fields)
    return UpstreamError(f"upstream answered {status}: {detail}", **fields)


def classify_stream_exception(exception_type: str, message: str) -> UpstreamError | None:
    """The error for an exception/error frame; ``None`` for ``ContentLengthExceededException``.

    That one is not a failure: the output hit its limit and the stream ends with
    stop_reason ``max_tokens``, which the stream assembler handles.
    """
    kind = _short_type(exception_type) or exception_type
    text = f"{kind}: {message}"
    fields: dict[str, Any] = {"reason": kind, "body": message[:BODY_LIMIT]}
    if kind == "ContentLengthExceededException":
        return None
    if _QUOTA_MARKER in text:
        return QuotaExhausted(f"upstream quota exhausted: {message}", **fields)
    match kind:
        case "ThrottlingException" | "ServiceQuotaExceededException":
            return UpstreamThrottled(f"upstream throttled the stream: {message}", **fields)
        case "ValidationException" | "ResourceNotFoundException" | "BadRequestException":
            if any(marker in text for marker in _TOO_LONG_MARKERS):
                return UpstreamInputTooLong(
                    f"upstream rejected the input as too long: {message}", **fields
                )
            if _INVALID_MODEL_MARKER in text:
                return UpstreamInvalidModel(f"upstream rejected the model: {message}", **fields)
            return UpstreamBadRequest(f"upstream rejected the request: {message}", **fields)
        case "ExpiredTokenException" | "UnauthorizedException":
            return UpstreamAuthRejected(f"upstream refused the token: {message}", **fields)
        case "AccessDeniedException":
            if BEARER_INVALID in message:
                return UpstreamAuthRejected(f"upstream refused the token: {message}", **fields)
            return UpstreamForbidden(f"upstream denied access: {message}", **fields)
        case (
            "InternalServerException"
            | "ServiceUnavailableException"
            | "ModelStreamErrorException"
            | "DependencyFailedException"
        ):
            return UpstreamUnavailable(f"upstream failed mid-stream: {message}", **fields)
    return UpstreamStreamException(kind, message)


# Words in an unlisted exception frame's type or message that say what kind of failure it is.
_THROTTLED_WORDS: Final = (
    "throttl",
    "rate exceeded",
    "requestrate",
    "request_rate",
    "too many requests",
    "rate limit",
)
_TOO_LONG_WORDS: Final = (
    "content_length_exceeds",
    "input is too long",
    "contentlength",
    "context length",
)
_OVERLOADED_WORDS: Final = ("unavailable", "overload", "capacity", "high load", "internal")
_INVALID_WORDS: Final = ("validation", "badrequest", "invalid", "malformed", "improperly formed")


def client_error(exc: KirogateError) -> KirogateError:
    """The error a client sees for ``exc``; an exception frame is mapped by its kind.

    Used before the first byte (the route's error response) and after it (the relay's
    error event) alike. A Kiro exception frame inside a 200 stream arrives as
    :class:`~kirogate.errors.UpstreamStreamException`, which is ``api_error`` whatever it
    says. The kinds the pre-stream path knows get their own class (throttling ->
    ``rate_limit_error``, unavailable -> ``overloaded_error``, input too long ->
    ``invalid_request_error`` with ``context_length_exceeded``, validation ->
    ``invalid_request_error``); unlisted kinds are matched by the words they use. Token and
    access failures stay ``api_error``: they concern the gateway's credential, not the
    client. Every other error comes back as it is.
    """
    if not isinstance(exc, UpstreamStreamException):
        return exc
    kind = exc.exception_type
    detail = exc.message.removeprefix(f"{kind}: ")
    mapped = classify_stream_exception(kind, detail)
    if mapped is None:  # ContentLengthExceededException: the context has no room left
        return UpstreamInputTooLong(exc.message, reason=kind, body=detail)
    if isinstance(mapped, UpstreamAuthRejected | UpstreamForbidden):
        # The gateway's credential, not the client's key: an auth error would send
        # clients such as Claude Code to their login flow.
        return exc
    if isinstance(mapped, UpstreamStreamException):
        mapped = _by_words(kind, detail)
        if mapped is None:
            return exc
    mapped.message = exc.message  # "<ExceptionType>: <upstream message>", as before
    return mapped


def _by_words(kind: str, detail: str) -> UpstreamError | None:
    text = f"{kind} {detail}".lower()
    cls: type[UpstreamError]
    if any(word in text for word in _THROTTLED_WORDS):
        return UpstreamThrottled(detail, reason=kind, body=detail)
    if any(word in text for word in _TOO_LONG_WORDS):
        cls = UpstreamInputTooLong
    elif any(word in text for word in _OVERLOADED_WORDS):
        cls = UpstreamUnavailable
    elif any(word in text for word in _INVALID_WORDS):
        cls = UpstreamBadRequest
    else:
        return None
    return cls(detail, reason=kind, body=detail)
