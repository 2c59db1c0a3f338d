"""``kirogate serve`` keeps its pool in the store: restarts lose nothing, requests are logged,
the admin API manages live credentials, and a second server on the same SQLite file is refused."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anthropic
import pytest

from kirogate.store import Store
from tests.live import API_KEY, REFRESH_TOKEN, clean_env, free_port, live_stack

MODEL = "claude-sonnet-4-6"
ADMIN_KEY = "admin-test-key-0123456789"


def ask(base_url: str, text: str) -> str:
    client = anthropic.Anthropic(base_url=base_url, api_key=API_KEY, max_retries=0)
    reply = client.messages.create(
        model=MODEL, max_tokens=20, messages=[{"role": "user", "content": text}]
    )
    block = reply.content[0]
    assert block.type == "text"
    return block.text


def admin(base_url: str, path: str, body: object | None = None) -> dict[str, object]:
    request = urllib.request.Request(
        base_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"x-api-key": ADMIN_KEY, "content-type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result = json.loads(response.read())
    assert isinstance(result, dict)
    return result


async def stored(data_dir: Path) -> tuple[list[int], list[str]]:
    async with await Store.open(database_url=None, data_dir=data_dir) as store:
        await asyncio.sleep(0)
        successes = [state.success_count for state in await store.load_states()]
        endpoints = [entry.endpoint for entry in await store.recent_requests()]
    return successes, endpoints


def wait_for(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_state_and_request_logs_survive_a_restart(tmp_path: Path) -> None:
    args = ["--admin-key", ADMIN_KEY]
    with live_stack(tmp_path, serve_args=args) as stack:
        assert ask(stack.base_url, "one") == "Echo: one"
        assert ask(stack.base_url, "two") == "Echo: two"
        data_dir = stack.data_dir
    successes, endpoints = asyncio.run(stored(data_dir))
    assert successes == [2]
    assert endpoints.count("/v1/messages") == 2
    # Same data dir again: the counters go on from where they were.
    with live_stack(tmp_path, serve_args=args) as stack:
        listing = admin(stack.base_url, "/api/admin/credentials")
        rows = listing["credentials"]
        assert isinstance(rows, list) and len(rows) == 1
        assert rows[0]["successCount"] == 2
        assert ask(stack.base_url, "three") == "Echo: three"
        wait_for(
            lambda: (
                admin(stack.base_url, "/api/admin/credentials")["credentials"][0][  # type: ignore[index]
                    "successCount"
                ]
                == 3
            )
        )


def test_admin_disable_is_persisted_and_respected(tmp_path: Path) -> None:
    second = "aorAAAAAGpersist" + "p" * 120
    creds = [
        {"refreshToken": REFRESH_TOKEN, "authMethod": "social", "priority": 0},
        {"refreshToken": second, "authMethod": "social", "priority": 1},
    ]
    args = ["--admin-key", ADMIN_KEY]
    with live_stack(tmp_path, credentials=creds, serve_args=args) as stack:
        admin(stack.base_url, "/api/admin/credentials/1/disabled", {"disabled": True})
        assert ask(stack.base_url, "hi") == "Echo: hi"
        rows = admin(stack.base_url, "/api/admin/credentials")["credentials"]
        assert isinstance(rows, list)
        by_id = {row["id"]: row for row in rows}
        assert by_id[1]["successCount"] == 0 and by_id[2]["successCount"] == 1
    with live_stack(tmp_path, credentials=creds, serve_args=args) as stack:
        rows = admin(stack.base_url, "/api/admin/credentials")["credentials"]
        assert isinstance(rows, list)
        assert {row["id"]: row["disabled"] for row in rows} == {1: True, 2: False}


def test_second_server_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    with live_stack(tmp_path) as stack:
        env = clean_env(tmp_path / "home")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "kirogate",
                "serve",
                "--port",
                str(free_port()),
                "--api-key",
                API_KEY,
                "--credentials",
                str(stack.credentials_file),
                "--upstream-url",
                stack.emulator_url,
                "--data-dir",
                str(stack.data_dir),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    message = result.stdout + result.stderr
    assert "single-process" in message
    assert "PostgreSQL" in message


@pytest.mark.parametrize("workers", ["2"])
def test_workers_need_postgresql(tmp_path: Path, workers: str) -> None:
    env = clean_env(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kirogate",
            "serve",
            "--port",
            str(free_port()),
            "--workers",
            workers,
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "needs PostgreSQL" in result.stdout + result.stderr
