"""The kiro.rs admin error types: a dead refresh token is the client's 400, upstream trouble 502."""

from __future__ import annotations

import json

from kirogate.admin.errors import admin_error_response, admin_error_type
from kirogate.errors import (
    AuthenticationFailed,
    InvalidGrant,
    InvalidRequest,
    KirogateError,
    NotFound,
    UpstreamConnectionError,
)
from kirogate.store import StoreLockTimeout, StoreUnavailable


def test_each_error_class_maps_to_its_kiro_rs_status_and_type() -> None:
    assert admin_error_type(InvalidGrant("dead")) == (400, "invalid_request")
    assert admin_error_type(AuthenticationFailed("no key")) == (401, "authentication_error")
    assert admin_error_type(NotFound("no such id")) == (404, "not_found")
    assert admin_error_type(InvalidRequest("bad")) == (400, "invalid_request")
    assert admin_error_type(UpstreamConnectionError("down")) == (502, "api_error")
    assert admin_error_type(KirogateError("other")) == (500, "internal_error")


def test_the_response_is_the_admin_envelope() -> None:
    response = admin_error_response(NotFound("credential #9 not found"))
    assert response.status_code == 404
    body = json.loads(bytes(response.body))
    assert body == {"error": {"type": "not_found", "message": "credential #9 not found"}}


def test_a_store_outage_is_503_with_no_database_detail() -> None:
    outage = StoreUnavailable("database postgresql://kg@db.internal:5432/kg: connection refused")
    assert admin_error_type(outage) == (503, "service_unavailable")
    assert admin_error_type(StoreLockTimeout("credentials", 5)) == (503, "service_unavailable")
    response = admin_error_response(outage)
    assert response.status_code == 503
    body = json.loads(bytes(response.body))
    assert body["error"]["type"] == "service_unavailable"
    message = body["error"]["message"]
    assert "database" in message and "try again" in message
    for detail in ("postgresql", "kg@", "db.internal", "5432", "refused"):
        assert detail not in message
