"""Disk full while a refreshed token is written back to its credentials file.

The file lives on a tiny tmpfs filled to the last byte, so the write-back meets a real ENOSPC
(this needs root and ``mount``; without them the gateway runs with ``os.replace`` patched to
raise ENOSPC, and the test prints that it did). The old file stays byte for byte, no temp file is left, the
gateway keeps serving with the new token in memory, and the log says what happened.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import API_KEY, REFRESH_TOKEN, clean_env, free_port, running, wait_ready

pytestmark = pytest.mark.timeout(90)

ADMIN_KEY = "disk-full-admin-key-" + "a" * 24
# Run inside the gateway process when no tmpfs can be mounted: every rename raises ENOSPC.
_PATCH = """
import errno, os, runpy, sys
def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
os.replace = _full
sys.argv = ["kirogate", *sys.argv[1:]]
runpy.run_module("kirogate", run_name="__main__")
"""


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextlib.contextmanager
def full_directory(base: Path) -> Iterator[tuple[Path, bool]]:
    """A directory whose filesystem is full (True), or a plain one (False: patch instead)."""
    where = base / "tiny"
    where.mkdir()
    mounted = False
    if _can_mount():
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(where)],
            capture_output=True,
            check=False,
        )
        mounted = done.returncode == 0
    try:
        yield where, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> None:
    """Write until the filesystem refuses a single byte more."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)


def ask(http: httpx.Client, base: str, text: str) -> str:
    response = http.post(
        base + "/v1/messages",
        json={
            "model": "claude-sonnet-4-6",
            "max_tokens": 32,
            "messages": [{"role": "user", "content": text}],
        },
        headers={"x-api-key": API_KEY},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["content"][0]["text"])


def admin_credentials(base: str) -> list[dict[str, Any]]:
    response = httpx.get(
        base + "/api/admin/credentials", headers={"x-api-key": ADMIN_KEY}, timeout=10
    )
    assert response.status_code == 200
    rows = response.json()["credentials"]
    assert isinstance(rows, list)
    return rows


def test_disk_full_on_write_back_keeps_the_old_file_and_serves(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    emu_port, port = free_port(), free_port()
    emulator, base = f"http://127.0.0.1:{emu_port}", f"http://127.0.0.1:{port}"
    log_path = tmp_path / "gateway.log"
    with (
        full_directory(tmp_path) as (directory, real),
        running(["emulator", "--port", str(emu_port)], f"{emulator}/_emulator/stats", env),
    ):
        creds = directory / "credentials.json"
        creds.write_text(
            json.dumps([{"refreshToken": REFRESH_TOKEN, "authMethod": "social"}], indent=2),
            encoding="utf-8",
        )
        before = creds.read_bytes()
        if real:
            fill(directory)
            probe = os.open(directory / "probe", os.O_WRONLY | os.O_CREAT, 0o600)
            with pytest.raises(OSError) as full:
                os.write(probe, b"\0")
            os.close(probe)
            os.unlink(directory / "probe")
            assert full.value.errno == errno.ENOSPC
            launcher = [sys.executable, "-m", "kirogate"]
        else:
            print("no tmpfs could be mounted: ENOSPC is simulated by patching os.replace")
            launcher = [sys.executable, "-c", _PATCH]
        args = [
            *("serve", "--port", str(port), "--api-key", API_KEY, "--admin-key", ADMIN_KEY),
            *("--credentials", str(creds), "--upstream-url", emulator),
            *("--data-dir", str(tmp_path / "data"), "--log-level", "info"),
            *("--set", "upstream.usage_interval=0"),
        ]
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen([*launcher, *args], env=env, stdout=log_file, stderr=log_file)
            try:
                wait_ready(base + "/health", proc)
                with httpx.Client(timeout=20) as http:
                    # The first request refreshes (the emulator rotates the refresh token).
                    assert ask(http, base, "first") == "Echo: first"
                    with ThreadPoolExecutor(4) as workers:
                        texts = [f"next {n}" for n in range(8)]
                        answers = list(workers.map(lambda t: ask(http, base, t), texts))
                    assert answers == [f"Echo: {text}" for text in texts]
                rows = admin_credentials(base)
                assert [(row["state"], row["disabled"]) for row in rows] == [("ready", False)]
                assert rows[0]["successCount"] == 9
            finally:
                proc.terminate()
                proc.wait(timeout=15)

        # The old file is intact and valid; no temp file is left beside it.
        assert creds.read_bytes() == before
        assert json.loads(before)[0]["refreshToken"] == REFRESH_TOKEN
        assert sorted(p.name for p in directory.iterdir() if p.name != "filler") == [
            "credentials.json"
        ]

    log = log_path.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in log.splitlines() if "could not write back tokens" in line]
    assert len(lines) >= 1, log
    assert "No space left on device" in lines[0]
    assert str(creds) in lines[0]
    assert "Traceback" not in log
    assert REFRESH_TOKEN not in log
