"""The store fixtures (SQLite and the machine's PostgreSQL), shared with ``tests/store``."""

from tests.store.conftest import (  # noqa: F401 - fixtures
    backend,
    data_dir,
    database_url,
    open_store,
    pg_database,
    pg_database_url,
    store,
)
