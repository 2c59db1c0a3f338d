"""Alembic environment: runs only through :func:`kirogate.store.migrate.upgrade`.

That function hands over an open connection in ``config.attributes["connection"]``; there is
no alembic.ini and no URL here.
"""

from __future__ import annotations

from alembic import context

from kirogate.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "kirogate migrations run on start (kirogate serve) or through "
        "kirogate.store.migrate.upgrade(); there is no alembic.ini"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
