"""Render kirogate errors in the client's own dialect.

Anthropic: ``{"type":"error","error":{"type":T,"message":M}}``.
OpenAI:    ``{"error":{"message":M,"type":T,"param":P,"code":C}}``.
The status code comes from the error class; 429s carry ``retry-after``. Why a request got
a 4xx/5xx is logged once, by the access log (:mod:`kirogate.api.middleware`).
"""

from __future__ import annotations

import logging
import math
from enum import StrEnum
from typing import Any

from starlette.responses import Response

from kirogate.api.responses import json_response
from kirogate.errors import (
    InvalidRequest,
    KirogateError,
    NoCredentialAvailable,
    RateLimited,
    UpstreamAuthRejected,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamForbidden,
    UpstreamInputTooLong,
    UpstreamStreamException,
    UpstreamThrottled,
    UpstreamUnavailable,
)
from kirogate.upstream.classify import classify_stream_exception

log = logging.getLogger(__name__)


class Dialect(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"


def retry_after_of(exc: KirogateError) -> float | None:
    if isinstance(exc, RateLimited | UpstreamThrottled | NoCredentialAvailable):
        return exc.retry_after
    return None


def anthropic_error_body(exc: KirogateError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": exc.anthropic_type, "message": exc.message}}


def openai_error_body(exc: KirogateError) -> dict[str, Any]:
    param = exc.param if isinstance(exc, InvalidRequest) else None
    return {
        "error": {
            "message": exc.message,
            "type": exc.openai_type,
            "param": param,
            "code": exc.openai_code,
        }
    }


def error_body(exc: KirogateError, dialect: Dialect) -> dict[str, Any]:
    if dialect is Dialect.OPENAI:
        return openai_error_body(exc)
    return anthropic_error_body(exc)


def client_facing(exc: KirogateError) -> KirogateError:
    """Every credential resting after rate limits is a rate limit for the client, with a hint;
    an upstream exception frame is named by its kind (see :func:`stream_error`)."""
    if isinstance(exc, NoCredentialAvailable) and exc.retry_after is not None:
        return RateLimited(exc.message, retry_after=exc.retry_after)
    return stream_error(exc)


# Words in an unlisted exception frame's type or message that say what kind of failure it is.
_THROTTLED = (
    "throttl",
    "rate exceeded",
    "requestrate",
    "request_rate",
    "too many requests",
    "rate limit",
)
_TOO_LONG = ("content_length_exceeds", "input is too long", "contentlength", "context length")
_OVERLOADED = ("unavailable", "overload", "capacity", "high load", "internal")
_INVALID = ("validation", "badrequest", "invalid", "malformed", "improperly formed")


def stream_error(exc: KirogateError) -> KirogateError:
    """The error a client sees for ``exc``; an exception frame is mapped by its kind.

    A Kiro exception frame inside a 200 stream arrives as
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
    if any(word in text for word in _THROTTLED):
        return UpstreamThrottled(detail, reason=kind, body=detail)
    if any(word in text for word in _TOO_LONG):
        cls = UpstreamInputTooLong
    elif any(word in text for word in _OVERLOADED):
        cls = UpstreamUnavailable
    elif any(word in text for word in _INVALID):
        cls = UpstreamBadRequest
    else:
        return None
    return cls(detail, reason=kind, body=detail)


def error_response(exc: KirogateError, dialect: Dialect) -> Response:
    exc = client_facing(exc)
    headers: dict[str, str] = {}
    retry_after = retry_after_of(exc)
    if exc.status == 429 or retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(retry_after or 1)))
    return json_response(error_body(exc, dialect), status=exc.status, headers=headers)


def dialect_for_path(path: str) -> Dialect:
    """OpenAI routes live under /v1/chat, /v1/responses, /v1/completions; the rest is Anthropic."""
    if path.startswith(("/v1/chat/", "/v1/responses", "/v1/completions", "/v1/embeddings")):
        return Dialect.OPENAI
    return Dialect.ANTHROPIC
