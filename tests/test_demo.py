"""``kirogate demo`` stops on SIGINT, SIGTERM and SIGHUP in every launch mode and leaves no
emulator or gateway behind (checked in the process tree, ``/proc``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kirogate import demo
from tests.live import clean_env

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

BANNER = "ANTHROPIC_BASE_URL="


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    """Running (a zombie has finished: only its exit status is left)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (ppid := parent_of(int(entry))) is not None:
            children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Launched:
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)


@contextmanager
def launched(argv: list[str], tmp_path: Path) -> Iterator[Launched]:
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # The demo's throwaway directory lands in tmp_path, so a killed demo leaves nothing.
        env={**clean_env(tmp_path), "TMPDIR": str(tmp_path)},
        text=True,
    )
    run = Launched(proc)
    reader = threading.Thread(target=run.read, daemon=True)
    reader.start()
    try:
        yield run
    finally:
        for pid in descendants(proc.pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        reader.join(timeout=10)  # the pipe ends once the demo and its children are gone
        assert proc.stdout is not None
        proc.stdout.close()


DEMO = [sys.executable, "-m", "kirogate", "demo"]


def demo_tree(run: Launched, root: int) -> set[int]:
    """Once the banner is out: the emulator and the gateway (and anything they started)."""
    wait_until(lambda: BANNER in run.output(), 60, "the demo's banner")
    tree = descendants(root)
    assert len(tree) >= 2, run.output()
    return tree


def assert_all_gone(tree: set[int], run: Launched) -> None:
    wait_until(lambda: not any(alive(pid) for pid in tree), 15, f"{tree} to exit")
    assert all(not alive(pid) for pid in tree), run.output()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_ends_the_demo_and_its_children(tmp_path: Path, signum: int) -> None:
    with launched(DEMO, tmp_path) as run:
        tree = demo_tree(run, run.proc.pid)
        run.proc.send_signal(signum)
        assert run.proc.wait(timeout=20) == 0
        assert_all_gone(tree, run)
    assert "stopping the demo" in run.output()


def test_sigint_stops_a_background_job_whose_shell_ignores_it_for_the_child(
    tmp_path: Path,
) -> None:
    # A non-interactive shell starts `cmd &` with SIGINT ignored; the demo must still stop.
    script = '"$@" & echo "demo-pid $!"; wait'
    with launched(["sh", "-c", script, "sh", *DEMO], tmp_path) as run:
        wait_until(lambda: "demo-pid " in run.output(), 10, "the background pid")
        pid = int(run.output().split("demo-pid ", 1)[1].split()[0])
        tree = demo_tree(run, pid)
        os.kill(pid, signal.SIGINT)
        assert run.proc.wait(timeout=20) == 0  # `wait` returns once the demo is gone
        assert not alive(pid)
        assert_all_gone(tree, run)


def test_sigterm_during_startup_leaves_nothing_behind(tmp_path: Path) -> None:
    with launched(DEMO, tmp_path) as run:
        wait_until(lambda: bool(descendants(run.proc.pid)), 30, "the emulator to start")
        tree = descendants(run.proc.pid)
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(timeout=20) == 0
        assert_all_gone(tree, run)
        assert BANNER not in run.output()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_children_die_with_a_killed_demo(tmp_path: Path) -> None:
    with launched(DEMO, tmp_path) as run:
        tree = demo_tree(run, run.proc.pid)
        run.proc.send_signal(signal.SIGKILL)
        run.proc.wait(timeout=10)
        assert_all_gone(tree, run)


def test_stop_children_kills_a_child_that_ignores_sigterm() -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, time\n"
         "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
         "time.sleep(60)"],
        stdout=subprocess.PIPE, process_group=0, text=True,
    )  # fmt: skip
    assert stubborn.stdout is not None and stubborn.stdout.readline() == "ready\n"
    started = time.monotonic()
    demo.stop_children([stubborn], grace=0.5)
    assert stubborn.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5
    stubborn.stdout.close()


def test_demo_uses_the_model_names_of_the_readme() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    source = Path(demo.__file__).read_text(encoding="utf-8")
    assert "claude-sonnet-4-6" in readme
    assert "claude-sonnet-4-6" in source and "claude-sonnet-4-5" not in source


def test_a_busy_port_ends_the_demo_with_a_message_and_no_child_left(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with launched([*DEMO, "--port", str(port)], tmp_path) as run:
            wait_until(lambda: bool(descendants(run.proc.pid)), 30, "the emulator to start")
            tree = descendants(run.proc.pid)
            assert run.proc.wait(timeout=60) == 1
            assert_all_gone(tree, run)
            wait_until(lambda: "the demo could not start" in run.output(), 5, "the message")
    assert "Traceback" not in run.output()
