from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from kirogate.errors import InvalidRequest
from kirogate.store import values

TABLE = sa.Table("t", sa.MetaData(), sa.Column("label", sa.String(5)), sa.Column("note", sa.Text))


def refused(check: Callable[..., Any], *args: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        check(*args)
    return caught.value


def test_a_refused_value_names_the_field() -> None:
    error = refused(values.non_negative_int, -1, "priority")
    assert error.param == "priority"
    assert error.message == "priority: must be a non-negative integer, got -1"


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (values.non_negative_int, 0, [True, -1, 1.0]),
        (values.integer, -3, [False, "1"]),
        (values.optional_id, None, [0, True, "1"]),
        (values.positive_float, 2, [0, math.inf, True, "1"]),
        (values.non_negative_float, 0, [-0.5, math.nan, False, None]),
        (values.optional_float, None, [math.inf, True, "x"]),
        (values.optional_text, None, [1]),
        (values.optional_aware_datetime, None, [datetime(2026, 1, 1), "2026"]),
        (values.optional_json, {"a": [1]}, [math.nan, object()]),
        (values.optional_json_object, None, [[1], {"a": math.nan}]),
    ],
)
def test_each_check_keeps_good_values_and_refuses_bad_ones(
    check: Callable[[Any, str], Any], good: Any, bad: list[Any]
) -> None:
    assert check(good, "f") == good
    for value in bad:
        assert refused(check, value, "f").param == "f"


def test_numbers_come_back_as_floats() -> None:
    assert values.positive_float(2, "f") == 2.0
    assert isinstance(values.non_negative_float(0, "f"), float)
    assert isinstance(values.optional_float(1, "f"), float)
    assert values.optional_id(4, "f") == 4


def test_text_must_fit_its_column() -> None:
    assert values.text_for(TABLE, "label", "abcde") == "abcde"
    assert values.text_for(TABLE, "note", "x" * 1000) == "x" * 1000
    assert values.text_for(TABLE, "label", None) is None
    assert refused(values.text_for, TABLE, "label", "abcdef").message == (
        "label: longer than 5 characters"
    )


def test_required_text_is_stripped_and_bounded() -> None:
    assert values.required_text("  name ", "f", 4) == "name"
    assert "non-empty" in refused(values.required_text, "   ", "f", 4).message
    assert "longer than 4" in refused(values.required_text, "names", "f", 4).message


def test_a_datetime_must_be_timezone_aware() -> None:
    aware = datetime(2026, 1, 1, tzinfo=UTC)
    assert values.aware_datetime(aware, "f") is aware
    assert "timezone-aware" in refused(values.aware_datetime, datetime(2026, 1, 1), "f").message


def test_a_choice_must_be_one_of_the_options() -> None:
    assert values.choice("a", "f", ("a", "b")) == "a"
    assert refused(values.choice, "c", "f", ("a", "b")).message == "f: must be one of a, b, got 'c'"


def test_a_proxy_is_direct_or_a_url_with_a_known_scheme() -> None:
    assert values.proxy_url_or_direct(" DIRECT ", "proxy") == "direct"
    assert values.proxy_url_or_direct("socks5h://h:1080", "proxy") == "socks5h://h:1080"
    assert "proxy URL" in refused(values.proxy_url_or_direct, "", "proxy").message


def test_a_refused_proxy_url_does_not_echo_its_credentials() -> None:
    error = refused(values.proxy_url_or_direct, "ftp://user:secret@host:21", "proxy")
    assert "secret" not in error.message
    assert "'host:21'" in error.message
