"""Dialect error rendering: Anthropic, OpenAI and the kiro.rs admin envelope (the mapping of
exception frames is tested in upstream/test_classify)."""

from __future__ import annotations

import json

import orjson
import pytest

from kirogate.api.errors import (
    Dialect,
    admin_error_type,
    client_facing,
    dialect_for_path,
    error_body,
    error_response,
)
from kirogate.convert.anthropic_out import error_event
from kirogate.convert.openai_out import error_chunk
from kirogate.convert.responses_out import ResponsesStreamRenderer
from kirogate.errors import (
    STORE_AWAY_MESSAGE,
    AuthenticationFailed,
    InternalError,
    InvalidGrant,
    InvalidRequest,
    KirogateError,
    LockUnavailable,
    MethodNotAllowed,
    NoCredentialAvailable,
    NotFound,
    PermissionDenied,
    QuotaExhausted,
    RateLimited,
    RequestTooLarge,
    StoreLockTimeout,
    StoreUnavailable,
    UpstreamConnectionError,
    UpstreamStreamException,
    UpstreamThrottled,
)
from kirogate.upstream.classify import client_error


def frame(kind: str, message: str = "something happened") -> UpstreamStreamException:
    return UpstreamStreamException(kind, message)


def test_mapped_errors_render_in_every_dialect() -> None:
    mapped = client_error(frame("ThrottlingException", "Rate exceeded"))
    anthropic = orjson.loads(error_event(mapped).split(b"data: ", 1)[1])
    assert anthropic["error"] == {
        "type": "rate_limit_error",
        "message": "ThrottlingException: Rate exceeded",
    }
    openai = orjson.loads(error_chunk(mapped).split(b"\n\n")[0].removeprefix(b"data: "))
    assert openai["error"]["type"] == "rate_limit_error"
    assert openai["error"]["code"] == "rate_limit_exceeded"
    renderer = ResponsesStreamRenderer("m", "resp_1", 0)
    renderer.start()
    failed = orjson.loads(renderer.error(mapped).split(b"data: ", 1)[1])
    assert failed["response"]["error"]["code"] == "rate_limit_exceeded"


# ---------------------------------------------------------------- responses before the stream


def test_a_mid_body_throttle_answers_429_with_retry_after() -> None:
    response = error_response(frame("ThrottlingException", "Rate exceeded"), Dialect.OPENAI)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert orjson.loads(response.body)["error"]["code"] == "rate_limit_exceeded"


def test_an_unavailable_frame_answers_529_overloaded() -> None:
    response = error_response(frame("ServiceUnavailableException"), Dialect.ANTHROPIC)
    assert response.status_code == 529
    assert orjson.loads(response.body)["error"]["type"] == "overloaded_error"


def test_resting_pool_is_a_rate_limit_with_a_hint() -> None:
    exc = client_facing(NoCredentialAvailable("all resting", retry_after=2.5))
    assert isinstance(exc, RateLimited) and exc.retry_after == 2.5
    response = error_response(
        NoCredentialAvailable("all resting", retry_after=2.5), Dialect.ANTHROPIC
    )
    assert (response.status_code, response.headers["retry-after"]) == (429, "3")


def test_pool_without_a_hint_is_overloaded() -> None:
    response = error_response(NoCredentialAvailable("none"), Dialect.ANTHROPIC)
    assert response.status_code == 503 and "retry-after" not in response.headers


def test_openai_body_names_the_param_of_invalid_requests() -> None:
    body = error_body(InvalidRequest("n>1 is not supported", param="n"), Dialect.OPENAI)
    assert body == {
        "error": {
            "message": "n>1 is not supported",
            "type": "invalid_request_error",
            "param": "n",
            "code": None,
        }
    }


def test_anthropic_body() -> None:
    body = error_body(QuotaExhausted("quota"), Dialect.ANTHROPIC)
    assert body == {"type": "error", "error": {"type": "rate_limit_error", "message": "quota"}}


@pytest.mark.parametrize(
    ("path", "dialect"),
    [
        ("/v1/chat/completions", Dialect.OPENAI),
        ("/v1/responses/abc", Dialect.OPENAI),
        ("/v1/messages", Dialect.ANTHROPIC),
        ("/cc/v1/messages", Dialect.ANTHROPIC),
        ("/api/admin/credentials", Dialect.ADMIN),
        ("/api/admin", Dialect.ADMIN),
        ("/api/administrator", Dialect.ANTHROPIC),
    ],
)
def test_dialect_for_path(path: str, dialect: Dialect) -> None:
    assert dialect_for_path(path) is dialect


@pytest.mark.parametrize("dialect", [Dialect.ANTHROPIC, Dialect.OPENAI])
def test_a_database_outage_is_a_plain_503_in_the_dialect(dialect: Dialect) -> None:
    error = StoreUnavailable("database postgresql://kg@db.internal:5432/kgdb: refused")
    response = error_response(error, dialect)
    assert response.status_code == 503
    body = orjson.loads(bytes(response.body))
    if dialect is Dialect.ANTHROPIC:
        assert body["type"] == "error"
        assert body["error"] == {"type": "overloaded_error", "message": STORE_AWAY_MESSAGE}
    else:
        assert body["error"]["type"] == "server_error"
        assert body["error"]["message"] == STORE_AWAY_MESSAGE
    for detail in (b"postgresql", b"kg@", b"db.internal", b"5432", b"kgdb", b"refused"):
        assert detail not in bytes(response.body)


# ---------------------------------------------------------------- the admin dialect (kiro.rs)


def test_each_error_class_maps_to_its_kiro_rs_status_and_type() -> None:
    assert admin_error_type(InvalidGrant("dead")) == (400, "invalid_request")
    assert admin_error_type(AuthenticationFailed("no key")) == (401, "authentication_error")
    assert admin_error_type(NotFound("no such id")) == (404, "not_found")
    assert admin_error_type(InvalidRequest("bad")) == (400, "invalid_request")
    assert admin_error_type(UpstreamConnectionError("down")) == (502, "api_error")
    assert admin_error_type(KirogateError("other")) == (500, "internal_error")


def test_an_admin_4xx_names_its_own_kind_not_always_invalid_request() -> None:
    assert admin_error_type(PermissionDenied("no")) == (403, "permission_error")
    assert admin_error_type(RateLimited("slow", retry_after=3)) == (429, "rate_limit_error")
    assert admin_error_type(MethodNotAllowed("GET")) == (405, "method_not_allowed")
    assert admin_error_type(RequestTooLarge("big")) == (413, "request_too_large")
    # Upstream trouble is the upstream's, whatever status the client dialects give it.
    assert admin_error_type(UpstreamThrottled("slow")) == (502, "api_error")
    assert admin_error_type(NoCredentialAvailable("none")) == (502, "api_error")


def test_the_response_is_the_admin_envelope() -> None:
    response = error_response(NotFound("credential #9 not found"), Dialect.ADMIN)
    assert response.status_code == 404
    body = json.loads(bytes(response.body))
    assert body == {"error": {"type": "not_found", "message": "credential #9 not found"}}


def test_an_admin_rate_limit_says_when_to_come_back() -> None:
    response = error_response(RateLimited("slow down", retry_after=2.5), Dialect.ADMIN)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"


def test_a_store_outage_is_503_with_no_database_detail() -> None:
    outage = StoreUnavailable("database postgresql://kg@db.internal:5432/kg: connection refused")
    assert admin_error_type(outage) == (503, "service_unavailable")
    assert admin_error_type(StoreLockTimeout("credentials", 5)) == (503, "service_unavailable")
    response = error_response(outage, Dialect.ADMIN)
    assert response.status_code == 503
    body = json.loads(bytes(response.body))
    assert body["error"]["type"] == "service_unavailable"
    message = body["error"]["message"]
    assert "database" in message and "try again" in message
    for detail in ("postgresql", "kg@", "db.internal", "5432", "refused"):
        assert detail not in message


@pytest.mark.parametrize("dialect", list(Dialect))
def test_no_dialect_shows_a_store_or_lock_services_detail(dialect: Dialect) -> None:
    for error in (
        StoreUnavailable("database postgresql://kg@db.internal:5432/kg: connection refused"),
        LockUnavailable("Redis lock 'refresh:1': ConnectionError: redis.internal:6379 refused"),
    ):
        response = error_response(error, dialect)
        assert response.status_code == 503
        text = bytes(response.body).decode()
        for detail in ("postgresql", "kg@", "internal", "5432", "6379", "refused", "Error:"):
            assert detail not in text, (dialect, text)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_an_internal_error_tells_no_class_name(dialect: Dialect) -> None:
    response = error_response(InternalError(), dialect)
    assert response.status_code == 500
    assert "log" in bytes(response.body).decode()


def test_a_spent_quota_answers_429_with_the_pool_s_wait() -> None:
    spent = QuotaExhausted("upstream quota exhausted (402)", upstream_status=402)
    spent.retry_after = 3600.0
    response = error_response(spent, Dialect.ANTHROPIC)
    assert (response.status_code, response.headers["retry-after"]) == (429, "3600")
