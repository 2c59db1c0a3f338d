"""Fixtures the API tests share: a real Gateway on an in-process emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from kirogate.emulator.app import RunningEmulator
from tests.emulated_gateway import running


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[httpx2.AsyncClient, RunningEmulator]]:
    async with running(tmp_path) as started:
        yield started


@pytest.fixture
async def estimating(
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx2.AsyncClient, RunningEmulator]]:
    async with running(tmp_path, **{"cache.estimate": True}) as started:
        yield started
