"""What ``kirogate serve`` keeps in memory: heavy optional packages stay out unless configured.

The serve command runs in a child process with ``uvicorn.run`` replaced by a driver of the
app's lifespan, which records ``sys.modules`` once start-up is complete.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.live import clean_env, free_port

# Never loaded by a serving process on SQLite without Redis, telemetry, images or SOCKS.
ABSENT = (
    "alembic",  # the schema is migrated in a child process, or found at head
    "mako",
    "pygments",
    "redis",  # only with --redis-url
    "PIL",  # only when a request carries an image
    "sqlalchemy.orm",  # the store uses Core; see kirogate.store.asyncio_engine
    "sqlalchemy.dialects.postgresql",  # only with a PostgreSQL URL
    "opentelemetry.sdk",  # only when telemetry is configured
    "kirogate.cli.accounts",  # other commands' code
    "kirogate.cli.account_checks",
    "kirogate.cli.login",
    "kirogate.cli.smoke",
    "kirogate.cli.config",
    "kirogate.doctor",
    "rich",
    "aiohttp_socks",  # only for a SOCKS proxy route
)

SERVE = r"""
import asyncio, gc, json, sys

import uvicorn

out = sys.argv[1]


def fake_run(app, **options):
    async def lifespan():
        queue = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

        async def receive():
            return queue.pop(0)

        async def send(message):
            if message["type"] == "lifespan.startup.failed":
                raise SystemExit(message.get("message"))
            if message["type"] == "lifespan.startup.complete":
                with open(out, "w") as f:
                    json.dump({"modules": sorted(sys.modules), "frozen": gc.get_freeze_count()}, f)

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

    asyncio.run(lifespan())


uvicorn.run = fake_run
from kirogate.cli import main

raise SystemExit(main(sys.argv[2:]))
"""


def serve_once(tmp_path: Path, data_dir: Path) -> dict[str, object]:
    out = tmp_path / "modules.json"
    out.unlink(missing_ok=True)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    args = ["serve", "--port", str(free_port()), "--api-key", "k", "--data-dir", str(data_dir)]
    proc = subprocess.run(
        [sys.executable, "-c", SERVE, str(out), *args, "--log-level", "warning"],
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, object] = json.loads(out.read_text())
    return result


def loaded(modules: object, prefix: str) -> bool:
    assert isinstance(modules, list)
    return any(name == prefix or name.startswith(prefix + ".") for name in modules)


def test_serve_leaves_optional_packages_out_on_a_new_and_an_existing_database(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    for _run in ("creates and migrates the database", "finds it at head"):
        result = serve_once(tmp_path, data_dir)
        modules = result["modules"]
        assert loaded(modules, "kirogate.store")
        assert loaded(modules, "kirogate.api.app")
        assert [name for name in ABSENT if loaded(modules, name)] == []
        assert isinstance(result["frozen"], int)
        assert result["frozen"] > 0  # gc.freeze() ran before the server started
    with sqlite3.connect(data_dir / "kirogate.db") as db:
        (version,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    from kirogate.store.migrate import HEAD_REVISION

    assert version == HEAD_REVISION
