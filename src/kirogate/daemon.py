"""Run ``kirogate serve`` in the background and find, watch and stop it again.

The daemon is a re-exec of ``python -m kirogate serve ...`` in a new session, its stdout and
stderr appended to the log file. Its PID file (``<data_dir>/kirogate.pid``, 0644, one line) is
written by the starter and again by the daemon, and removed by the daemon when it exits; a
PID file whose process is gone (or is not kirogate) is stale and replaced. Next to it,
``kirogate.daemon.json`` (0600: it holds the command line, which may carry keys) records the
URL, start time and arguments for ``status``, ``test`` and ``restart``; it outlives ``stop`` so
``restart`` can start the same command again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kirogate.errors import DaemonError

PID_FILE = "kirogate.pid"
STATE_FILE = "kirogate.daemon.json"
LOG_FILE = "kirogate.log"
PID_FILE_MODE = 0o644
STATE_FILE_MODE = 0o600
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass(slots=True)
class DaemonState:
    """What ``status`` and ``restart`` need to know about a started daemon."""

    pid: int
    url: str
    started_at: float
    log_file: str
    argv: list[str] = field(default_factory=list)
    cwd: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DaemonState | None:
        try:
            return cls(
                pid=int(data["pid"]),
                url=str(data["url"]),
                started_at=float(data["started_at"]),
                log_file=str(data.get("log_file", "")),
                argv=[str(item) for item in data.get("argv", [])],
                cwd=str(data.get("cwd", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class Running:
    """The result of looking for a daemon: ``pid`` is set when one is alive."""

    pid: int | None
    stale_pid: int | None = None  # a PID file named a process that is gone (or not kirogate)
    state: DaemonState | None = None


def pid_path(data_dir: Path) -> Path:
    return data_dir / PID_FILE


def state_path(data_dir: Path) -> Path:
    return data_dir / STATE_FILE


def read_pid(path: Path) -> int | None:
    """The PID in ``path``; ``None`` when the file is missing or does not hold a number."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    first = text.splitlines()[0].strip() if text else ""
    return int(first) if first.isdigit() and int(first) > 0 else None


def process_alive(pid: int) -> bool:
    """True when ``pid`` names a running (not zombie) process, ours or another user's."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError, IndexError):
        # The state letter follows the parenthesised command name.
        if stat.read_text().rpartition(")")[2].split()[0] == "Z":
            return False
    return True


def looks_like_kirogate(pid: int) -> bool:
    """Whether ``pid`` runs kirogate; ``True`` where the command line cannot be read."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        raw = cmdline.read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc here (macOS): cannot tell
    except OSError:
        return True
    return b"kirogate" in raw


def _atomic_write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def write_pid_file(path: Path, pid: int) -> None:
    _atomic_write(path, f"{pid}\n", PID_FILE_MODE)


def write_state(data_dir: Path, state: DaemonState) -> None:
    _atomic_write(state_path(data_dir), json.dumps(asdict(state), indent=2) + "\n", STATE_FILE_MODE)


def read_state(data_dir: Path) -> DaemonState | None:
    try:
        data = json.loads(state_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return DaemonState.from_json(data) if isinstance(data, dict) else None


def remove_pid_file(data_dir: Path, pid: int) -> None:
    """Remove the PID file, but only while it still names ``pid``.

    The state file stays: ``restart`` after ``stop`` reuses its command line.
    """
    if read_pid(pid_path(data_dir)) == pid:
        with contextlib.suppress(FileNotFoundError):
            pid_path(data_dir).unlink()


def find_running(data_dir: Path) -> Running:
    """The daemon recorded in ``data_dir``'s PID file, if it is alive and is kirogate."""
    pid = read_pid(pid_path(data_dir))
    if pid is None:
        return Running(None)
    state = read_state(data_dir)
    state = state if state is not None and state.pid == pid else None
    if process_alive(pid) and looks_like_kirogate(pid):
        return Running(pid, state=state)
    return Running(None, stale_pid=pid, state=state)


@contextlib.contextmanager
def pid_file_guard(data_dir: Path) -> Iterator[None]:
    """Inside the daemon: (re)write the PID file with our PID; remove it when we exit."""
    pid = os.getpid()
    write_pid_file(pid_path(data_dir), pid)
    try:
        yield
    finally:
        remove_pid_file(data_dir, pid)


def open_log(path: Path) -> int:
    """An append-only descriptor on the log file, created 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise DaemonError(f"cannot open the log file {path}: {exc.strerror or exc}") from exc


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16_384))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def spawn(
    argv: Sequence[str],
    *,
    data_dir: Path,
    log_file: Path,
    environ: Mapping[str, str],
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``python -m kirogate <argv>`` detached (new session, no terminal) and record it."""
    fd = open_log(log_file)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kirogate", *argv],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            env=dict(environ),
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        raise DaemonError(f"cannot start {sys.executable}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    write_pid_file(pid_path(data_dir), proc.pid)
    return proc


async def wait_healthy(
    url: str, proc: subprocess.Popen[bytes], *, within: float = START_TIMEOUT
) -> None:
    """Poll ``url`` until it answers; :class:`DaemonError` if the process dies or time runs out."""
    import aiohttp  # here only: the serving process imports this module for its PID file

    deadline = time.monotonic() + within
    probe = aiohttp.ClientTimeout(total=1.0)
    async with aiohttp.ClientSession(timeout=probe) as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DaemonError(f"the gateway exited with code {proc.returncode} while starting")
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise DaemonError(f"{url} did not answer within {within:.0f}s")


def stop_process(pid: int, *, timeout: float = STOP_TIMEOUT) -> str:
    """SIGTERM, wait up to ``timeout``, then SIGKILL: ``"stopped"``, ``"killed"`` or ``"gone"``."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "gone"
    except PermissionError as exc:
        raise DaemonError(f"not allowed to stop process {pid} (another user's?)") from exc
    if _wait_gone(pid, timeout):
        return "stopped"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if _wait_gone(pid, 5.0):
        return "killed"
    raise DaemonError(f"process {pid} is still alive after SIGKILL")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return not process_alive(pid)


def probe_host(host: str) -> str:
    """The address to reach a server listening on ``host`` (wildcards become loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def base_url(host: str, port: int) -> str:
    return f"http://{probe_host(host)}:{port}"
