"""The documented admin bodies require what the routes' readers require."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from kirogate.admin.fields import bool_field, int_field, parse_credential_id
from kirogate.admin.schemas import (
    AddCredentialBody,
    AdminError,
    CredentialId,
    DisabledBody,
    LoadBalancingBody,
    PriorityBody,
    admin_errors,
)
from kirogate.api.errors import Dialect, error_response
from kirogate.api.schemas import body_schema
from kirogate.errors import (
    AuthenticationFailed,
    CredentialSourceError,
    InvalidRequest,
    NotFound,
    RateLimited,
)
from kirogate.service.operations import PoolMode
from kirogate.upstream.auth.sources import credential_from_object
from kirogate.upstream.credentials import MAX_PRIORITY, CredentialOrigin

REFRESH = "aorAAAA-" + "r" * 120


def documented(model: type[BaseModel], body: object) -> bool:
    schema = body_schema(model)
    document = {**schema, "components": {"schemas": schema.pop("$defs", {})}}
    return Draft202012Validator(document).is_valid(body)


def credential_accepted(body: dict[str, Any]) -> bool:
    try:
        credential_from_object(body, source="credential", origin=CredentialOrigin("admin"))
    except CredentialSourceError:
        return False
    return True


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ({"refreshToken": REFRESH}, True),
        ({"kiroApiKey": "ksk_abcdef"}, True),
        ({"refreshToken": REFRESH, "priority": 3, "someIdeField": [1]}, True),
        ({}, False),
        ({"email": "a@b.c"}, False),
        ({"refreshToken": "   "}, False),
        ({"refreshToken": REFRESH, "priority": -1}, False),
        ({"refreshToken": REFRESH, "disabled": "yes"}, False),
        ({"refreshToken": REFRESH, "endpoint": "cli"}, False),
    ],
)
def test_a_credential_body_is_documented_as_the_reader_takes_it(
    body: dict[str, Any], accepted: bool
) -> None:
    assert credential_accepted(body) is accepted
    assert documented(AddCredentialBody, body) is accepted


def test_disabled_must_be_a_boolean_in_both() -> None:
    for body, accepted in (({"disabled": True}, True), ({"disabled": "yes"}, False), ({}, False)):
        assert documented(DisabledBody, body) is accepted
        try:
            bool_field(body, "disabled")
        except InvalidRequest:
            assert not accepted
        else:
            assert accepted


def test_priority_has_the_readers_range() -> None:
    for value, accepted in (
        (0, True),
        (MAX_PRIORITY, True),
        (-1, False),
        (MAX_PRIORITY + 1, False),
    ):
        body = {"priority": value}
        assert documented(PriorityBody, body) is accepted
        try:
            int_field(body, "priority", low=0, high=MAX_PRIORITY)
        except InvalidRequest:
            assert not accepted
        else:
            assert accepted


def test_the_load_balancing_modes_are_the_pools() -> None:
    schema = body_schema(LoadBalancingBody)
    assert schema["required"] == ["mode"]
    modes = {mode.value for mode in PoolMode}
    assert all(documented(LoadBalancingBody, {"mode": mode}) for mode in modes)
    assert not documented(LoadBalancingBody, {"mode": "fastest"})


def test_the_credential_id_pattern_is_what_the_route_parses() -> None:
    metadata = CredentialId.__metadata__[0]
    pattern = re.compile(metadata.json_schema_extra["pattern"])
    for raw in ("1", "42", "0007", "1" * 19):
        assert pattern.fullmatch(raw)
        if int(raw) < 2**31:
            assert parse_credential_id(raw) == int(raw)
    for raw in ("", "x", "-1", "1.0", "1" * 20):
        assert not pattern.fullmatch(raw)
        with pytest.raises(InvalidRequest):
            parse_credential_id(raw)


def test_the_admin_envelope_describes_what_the_routes_answer() -> None:
    errors = (InvalidRequest("bad"), AuthenticationFailed("no"), NotFound("gone"))
    for exc in (*errors, RateLimited("slow down")):
        AdminError.model_validate_json(error_response(exc, Dialect.ADMIN).body)


def test_admin_errors_document_the_statuses_asked_for() -> None:
    responses = admin_errors((400, 404))
    assert set(responses) == {400, 404}
    assert responses[404]["model"] is AdminError
