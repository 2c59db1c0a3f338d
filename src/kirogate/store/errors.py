"""Errors the store raises, placed in the tree of :mod:`kirogate.errors`.

ConfigError
└── SchemaTooNew        the database was migrated by a newer kirogate
KirogateError
├── StoreUnavailable    503: the database stopped answering at runtime (in kirogate.errors)
└── StoreLockTimeout    also a TimeoutError: ``Store.exclusive`` waited too long
"""

from __future__ import annotations

from kirogate.errors import ConfigError, KirogateError, StoreUnavailable

__all__ = ["SchemaTooNew", "StoreLockTimeout", "StoreUnavailable"]


class SchemaTooNew(ConfigError):
    """The database carries a schema revision this kirogate does not know."""

    def __init__(self, display_url: str, revision: str, head: str) -> None:
        super().__init__(
            f"the database {display_url} has schema revision {revision!r}, which this kirogate "
            f"does not know (its newest is {head!r}): a newer kirogate has migrated it. "
            "Upgrade kirogate to the version that wrote it, or point --database-url / "
            "KIROGATE_DATABASE_URL at another database"
        )
        self.revision = revision
        self.head = head


class StoreLockTimeout(KirogateError, TimeoutError):
    """``Store.exclusive(name)`` could not take the lock within its timeout."""

    status = 503
    anthropic_type = "overloaded_error"
    openai_type = "server_error"

    def __init__(self, name: str, timeout: float) -> None:
        super().__init__(f"lock {name!r} still held by another holder after {timeout:g}s")
        self.name = name
        self.timeout = timeout
