"""``serve --workers 2`` on PostgreSQL: workers answer, and no process environment holds a secret."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import urllib.request
from pathlib import Path

from tests.live import API_KEY, REFRESH_TOKEN, live_stack
from tests.store.conftest import pg_database, pg_url

__all__ = ["pg_database"]  # the fixture, used by name below

ADMIN_KEY = "admin-key-for-the-workers-test-0123456789"


def _processes_under(data_dir: Path) -> list[int]:
    """The serve process started with ``data_dir`` and its worker children."""
    servers: set[int] = set()
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            parents[int(entry.name)] = int(
                (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            )
        except (OSError, ValueError, IndexError):
            continue
        if str(data_dir).encode() in cmdline and b"serve" in cmdline:
            servers.add(int(entry.name))
    return sorted(servers | {pid for pid, ppid in parents.items() if ppid in servers})


# Compiled parts of the gateway's stack; the supervisor maps none of them (tests/memory has
# the module-level check). Measured 30 MiB resident against 100 before the split.
GATEWAY_LIBRARIES = ("/sqlalchemy/", "/asyncpg/", "/pydantic_core/", "/cryptography/", "/aiohttp/")
SUPERVISOR_RSS_BOUND_KIB = 48 * 1024


def _assert_lean_supervisor(data_dir: Path) -> None:
    (supervisor,) = [
        pid
        for pid in _processes_under(data_dir)
        if str(data_dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    maps = Path(f"/proc/{supervisor}/maps").read_text()
    assert [lib for lib in GATEWAY_LIBRARIES if lib in maps] == []
    status = Path(f"/proc/{supervisor}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    assert rss < SUPERVISOR_RSS_BOUND_KIB, rss


def _readable(environ: bytes) -> bytes:
    """The environment plus every value that decodes as base64 (a pickle hides in one)."""
    decoded = [environ]
    for entry in environ.split(b"\0"):
        value = entry.partition(b"=")[2]
        with contextlib.suppress(binascii.Error, ValueError):
            decoded.append(base64.b64decode(value, validate=True))
    return b"\n".join(decoded)


def test_workers_answer_and_their_environments_hold_no_secret(
    tmp_path: Path, pg_database: str
) -> None:
    serve_args = ["--workers", "2", "--database-url", pg_url(pg_database)]
    serve_args += ["--admin-key", ADMIN_KEY]
    with live_stack(tmp_path, serve_args=serve_args) as stack:
        body = json.dumps(
            {
                "model": "claude-sonnet-4-5",
                "max_tokens": 32,
                "messages": [{"role": "user", "content": "hi"}],
            }
        ).encode()
        request = urllib.request.Request(
            f"{stack.base_url}/v1/messages",
            data=body,
            headers={"x-api-key": API_KEY, "content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert reply.status == 200
        pids = _processes_under(stack.data_dir)
        assert len(pids) >= 3  # the server and its two workers
        _assert_lean_supervisor(stack.data_dir)
        for pid in pids:
            environ = _readable(Path(f"/proc/{pid}/environ").read_bytes())
            for secret in (API_KEY, ADMIN_KEY, REFRESH_TOKEN):
                assert secret.encode() not in environ, (pid, secret)
        leftovers = [p.name for p in stack.data_dir.iterdir() if p.name.startswith(".worker-")]
        assert leftovers and all(
            os.stat(stack.data_dir / name).st_mode & 0o077 == 0 for name in leftovers
        )
    assert not [p for p in stack.data_dir.iterdir() if p.name.startswith(".worker-")]
