from __future__ import annotations

import asyncio
import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from kirogate.tasks import running_tasks, spawn, stop_task

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_tasks", ROOT / "scripts" / "check_tasks.py")
assert _spec is not None and _spec.loader is not None
check_tasks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_tasks)


async def test_a_task_that_swallows_a_cancel_is_cancelled_again() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # what a library's timeout race can do

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await stop_task(task, grace=0.05)
    assert task.cancelled()
    assert swallowed == 1


async def test_a_finished_task_is_left_as_it_is() -> None:
    async def quick() -> int:
        return 1

    task = asyncio.create_task(quick())
    await task
    await stop_task(task)
    assert task.result() == 1


async def test_a_failed_task_does_not_raise_from_stop() -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)
    await stop_task(task)
    assert isinstance(task.exception(), RuntimeError)


async def test_spawn_names_the_task() -> None:
    async def quick() -> int:
        return 7

    task = spawn(quick(), name="the quick one")
    assert task.get_name() == "the quick one"
    assert await task == 7


async def test_a_spawned_task_is_referenced_until_it_ends() -> None:
    release = asyncio.Event()

    async def waiting() -> None:
        await release.wait()

    task = spawn(waiting(), name="waiting")
    assert task in running_tasks()
    release.set()
    await task
    await asyncio.sleep(0)  # done callbacks run on the next loop turn
    assert task not in running_tasks()


async def test_a_crash_is_logged_with_the_task_name(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    task = spawn(broken(), name="broken worker")
    await asyncio.wait({task})
    await asyncio.sleep(0)
    crashes = [r for r in caplog.records if r.name == "kirogate.tasks"]
    assert len(crashes) == 1
    assert crashes[0].levelno == logging.ERROR
    assert "'broken worker' crashed: RuntimeError: boom" in crashes[0].getMessage()


async def test_an_awaited_task_leaves_its_exception_to_the_owner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    task = spawn(broken(), name="awaited", awaited=True)
    with pytest.raises(RuntimeError, match="boom"):
        await task
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if r.name == "kirogate.tasks"]
    assert task not in running_tasks()


async def test_a_cancelled_task_is_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    task = spawn(asyncio.sleep(10), name="sleeper")
    await asyncio.sleep(0)
    await stop_task(task)
    await asyncio.sleep(0)
    assert task.cancelled()
    assert not [r for r in caplog.records if r.name == "kirogate.tasks"]


def test_ruff_bans_a_bare_create_task() -> None:
    source = "import asyncio\n\n\nasync def f() -> None:\n    t = asyncio.create_task(f())\n"
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--select",
            "TID251",
            "--stdin-filename",
            "src/kirogate/example.py",
            "-",
        ],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert found.returncode == 1
    assert "TID251 `asyncio.create_task` is banned" in found.stdout


def test_the_task_check_finds_a_loop_create_task() -> None:
    source = (
        "import asyncio\n\nasyncio.get_running_loop().create_task(f())\nloop.create_task(g())\n"
    )
    source += "group.create_task(h())\n"
    found = check_tasks.findings(Path("src/kirogate/example.py"), source)
    assert [line.split(":")[1] for line in found] == ["3", "4"]
