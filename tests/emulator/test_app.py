from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import aiohttp

from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig


async def test_start_emulator_on_port_zero_reports_the_bound_port() -> None:
    async with await start_emulator(EmulatorConfig(port=0)) as emu:
        assert isinstance(emu, RunningEmulator)
        assert not emu.url.endswith(":0")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{emu.url}/_emulator/stats") as r,
        ):
            assert r.status == 200


async def test_unknown_paths_are_404_and_recorded(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{emulator.url}/nope") as resp:
        assert resp.status == 404
    assert emulator.state.requests.stats()["byStatus"] == {"404": 1}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_emulator_serves_until_stopped() -> None:
    port = _free_port()
    code = (
        "from kirogate.emulator.app import run_emulator\n"
        "from kirogate.emulator.config import EmulatorConfig\n"
        f"run_emulator(EmulatorConfig(port={port}))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/stats") as resp:
                    assert resp.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
