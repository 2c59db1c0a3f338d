from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from kirogate.emulator.app import RunningEmulator, start_emulator
from kirogate.emulator.config import EmulatorConfig

StartEmulator = Callable[..., Awaitable[RunningEmulator]]


@pytest.fixture
async def make_emulator() -> AsyncIterator[StartEmulator]:
    """Start emulators with config overrides (port 0); all are closed after the test."""
    running: list[RunningEmulator] = []

    async def start(**overrides: Any) -> RunningEmulator:
        emu = await start_emulator(EmulatorConfig(port=0, **overrides))
        running.append(emu)
        return emu

    yield start
    for emu in running:
        await emu.close()


@pytest.fixture
async def emulator(make_emulator: StartEmulator) -> RunningEmulator:
    return await make_emulator()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client
