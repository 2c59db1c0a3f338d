"""Webhook fields are checked before anything is stored, each refusal naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from kirogate.errors import InvalidRequest, NotFound
from kirogate.service.webhooks import (
    AlertOperations,
    check_enabled,
    check_events,
    check_format,
    check_name,
    check_url,
)


@pytest.mark.parametrize(
    ("check", "value", "param"),
    [
        (check_url, "ftp://x/y", "url"),
        (check_url, "http://", "url"),
        (check_url, "not a url", "url"),
        (check_url, 5, "url"),
        (check_url, "http://x:99999/", "url"),
        (check_name, "", "name"),
        (check_name, "a\x00b", "name"),
        (check_format, "teams", "format"),
        (check_events, "key_limit", "events"),
        (check_events, ["key_limit", "nope"], "events"),
        (check_enabled, "yes", "enabled"),
    ],
)
def test_a_bad_field_is_refused_naming_it(check: Any, value: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check(value)
    assert caught.value.param == param


def test_good_fields_pass_cleaned() -> None:
    assert check_url(" https://hooks.example/a ") == "https://hooks.example/a"
    assert check_name(" ops ") == "ops"
    assert check_events(["key_limit", "key_limit"]) == ["key_limit"]


async def test_without_a_store_webhooks_are_not_found() -> None:
    class Door(AlertOperations):
        def __init__(self) -> None:
            self._store = lambda: None

    with pytest.raises(NotFound):
        await Door().webhooks()
