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
