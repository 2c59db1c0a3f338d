from __future__ import annotations

from kirogate.errors import ConfigError, KirogateError
from kirogate.store.errors import SchemaTooNew, StoreLockTimeout, StoreUnavailable


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
