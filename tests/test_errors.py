from __future__ import annotations

import inspect
import re

import kirogate.errors as errors
from kirogate.errors import KirogateError

CLASSES = [
    cls
    for cls in vars(errors).values()
    if inspect.isclass(cls) and issubclass(cls, KirogateError) and cls.__module__ == errors.__name__
]


def drawn_tree() -> dict[str, int]:
    """Each class name drawn in the module docstring, with its depth in the tree."""
    doc = errors.__doc__ or ""
    drawn = {}
    for line in doc.splitlines():
        match = re.match(r"^    ((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+)\s", line + " ")
        if match and (match.group(2) == "KirogateError" or "── " in line):
            drawn[match.group(2)] = len(match.group(1)) // 4 + ("── " in line)
    return drawn


def test_every_error_class_is_drawn_in_the_tree() -> None:
    assert {cls.__name__ for cls in CLASSES} <= set(drawn_tree())


def test_the_tree_draws_each_class_under_its_parent() -> None:
    for cls in CLASSES:
        depth = drawn_tree()[cls.__name__]
        assert depth == len([base for base in cls.__mro__ if base in CLASSES]) - 1, cls


def test_every_error_knows_its_status_and_wire_types() -> None:
    for cls in CLASSES:
        assert 400 <= cls.status <= 599, cls
        assert cls.anthropic_type and cls.openai_type, cls


def test_an_error_prints_its_message() -> None:
    error = errors.InvalidRequest("messages: at least one is required", param="messages")
    assert str(error) == error.message == "messages: at least one is required"
    assert error.param == "messages"


def test_rate_limited_carries_its_retry_after() -> None:
    assert errors.RateLimited("slow down", retry_after=2.0).retry_after == 2.0


def test_an_unavailable_store_shows_a_plain_message_and_logs_its_detail() -> None:
    error = errors.StoreUnavailable("database postgresql://kg@db.internal:5432/kg: refused")
    assert error.message == errors.STORE_AWAY_MESSAGE
    assert "db.internal" not in error.message
    assert str(error).endswith("(database postgresql://kg@db.internal:5432/kg: refused)")
    assert error.detail.startswith("database postgresql://")
