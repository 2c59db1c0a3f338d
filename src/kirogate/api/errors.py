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

from kirogate.api.json_reply import json_response
from kirogate.errors import (
    InvalidRequest,
    KirogateError,
    NoCredentialAvailable,
    QuotaExhausted,
    RateLimited,
    UpstreamThrottled,
)
from kirogate.upstream.classify import client_error

log = logging.getLogger(__name__)


class Dialect(StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"


def retry_after_of(exc: KirogateError) -> float | None:
    if isinstance(exc, RateLimited | UpstreamThrottled | QuotaExhausted | NoCredentialAvailable):
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
    an upstream exception frame is named by its kind (classified in
    :func:`kirogate.upstream.classify.client_error`, as after the first byte)."""
    if isinstance(exc, NoCredentialAvailable) and exc.retry_after is not None:
        return RateLimited(exc.message, retry_after=exc.retry_after)
    return client_error(exc)


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
