"""Processes for the benchmark: start and stop them, and read their CPU time and memory from /proc.

CPU is ``utime + stime`` of ``/proc/<pid>/stat`` (all threads), summed over the process and
its live descendants (uvicorn workers), in milliseconds; the kernel counts in clock ticks
(usually 10 ms), so a cell must run long enough for the per-request figure to be precise.
Peak memory is ``VmHWM`` of ``/proc/<pid>/status``, summed over the same processes; writing
``5`` to ``/proc/<pid>/clear_refs`` resets it, so each cell reports its own peak.
:func:`raise_open_files` lifts the soft limit on open files to the hard one: 1,000 streams
hold two sockets each in the gateway, and the processes started afterwards inherit it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Environment variables that would make a gateway pick up credentials from the machine.
CREDENTIAL_ENV = (
    "KIRO_AUTH_TOKEN",
    "REFRESH_TOKEN",
    "CREDENTIALS_JSON",
    "KIRO_API_KEY",
    "KIRO_ACCESS_TOKEN",
    "KIRO_REFRESH_TOKEN",
    "API_KEY",
    "PORT",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_open_files() -> int:
    """Soft ``RLIMIT_NOFILE`` up to the hard limit (inherited by children); the new soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def clean_env(home: Path) -> dict[str, str]:
    """The caller's environment without credentials or kirogate settings, HOME in ``home``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CREDENTIAL_ENV and not k.startswith("KIROGATE_")
    }
    env["HOME"] = str(home)
    return env


def _children(pid: int) -> list[int]:
    try:
        raw = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(item) for item in raw.split()]


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(_children(current))
    return out


def cpu_ms(pid: int) -> float:
    """User + system CPU of the process tree, in milliseconds."""
    total = 0
    for member in process_tree(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total * 1000 / CLOCK_TICKS


def sched_cpu_ms(pid: int) -> float:
    """Time on CPU of every thread of the tree from ``/proc/<pid>/task/*/schedstat``, in ms.

    Nanosecond-precise, where ``utime + stime`` is sampled at clock ticks and can be biased
    for processes that run in short bursts woken by timers (c=1).
    """
    total = 0
    for member in process_tree(pid):
        try:
            tasks = list(Path(f"/proc/{member}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    return total / 1e6


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_mb(pid: int) -> float:
    """Summed ``VmHWM`` of the tree, in MiB."""
    return sum(_status_kb(member, "VmHWM") for member in process_tree(pid)) / 1024


def rss_mb(pid: int) -> float:
    """Summed ``VmRSS`` of the tree, in MiB."""
    return sum(_status_kb(member, "VmRSS") for member in process_tree(pid)) / 1024


def reset_peak_rss(pid: int) -> bool:
    """Reset ``VmHWM`` to the current RSS; False where the kernel does not allow it."""
    done = True
    for member in process_tree(pid):
        try:
            Path(f"/proc/{member}/clear_refs").write_text("5")
        except OSError:
            done = False
    return done


def trusting(ca_file: Path | None) -> ssl.SSLContext | None:
    """A client context trusting ``ca_file`` (the emulator's throwaway certificate), or None."""
    return None if ca_file is None else ssl.create_default_context(cafile=str(ca_file))


def wait_ready(
    url: str,
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 60,
    ca_file: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    context = trusting(ca_file)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"process exited ({proc.returncode}) before {url} answered:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1.0, context=context):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s (log: {log})")


@contextlib.contextmanager
def running(
    args: Sequence[str],
    ready_url: str,
    env: dict[str, str],
    log: Path,
    python_args: Sequence[str] = (),
    ca_file: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``python [PYTHON_ARGS] -m kirogate ARGS`` with output to ``log``; stopped (SIGTERM,
    so a profiler wrapping it writes its output) when the block ends."""
    command = [sys.executable, *python_args, "-m", "kirogate", *args]
    with running_command(command, ready_url, env, log, ca_file) as proc:
        yield proc


@contextlib.contextmanager
def running_command(
    command: Sequence[str],
    ready_url: str,
    env: dict[str, str],
    log: Path,
    ca_file: Path | None = None,
    ready_timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """Any command, ready once ``ready_url`` answers (any HTTP status; an ``https://`` one
    trusting ``ca_file``) within ``ready_timeout`` seconds."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(command), env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            wait_ready(ready_url, proc, log, ready_timeout, ca_file=ca_file)
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": sys.version.split()[0],
        "loadavg": os.getloadavg(),
    }
