"""SIGTERM during streams: a real ``kirogate serve`` against the emulator, on all three client APIs.

The grace period (``--shutdown-grace``) lets answers that finish in time end normally; the
ones still open then end with their dialect's error event and end marker, a non-streamed
answer with a 503, new connections are refused, every answer gets its request-log row, and
the process exits 0 without a traceback, also with ``--workers 2``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.live import API_KEY, REFRESH_TOKEN, clean_env, free_port, running, wait_ready
from tests.store.conftest import pg_database, pg_url

__all__ = ["pg_database"]  # the fixture, used by name below

GRACE = 4.0  # seconds; the stalled answers below stay silent far longer
STALLED = "[[emu:stall seconds=300 after=1]] hello there"
# Goes on after SIGTERM (sent right after its first text) and ends within the grace period.
FINISHING = "[[emu:stall seconds=2 after=1]] hello there"
MODEL = "claude-sonnet-4-6"
HANG_GUARD = 60.0


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base_url: str
    emulator_url: str
    data_dir: Path
    port: int


@contextmanager
def serving(tmp: Path, *serve_args: str) -> Iterator[Served]:
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = clean_env(home)
    creds = tmp / "credentials.json"
    creds.write_text(json.dumps([{"refreshToken": REFRESH_TOKEN, "authMethod": "social"}]))
    emu_port, port = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emu_port}"
    with running(["emulator", "--port", str(emu_port)], f"{emulator_url}/_emulator/stats", env):
        args = ["serve", "--port", str(port), "--api-key", API_KEY, "--credentials", str(creds)]
        args += ["--upstream-url", emulator_url, "--data-dir", str(tmp / "data")]
        args += ["--shutdown-grace", str(GRACE), "--set", "upstream.usage_interval=0"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "kirogate", *args, *serve_args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(f"{base_url}/health", proc, timeout=120.0)  # two busy cores
            yield Served(proc, base_url, emulator_url, tmp / "data", port)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


# ---------------------------------------------------------------- the client side


def _anthropic(text: str, stream: bool = True) -> tuple[str, dict[str, Any]]:
    body = {"model": MODEL, "max_tokens": 64, "stream": stream}
    return "/v1/messages", body | {"messages": [{"role": "user", "content": text}]}


def _chat(text: str) -> tuple[str, dict[str, Any]]:
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": text}]}
    return "/v1/chat/completions", body


def _responses(text: str) -> tuple[str, dict[str, Any]]:
    return "/v1/responses", {"model": MODEL, "stream": True, "input": text}


HEADERS = {"x-api-key": API_KEY, "authorization": f"Bearer {API_KEY}"}


async def _first_text_then_rest(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], opened: asyncio.Event
) -> tuple[int, str]:
    """Stream ``body``; set ``opened`` once the answer's first text arrived; the whole body."""
    async with client.stream("POST", path, json=body, headers=HEADERS) as response:
        seen = ""
        async for chunk in response.aiter_text():
            seen += chunk
            if "Echo" in seen:
                opened.set()
        return response.status_code, seen


def _events(body: str) -> list[tuple[str | None, Any]]:
    """The SSE events of ``body``: (event name, parsed data or the raw data text)."""
    events: list[tuple[str | None, Any]] = []
    for block in body.strip().split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                raw = line.removeprefix("data: ")
                data = raw if raw == "[DONE]" else json.loads(raw)
        if data is not None:
            events.append((name, data))
    return events


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except OSError:
        return True


async def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def _upstream_calls(emulator_url: str) -> int:
    with httpx.Client() as client:
        stats = client.get(f"{emulator_url}/_emulator/stats").json()
    return sum(n for path, n in stats["byPath"].items() if "generateAssistantResponse" in path)


async def _stop_during_streams(served: Served) -> dict[str, tuple[int, Any]]:
    """Open every kind of answer, SIGTERM the server, and collect what each client got."""
    timeout = httpx.Timeout(HANG_GUARD)
    async with httpx.AsyncClient(base_url=served.base_url, timeout=timeout) as client:
        streams = {
            "anthropic": _anthropic(STALLED),
            "chat": _chat(STALLED),
            "responses": _responses(STALLED),
            "finishing": _anthropic(FINISHING),
        }
        opened = {name: asyncio.Event() for name in streams}
        tasks = {
            name: asyncio.create_task(_first_text_then_rest(client, *streams[name], opened[name]))
            for name in streams
        }
        path, body = _anthropic(STALLED, stream=False)
        plain = asyncio.create_task(client.post(path, json=body, headers=HEADERS))
        for event in opened.values():
            await asyncio.wait_for(event.wait(), HANG_GUARD)
        await _until(lambda: _upstream_calls(served.emulator_url) >= 5, "the plain request")
        served.proc.send_signal(signal.SIGTERM)
        await _until(lambda: _refused(served.port), "new connections refused")
        results: dict[str, tuple[int, Any]] = {}
        for name, task in tasks.items():
            status, text = await asyncio.wait_for(task, HANG_GUARD)
            results[name] = (status, _events(text))
        reply = await asyncio.wait_for(plain, HANG_GUARD)
        results["plain"] = (reply.status_code, reply.json())
    return results


def _assert_clean_ends(results: dict[str, tuple[int, Any]]) -> None:
    status, events = results["anthropic"]
    assert status == 200
    assert events[-1] == (
        "error",
        {
            "type": "error",
            "error": {"type": "overloaded_error", "message": events[-1][1]["error"]["message"]},
        },
    )
    assert "shutting down" in events[-1][1]["error"]["message"]
    assert "message_stop" not in [name for name, _ in events]

    status, events = results["chat"]
    assert status == 200
    assert events[-1] == (None, "[DONE]")
    assert events[-2][1]["error"]["type"] == "server_error"
    assert events[-2][1]["error"]["code"] == "shutting_down"

    status, events = results["responses"]
    assert status == 200
    name, data = events[-1]
    assert name == "response.failed"
    assert data["response"]["status"] == "failed"
    assert "shutting down" in data["response"]["error"]["message"]

    status, events = results["finishing"]
    assert status == 200
    assert events[-1][0] == "message_stop"
    assert "error" not in [name for name, _ in events]

    status, body = results["plain"]
    assert status == 503
    assert body["error"]["type"] == "overloaded_error"


def _assert_quiet_exit(proc: subprocess.Popen[bytes]) -> str:
    assert proc.wait(timeout=HANG_GUARD) == 0
    assert proc.stdout is not None
    log = proc.stdout.read().decode(errors="replace")
    assert "Traceback" not in log
    assert "CancelledError" not in log
    assert "timeout graceful shutdown exceeded" not in log
    return log


async def test_sigterm_ends_open_streams_in_their_dialect_and_exits_0(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        results = await _stop_during_streams(served)
        _assert_clean_ends(results)
        _assert_quiet_exit(served.proc)
    with sqlite3.connect(served.data_dir / "kirogate.db") as db:
        rows = db.execute("SELECT endpoint, status FROM request_logs").fetchall()
    assert sorted(rows) == sorted(
        [("/v1/messages", 503)] * 2
        + [("/v1/chat/completions", 503), ("/v1/responses", 503), ("/v1/messages", 200)]
    )


async def test_sigterm_with_two_workers(tmp_path: Path, pg_database: str) -> None:
    with serving(tmp_path, "--workers", "2", "--database-url", pg_url(pg_database)) as served:
        results = await _stop_during_streams(served)
        _assert_clean_ends(results)
        _assert_quiet_exit(served.proc)


async def test_sigterm_with_nothing_in_flight_exits_at_once(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        started = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        log = _assert_quiet_exit(served.proc)
        assert time.monotonic() - started < HANG_GUARD
    assert "grace period over" not in log
