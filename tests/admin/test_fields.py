"""Admin request fields: a wrong type or range is a 400 naming the field and what it got."""

from __future__ import annotations

import pytest

from kirogate.admin.fields import bool_field, int_field, parse_credential_id
from kirogate.errors import InvalidRequest, NotFound


def test_a_credential_id_must_be_digits() -> None:
    assert parse_credential_id("42") == 42
    with pytest.raises(InvalidRequest, match="is not a number"):
        parse_credential_id("4x")


def test_a_credential_id_past_what_the_store_holds_is_not_found() -> None:
    assert parse_credential_id(str(2**31 - 1)) == 2**31 - 1
    with pytest.raises(NotFound, match="credential #2147483648 not found"):
        parse_credential_id(str(2**31))


def test_a_boolean_field_names_what_it_got() -> None:
    assert bool_field({"disabled": True}, "disabled") is True
    with pytest.raises(InvalidRequest, match=r"'disabled' must be true or false \(got a string\)"):
        bool_field({"disabled": "yes"}, "disabled")
    with pytest.raises(InvalidRequest, match="it is missing"):
        bool_field({}, "disabled")


def test_an_integer_field_takes_a_whole_float_and_checks_the_range() -> None:
    assert int_field({"priority": 3.0}, "priority", low=0, high=10) == 3
    with pytest.raises(InvalidRequest, match="between 0 and 10, got 11"):
        int_field({"priority": 11}, "priority", low=0, high=10)
    with pytest.raises(InvalidRequest, match="an integer"):
        int_field({"priority": True}, "priority", low=0, high=10)
