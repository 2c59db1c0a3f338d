"""Dialect error rendering (the mapping of exception frames is tested in upstream/test_classify)."""

from __future__ import annotations

import orjson
import pytest

from kirogate.api.errors import (
    Dialect,
    client_facing,
    dialect_for_path,
    error_body,
    error_response,
)
from kirogate.convert.anthropic_out import error_event
from kirogate.convert.openai_out import error_chunk
from kirogate.convert.responses_out import ResponsesStreamRenderer
from kirogate.errors import (
    InvalidRequest,
    NoCredentialAvailable,
    QuotaExhausted,
    RateLimited,
    UpstreamStreamException,
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
    ],
)
def test_dialect_for_path(path: str, dialect: Dialect) -> None:
    assert dialect_for_path(path) is dialect


def test_a_spent_quota_answers_429_with_the_pool_s_wait() -> None:
    spent = QuotaExhausted("upstream quota exhausted (402)", upstream_status=402)
    spent.retry_after = 3600.0
    response = error_response(spent, Dialect.ANTHROPIC)
    assert (response.status_code, response.headers["retry-after"]) == (429, "3600")
