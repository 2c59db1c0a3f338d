from typing import Any

import pytest

from kirogate.convert.limits import (
    MAX_JSON_DEPTH,
    check_base64,
    check_depth,
    deep_path,
    json_depth_exceeds,
    shown,
)
from kirogate.errors import InvalidRequest


def nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = {"a": [value]} if levels % 2 else {"a": value}
    return value


def test_value_at_the_depth_limit_passes() -> None:
    assert not json_depth_exceeds(nested(MAX_JSON_DEPTH))


def test_value_one_level_past_the_limit_is_caught() -> None:
    assert json_depth_exceeds(nested(MAX_JSON_DEPTH + 1))


def test_arrays_count_as_levels() -> None:
    value: object = []
    for _ in range(5):
        value = [value]
    assert json_depth_exceeds(value, limit=5)
    assert not json_depth_exceeds(value, limit=6)


def test_depth_walk_survives_values_deeper_than_the_stack() -> None:
    assert json_depth_exceeds(nested(100_000))


def test_scalars_have_no_depth() -> None:
    assert not json_depth_exceeds("x" * 10, limit=0)


def test_check_depth_names_the_field() -> None:
    with pytest.raises(InvalidRequest) as info:
        check_depth(nested(300), "tools[0].input_schema")
    assert info.value.param == "tools[0].input_schema"
    assert "128 levels" in str(info.value)


def test_non_ascii_base64_is_invalid_request_naming_the_field() -> None:
    with pytest.raises(InvalidRequest) as info:
        check_base64("iVBORw0KGgoé", "messages[0].content[0].source.data")
    assert info.value.param == "messages[0].content[0].source.data"


def test_valid_base64_passes() -> None:
    check_base64("aGk=", "data")


def test_shown_quotes_scalars_and_names_containers() -> None:
    deep: Any = 1
    for _ in range(2000):  # repr() of this raises RecursionError
        deep = [deep]
    assert [shown(v) for v in ("x", 3, None, True, {"a": 1}, deep)] == [
        "'x'",
        "3",
        "None",
        "True",
        "an object",
        "an array",
    ]


def test_shown_shortens_a_long_value() -> None:
    assert shown("a" * 500) == "'" + "a" * 76 + "..."


def test_deep_path_names_the_field_not_the_steps_inside_its_value() -> None:
    deep: Any = 1
    for _ in range(50):
        deep = [{"k": deep}]
    body = {"model": "m", "messages": [{"role": "user", "content": [{"type": deep}]}]}
    assert deep_path(body, 20) == "messages[0].content[0].type"
    assert deep_path(body, 200) is None
    assert deep_path([[[[1]]]], 2) == ""  # no field: the whole body
    assert deep_path("not a container", 0) is None


def test_deep_path_keeps_at_most_the_steps_asked_for() -> None:
    value = {"a": {"b": {"c": {"d": [1]}}}}
    assert deep_path(value, 3, named=2) == "a.b"
