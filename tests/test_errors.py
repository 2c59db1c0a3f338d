from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import kirogate
import kirogate.errors as errors
from kirogate.errors import (
    ConfigError,
    KirogateError,
    SchemaTooNew,
    StoreLockTimeout,
    StoreUnavailable,
)

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


def test_no_error_class_lives_outside_the_tree() -> None:
    for info in pkgutil.walk_packages(kirogate.__path__, "kirogate."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, KirogateError):
                assert value.__module__ == errors.__name__, (info.name, value.__name__)


# ---------------------------------------------------------------- store (moved from tests/store)


def test_a_schema_too_new_names_both_revisions_and_the_way_out() -> None:
    error = SchemaTooNew("sqlite:///k.db", "0009", "0002")
    assert isinstance(error, ConfigError)
    assert (error.revision, error.head) == ("0009", "0002")
    assert "'0009'" in error.message and "'0002'" in error.message
    assert "KIROGATE_DATABASE_URL" in error.message


def test_an_unavailable_store_is_a_503_overload() -> None:
    error = StoreUnavailable("database down")
    assert isinstance(error, KirogateError)
    assert (error.status, error.anthropic_type, error.openai_type) == (
        503,
        "overloaded_error",
        "server_error",
    )


def test_a_lock_timeout_is_also_a_timeout_error() -> None:
    error = StoreLockTimeout("refresh", 2.5)
    assert isinstance(error, TimeoutError)
    assert error.status == 503
    assert (error.name, error.timeout) == ("refresh", 2.5)
    assert error.message == "lock 'refresh' still held by another holder after 2.5s"
