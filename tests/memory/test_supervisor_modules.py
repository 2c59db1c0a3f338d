"""What the ``serve --workers N`` supervisor keeps in memory: uvicorn's supervisor, not a gateway.

The serve command runs in a child process with ``run_workers`` replaced by a recorder of
``sys.modules`` and the resident memory at the moment uvicorn's supervisor would start. The
checks before start-up (store, sources, banner) run in a short-lived child of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.live import clean_env, free_port
from tests.memory.test_serve_modules import loaded
from tests.store.conftest import pg_url

# A full gateway loads all of these (about 100 MiB); the supervisor needs none.
ABSENT = (
    "kirogate.api.app",
    "kirogate.service",
    "kirogate.store",
    "kirogate.upstream",
    "kirogate.pool",
    "kirogate.admin",
    "kirogate.console",
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
    "aiohttp",
    "cryptography",
    "prometheus_client",
)
# Measured 29 MiB (2026-12, Python 3.11): the interpreter, asyncio, the settings and uvicorn.
RSS_BOUND_MIB = 48

SUPERVISE = r"""
import json, sys

import kirogate.serve

out = sys.argv[1]


def record(config):
    rss = next(line for line in open("/proc/self/status") if line.startswith("VmRSS:"))
    with open(out, "w") as f:
        json.dump({"modules": sorted(sys.modules), "rss_kib": int(rss.split()[1]),
                   "app": config.app, "http": config.http}, f)


kirogate.serve.run_workers = record
from kirogate.cli import main

raise SystemExit(main(sys.argv[2:]))
"""


def test_the_workers_supervisor_loads_no_gateway(tmp_path: Path, pg_database: str) -> None:
    out = tmp_path / "supervisor.json"
    home = tmp_path / "home"
    home.mkdir()
    data_dir = tmp_path / "data"
    args = ["serve", "--port", str(free_port()), "--api-key", "k", "--data-dir", str(data_dir)]
    args += ["--workers", "2", "--database-url", pg_url(pg_database), "--log-level", "warning"]
    proc = subprocess.run(
        [sys.executable, "-c", SUPERVISE, str(out), *args],
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is listening on" in proc.stdout  # the banner, printed by the checks' child
    result = json.loads(out.read_text())
    assert [name for name in ABSENT if loaded(result["modules"], name)] == []
    assert result["rss_kib"] < RSS_BOUND_MIB * 1024, result["rss_kib"]
    assert result["app"] == "kirogate.serve:worker_app"
    assert result["http"] == "kirogate.api.http_protocol:BoundedHttpToolsProtocol"
    assert not [p for p in data_dir.iterdir() if p.name.startswith(".worker-")]
