"""Schema migrations with Alembic, run on open; the scripts ship inside the package.

A database already at :data:`HEAD_REVISION` is recognised with one plain ``SELECT`` and
Alembic is not imported at all: it (with Mako and Pygments) costs ~11 MiB that would stay
resident in the serving process. Otherwise the upgrade runs here, or with ``isolated=True``
in a short-lived child process (:func:`main`) whose modules die with it.

Concurrent opens are safe: on PostgreSQL the check and the upgrade run in one transaction
holding an advisory lock, on SQLite in one ``BEGIN IMMEDIATE`` transaction (the write lock).
A revision the code does not know raises :class:`SchemaTooNew` before anything is touched.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from kirogate.errors import ConfigError, SchemaTooNew
from kirogate.store.asyncio_engine import AsyncEngine
from kirogate.store.base import WRITE_OPTION, create_engine, describe_db_error
from kirogate.store.locks import advisory_key
from kirogate.store.urls import parse_database_url

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest script in migrations/versions (its file is named after it); a test checks it
# against Alembic's own answer, and _known_head() refuses the shortcut if they disagree.
HEAD_REVISION: Final = "0010_logs"
_MIGRATE_LOCK = advisory_key("schema-migration")
_VERSION_QUERY = sa.text("SELECT version_num FROM alembic_version")

# What a migration did: the revisions it found and the head it left.
Upgraded = tuple[tuple[str, ...], str]


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
    """The head as Alembic computes it from the scripts (imports Alembic)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001_initial
        raise RuntimeError(f"no migration scripts in {MIGRATIONS_DIR}")
    return head


def _known_head() -> str | None:
    """:data:`HEAD_REVISION` if it names the newest packaged script, else ``None``."""
    try:
        names = [path.stem for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py")]
    except OSError:  # pragma: no cover - the package always ships its scripts
        return None
    return HEAD_REVISION if names and max(names) == HEAD_REVISION else None


async def current_revisions(engine: AsyncEngine) -> tuple[str, ...] | None:
    """The revisions in ``alembic_version``; ``None`` when it cannot be read (no table yet)."""
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(_VERSION_QUERY)).scalars().all()
    except DBAPIError:
        return None
    return tuple(str(row) for row in rows)


def _upgrade_sync(connection: Connection, display_url: str) -> Upgraded | None:
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
    return tuple(current), head


async def _upgrade_here(engine: AsyncEngine, display_url: str) -> Upgraded | None:
    """Alembic in this process, under the migration lock; ``None`` if already at head."""
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            await conn.execution_options(**{WRITE_OPTION: True})
        async with conn.begin():
            if engine.dialect.name == "postgresql":
                await conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK}
                )
            return await conn.run_sync(_upgrade_sync, display_url)


def _run_child(request: bytes) -> subprocess.CompletedProcess[bytes]:
    # The child imports this very kirogate, also when it runs from a source checkout.
    root = str(Path(__file__).resolve().parents[2])
    code = (
        f"import sys; root = {root!r}; root in sys.path or sys.path.insert(0, root); "
        "from kirogate.store.migrate import main; raise SystemExit(main())"
    )
    return subprocess.run(
        [sys.executable, "-c", code], input=request, capture_output=True, check=False
    )


async def _upgrade_isolated(engine: AsyncEngine, display_url: str) -> Upgraded | None:
    """:func:`_upgrade_here` in a child process; in this one if no child can be started."""
    # The URL (with its password) goes through a pipe, never the command line.
    url = engine.url.render_as_string(hide_password=False)
    request = json.dumps({"url": url, "display_url": display_url}).encode()
    if not sys.executable:  # pragma: no cover - an embedded interpreter
        return await _upgrade_here(engine, display_url)
    try:
        done = await asyncio.to_thread(_run_child, request)
    except OSError as exc:
        log.debug("no migration process (%s); migrating in this one", exc)
        return await _upgrade_here(engine, display_url)
    for line in done.stderr.decode("utf-8", "replace").splitlines():
        if line.strip():
            log.warning("schema migration: %s", line)
    try:
        answer: dict[str, Any] = json.loads(done.stdout.decode("utf-8", "replace"))
    except ValueError:
        raise ConfigError(
            f"upgrading the schema of {display_url} failed: the migration process "
            f"exited with status {done.returncode} without an answer"
        ) from None
    if "too_new" in answer:
        raise SchemaTooNew(display_url, str(answer["too_new"]), str(answer["head"]))
    if "error" in answer:
        raise ConfigError(f"upgrading the schema of {display_url} failed: {answer['error']}")
    if answer.get("previous") is None:
        return None
    return tuple(str(item) for item in answer["previous"]), str(answer["head"])


async def upgrade(engine: AsyncEngine, display_url: str, *, isolated: bool = False) -> bool:
    """Bring the schema to head; ``True`` if a migration ran, ``False`` if it was current.

    ``isolated`` runs Alembic in a child process, so its modules never load into this one.
    """
    head = _known_head()
    if head is not None and await current_revisions(engine) == (head,):
        return False
    run = _upgrade_isolated if isolated else _upgrade_here
    done = await run(engine, display_url)
    if done is None:
        return False
    previous, new_head = done
    log.info(
        "database schema of %s upgraded from %s to %s",
        display_url,
        ", ".join(previous) or "empty",
        new_head,
    )
    return True


async def _child(url: str, display_url: str) -> dict[str, Any]:
    try:
        engine = create_engine(parse_database_url(url, Path.cwd()))
    except ConfigError as exc:
        return {"error": str(exc)}
    try:
        done = await _upgrade_here(engine, display_url)
    except SchemaTooNew as exc:
        return {"too_new": exc.revision, "head": exc.head}
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        return {"error": describe_db_error(exc)}
    finally:
        await engine.dispose()
    if done is None:
        return {"previous": None}
    return {"previous": list(done[0]), "head": done[1]}


def main() -> int:
    """The migration process: reads ``{"url", "display_url"}`` on stdin and writes one JSON
    line: ``{"previous": [...], "head"}`` (``previous`` null when nothing ran),
    ``{"too_new", "head"}`` or ``{"error"}``."""
    request = json.loads(sys.stdin.buffer.read())
    answer = asyncio.run(_child(request["url"], request["display_url"]))
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0
