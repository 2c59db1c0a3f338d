from __future__ import annotations

from starlette.requests import Request

from kirogate.api.auth import key_matches, presented_key


def request(*headers: tuple[str, str]) -> Request:
    raw = [(name.encode(), value.encode()) for name, value in headers]
    return Request({"type": "http", "headers": raw})


def test_x_api_key_is_read_first() -> None:
    found = presented_key(request(("x-api-key", " k1 "), ("authorization", "Bearer k2")))
    assert found == "k1"


def test_a_bearer_token_is_read_when_there_is_no_x_api_key() -> None:
    assert presented_key(request(("authorization", "bearer k2"))) == "k2"


def test_other_schemes_and_empty_tokens_present_no_key() -> None:
    assert presented_key(request(("authorization", "Basic abc"))) is None
    assert presented_key(request(("authorization", "Bearer   "))) is None
    assert presented_key(request()) is None


def test_a_key_matches_any_accepted_key() -> None:
    assert key_matches("k2", ["k1", "k2"])
    assert not key_matches("k3", ["k1", "k2"])
    assert not key_matches("k1", [])
