"""Schema migrations with Alembic, run on open; the scripts ship inside the package.

Concurrent opens are safe: on PostgreSQL the check and the upgrade run in one transaction
holding an advisory lock, on SQLite in one ``BEGIN IMMEDIATE`` transaction (the write lock).
A revision the code does not know raises :class:`SchemaTooNew` before anything is touched.
Alembic is imported on first use: it is slow to import and chatty at INFO while doing so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from kirogate.store.base import WRITE_OPTION
from kirogate.store.errors import SchemaTooNew
from kirogate.store.locks import advisory_key

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATE_LOCK = advisory_key("schema-migration")


def _quiet_alembic() -> None:
    # Alembic narrates every run at INFO (plugin setup, "Context impl"); we log one line.
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:
        alembic_log.setLevel(logging.WARNING)


def alembic_config() -> Config:
    """An Alembic config pointing at the packaged scripts (no alembic.ini)."""
    _quiet_alembic()
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001_initial
        raise RuntimeError(f"no migration scripts in {MIGRATIONS_DIR}")
    return head


def _upgrade_sync(connection: Connection, display_url: str) -> tuple[str, ...] | None:
    config = alembic_config()
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(config)
    head = script.get_current_head() or ""
    current = MigrationContext.configure(connection).get_current_heads()
    for revision in current:
        try:
            known = script.get_revision(revision)
        except CommandError:
            known = None
        if known is None:
            raise SchemaTooNew(display_url, revision, head)
    if current == (head,):
        return None
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return current


async def upgrade(engine: AsyncEngine, display_url: str) -> bool:
    """Bring the schema to head; ``True`` if a migration ran, ``False`` if it was current."""
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            await conn.execution_options(**{WRITE_OPTION: True})
        async with conn.begin():
            if engine.dialect.name == "postgresql":
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK}
                )
            previous = await conn.run_sync(_upgrade_sync, display_url)
    if previous is None:
        return False
    log.info(
        "database schema of %s upgraded from %s to %s",
        display_url,
        ", ".join(previous) or "empty",
        head_revision(),
    )
    return True
