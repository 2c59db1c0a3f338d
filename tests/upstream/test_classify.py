"""Upstream HTTP errors and stream exceptions map onto the error tree (spec data §7.1, TV9)."""

from __future__ import annotations

import pytest

from kirogate.errors import (
    InvalidRequest,
    KirogateError,
    QuotaExhausted,
    RateLimited,
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
from kirogate.upstream.classify import (
    BODY_LIMIT,
    classify_http_error,
    classify_stream_exception,
    client_error,
)

NOW = 1_767_000_000.0

# (status, body, expected class, expected reason)
HTTP_CASES = [
    # TV9
    (400, b'{"message":"Improperly formed request.","reason":null}', UpstreamBadRequest, None),
    (
        400,
        b'{"message":"Input is too long.","reason":"CONTENT_LENGTH_EXCEEDS_THRESHOLD"}',
        UpstreamInputTooLong,
        "CONTENT_LENGTH_EXCEEDS_THRESHOLD",
    ),
    (
        402,
        b'{"message":"You have reached the limit.","reason":"MONTHLY_REQUEST_COUNT"}',
        QuotaExhausted,
        "MONTHLY_REQUEST_COUNT",
    ),
    (
        403,
        b'{"message":"The bearer token included in the request is invalid."}',
        UpstreamAuthRejected,
        None,
    ),
    (
        429,
        b'{"message":"Rate exceeded","__type":"ThrottlingException"}',
        UpstreamThrottled,
        "ThrottlingException",
    ),
    (
        500,
        b'{"message":"Encountered an unexpected error when processing the request, please try again."}',
        UpstreamUnavailable,
        None,
    ),
    (
        400,
        b'{"message":"Invalid model. Please select a different model to continue.","reason":"INVALID_MODEL_ID"}',
        UpstreamInvalidModel,
        "INVALID_MODEL_ID",
    ),
    # the other rows of spec data §7.1
    (400, b'{"message":"Input is too long."}', UpstreamInputTooLong, None),
    (
        502,
        b'{"message":"Invalid model. Please select a different model to continue.","reason":"INVALID_MODEL_ID"}',
        UpstreamInvalidModel,
        "INVALID_MODEL_ID",
    ),
    (400, b'{"message":"profileArn is required for this request."}', UpstreamBadRequest, None),
    (400, b'{"message":"Invalid profileArn"}', UpstreamBadRequest, None),
    (
        400,
        b'{"message":"Invalid message sequence","reason":"REQUEST_BODY_INVALID"}',
        UpstreamBadRequest,
        "REQUEST_BODY_INVALID",
    ),
    (
        401,
        b'{"__type":"com.amazon.coral.service#UnauthorizedException","message":"Unauthorized"}',
        UpstreamAuthRejected,
        "UnauthorizedException",
    ),
    (
        403,
        b'{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}',
        UpstreamAuthRejected,
        "ExpiredTokenException",
    ),
    (
        403,
        b'{"__type":"AccessDeniedException","message":"The bearer token included in the request is invalid."}',
        UpstreamAuthRejected,
        "AccessDeniedException",
    ),
    (
        403,
        b'{"message":"Your account is temporarily suspended.","reason":"TEMPORARILY_SUSPENDED"}',
        UpstreamForbidden,
        "TEMPORARILY_SUSPENDED",
    ),
    (
        403,
        b'{"message":"Your User ID temporarily is suspended"}',
        UpstreamForbidden,
        "TEMPORARILY_SUSPENDED",
    ),
    (403, b'{"message":"Profile does not belong to this account"}', UpstreamForbidden, None),
    (
        429,
        b'{"message":"Too many requests","reason":"USER_REQUEST_RATE_EXCEEDED"}',
        UpstreamThrottled,
        "USER_REQUEST_RATE_EXCEEDED",
    ),
    (
        429,
        b'{"message":"high traffic","reason":"INSUFFICIENT_MODEL_CAPACITY"}',
        UpstreamThrottled,
        "INSUFFICIENT_MODEL_CAPACITY",
    ),
    (
        429,
        b'{"message":"quota","__type":"ServiceQuotaExceededException"}',
        UpstreamThrottled,
        "ServiceQuotaExceededException",
    ),
    (502, b'{"message":"The service is under high load"}', UpstreamUnavailable, None),
    (503, b"Service Unavailable", UpstreamUnavailable, None),
    (408, b'{"message":"Request timed out"}', UpstreamTimeout, None),
    (404, b'{"message":"Not found"}', UpstreamError, None),
    # MONTHLY_REQUEST_COUNT wins whatever the status, also nested under "error"
    (
        429,
        b'{"error":{"message":"limit","reason":"MONTHLY_REQUEST_COUNT"}}',
        QuotaExhausted,
        "MONTHLY_REQUEST_COUNT",
    ),
    (402, b'{"message":"Payment required"}', QuotaExhausted, None),
]


@pytest.mark.parametrize(("status", "body", "expected", "reason"), HTTP_CASES)
def test_http_error_class(
    status: int, body: bytes, expected: type[UpstreamError], reason: str | None
) -> None:
    error = classify_http_error(status, body, {}, now=NOW)
    assert type(error) is expected
    assert error.upstream_status == status
    assert error.reason == reason
    assert error.body == body.decode()


def test_bad_request_message_carries_the_upstream_message() -> None:
    error = classify_http_error(
        400, b'{"message":"Improperly formed request.","reason":null}', {}, now=NOW
    )
    assert "Improperly formed request." in error.message


def test_non_json_body_becomes_the_message() -> None:
    error = classify_http_error(500, b"<html>Bad Gateway</html>", {}, now=NOW)
    assert "<html>Bad Gateway</html>" in error.message


def test_error_type_from_amzn_header() -> None:
    headers = {"X-Amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/"}
    error = classify_http_error(429, b'{"message":"Rate exceeded"}', headers, now=NOW)
    assert error.reason == "ThrottlingException"


def test_body_kept_is_truncated() -> None:
    body = b'{"message":"' + b"x" * 20_000 + b'"}'
    error = classify_http_error(400, body, {}, now=NOW)
    assert error.body is not None
    assert len(error.body) == BODY_LIMIT


def test_retry_after_seconds_header() -> None:
    error = classify_http_error(429, b"{}", {"Retry-After": "7"}, now=NOW)
    assert isinstance(error, UpstreamThrottled)
    assert error.retry_after == 7.0


def test_retry_after_header_is_case_insensitive_and_accepts_http_dates() -> None:
    headers = {"retry-after": "Mon, 28 Dec 2025 09:20:30 GMT"}
    error = classify_http_error(429, b"{}", headers, now=1_766_913_600.0)  # 09:20:00 GMT
    assert isinstance(error, UpstreamThrottled)
    assert error.retry_after == 30.0


def test_retry_after_from_quota_reset_timestamp() -> None:
    body = b'{"message":"Rate exceeded","quota_reset_timestamp":%d}' % int(NOW + 120)
    error = classify_http_error(429, body, {}, now=NOW)
    assert isinstance(error, UpstreamThrottled)
    assert error.retry_after == 120.0


def test_quota_reset_timestamp_beyond_a_day_is_ignored() -> None:
    body = b'{"quota_reset_timestamp":%d}' % int(NOW + 3 * 86400)
    error = classify_http_error(429, body, {}, now=NOW)
    assert isinstance(error, UpstreamThrottled)
    assert error.retry_after is None


def test_throttled_without_hint_has_no_retry_after() -> None:
    error = classify_http_error(429, b'{"message":"Rate exceeded"}', {}, now=NOW)
    assert isinstance(error, UpstreamThrottled)
    assert error.retry_after is None


# ---------------------------------------------------------------- stream exceptions

STREAM_CASES = [
    ("ThrottlingException", "Rate exceeded", UpstreamThrottled),
    ("ServiceQuotaExceededException", "Too many", UpstreamThrottled),
    ("ServiceQuotaExceededException", "MONTHLY_REQUEST_COUNT reached", QuotaExhausted),
    ("ValidationException", "Improperly formed request.", UpstreamBadRequest),
    ("ValidationException", "Input is too long.", UpstreamInputTooLong),
    ("ValidationException", "INVALID_MODEL_ID", UpstreamInvalidModel),
    ("InternalServerException", "Encountered an unexpected error", UpstreamUnavailable),
    (
        "AccessDeniedException",
        "The bearer token included in the request is invalid.",
        UpstreamAuthRejected,
    ),
    ("AccessDeniedException", "Not allowed", UpstreamForbidden),
    ("ExpiredTokenException", "expired", UpstreamAuthRejected),
    ("SomethingNewException", "surprise", UpstreamStreamException),
]


@pytest.mark.parametrize(("exception_type", "message", "expected"), STREAM_CASES)
def test_stream_exception_class(
    exception_type: str, message: str, expected: type[UpstreamError]
) -> None:
    error = classify_stream_exception(exception_type, message)
    assert type(error) is expected
    assert error is not None
    assert error.reason == exception_type
    assert message in error.message


def test_content_length_exceeded_is_not_an_error() -> None:
    assert classify_stream_exception("ContentLengthExceededException", "limit") is None


def test_stream_exception_type_with_namespace_is_shortened() -> None:
    error = classify_stream_exception("com.amazon.aws#ThrottlingException", "Rate exceeded")
    assert isinstance(error, UpstreamThrottled)
    assert error.reason == "ThrottlingException"


# ---------------------------------------------------------------- what the client is told


def frame(kind: str, message: str = "something happened") -> UpstreamStreamException:
    return UpstreamStreamException(kind, message)


@pytest.mark.parametrize(
    ("kind", "message", "anthropic", "openai_type", "openai_code"),
    [
        (
            "ThrottlingException",
            "Rate exceeded",
            "rate_limit_error",
            "rate_limit_error",
            "rate_limit_exceeded",
        ),
        (
            "ServiceQuotaExceededException",
            "x",
            "rate_limit_error",
            "rate_limit_error",
            "rate_limit_exceeded",
        ),
        ("ServiceUnavailableException", "x", "overloaded_error", "server_error", None),
        ("InternalServerException", "x", "overloaded_error", "server_error", None),
        ("ModelStreamErrorException", "x", "overloaded_error", "server_error", None),
        (
            "ValidationException",
            "Input is too long.",
            "invalid_request_error",
            "invalid_request_error",
            "context_length_exceeded",
        ),
        (
            "ContentLengthExceededException",
            "too much",
            "invalid_request_error",
            "invalid_request_error",
            "context_length_exceeded",
        ),
        (
            "ValidationException",
            "Improperly formed request.",
            "invalid_request_error",
            "invalid_request_error",
            None,
        ),
        (
            "ValidationException",
            "INVALID_MODEL_ID",
            "invalid_request_error",
            "invalid_request_error",
            "model_not_found",
        ),
        (
            "SomethingException",
            "MONTHLY_REQUEST_COUNT",
            "rate_limit_error",
            "insufficient_quota",
            "insufficient_quota",
        ),
    ],
)
def test_exception_frames_map_like_the_pre_stream_path(
    kind: str, message: str, anthropic: str, openai_type: str, openai_code: str | None
) -> None:
    mapped = client_error(frame(kind, message))
    assert (mapped.anthropic_type, mapped.openai_type, mapped.openai_code) == (
        anthropic,
        openai_type,
        openai_code,
    )
    assert mapped.message == f"{kind}: {message}"


@pytest.mark.parametrize(
    ("kind", "message", "anthropic"),
    [
        ("UserRequestRateException", "slow down", "rate_limit_error"),
        ("SomeNewException", "Too many requests", "rate_limit_error"),
        ("CapacityException", "no room", "overloaded_error"),
        ("NewException", "the service is overloaded", "overloaded_error"),
        ("InternalFailure", "oops", "overloaded_error"),
        ("NewException", "context length exceeded", "invalid_request_error"),
        ("InvalidInputException", "bad", "invalid_request_error"),
        ("SomethingNewException", "surprise", "api_error"),
    ],
)
def test_unlisted_exception_frames_map_by_their_words(
    kind: str, message: str, anthropic: str
) -> None:
    assert client_error(frame(kind, message)).anthropic_type == anthropic


def test_unlisted_frames_keep_their_own_error() -> None:
    exc = frame("SomethingNewException", "surprise")
    assert client_error(exc) is exc


@pytest.mark.parametrize("kind", ["ExpiredTokenException", "AccessDeniedException"])
def test_credential_failures_mid_stream_are_not_the_clients_auth_error(kind: str) -> None:
    exc = frame(kind, "The bearer token included in the request is invalid.")
    assert client_error(exc) is exc
    assert exc.anthropic_type == "api_error"


def test_other_errors_pass_through() -> None:
    for exc in (InvalidRequest("bad"), RateLimited("slow"), KirogateError("x")):
        assert client_error(exc) is exc
