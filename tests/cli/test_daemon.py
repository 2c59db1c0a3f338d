"""The daemon for real: ``serve -d``, ``status``, ``test``, ``restart``, ``stop`` against the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kirogate import daemon
from tests.cli.conftest import (
    REFRESH_TOKEN,
    Emulator,
    kiro_rs_credentials,
    no_kirogate_left,
    subprocess_env,
)
from tests.live import free_port

KEY = "daemon-test-key"


def kg(home: Path, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kirogate", *map(str, args)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=subprocess_env(home),
        timeout=timeout,
    )


class Daemon:
    def __init__(self, tmp: Path, emulator: Emulator) -> None:
        self.home = tmp / "home"
        self.home.mkdir(exist_ok=True)
        self.data = tmp / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Each test its own token: the shared emulator rotates (and retires) refreshed ones.
        creds = kiro_rs_credentials(tmp / "credentials.json", REFRESH_TOKEN + uuid.uuid4().hex)
        self.serve = ["serve", "--port", str(self.port), "--data-dir", str(self.data),
                      "--credentials", str(creds), "--upstream-url", emulator.url, "-k", KEY]  # fmt: skip

    def run(self, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return kg(self.home, *args, timeout=timeout)

    def start(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run(*self.serve, "--daemon", *extra)

    def pid(self) -> int:
        return int((self.data / "kirogate.pid").read_text().strip())

    def cleanup(self) -> None:
        pid = daemon.read_pid(self.data / "kirogate.pid")
        if pid is not None and daemon.process_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def gateway(tmp_path: Path, emulator: Emulator) -> Iterator[Daemon]:
    running = Daemon(tmp_path, emulator)
    try:
        yield running
    finally:
        running.cleanup()


def test_start_status_test_and_stop_a_real_daemon(gateway: Daemon) -> None:
    started = gateway.start()
    assert started.returncode == 0, started.stderr
    pid = gateway.pid()
    assert f"running in the background at {gateway.url} (pid {pid})" in started.stdout
    pid_file = gateway.data / "kirogate.pid"
    assert pid_file.stat().st_mode & 0o777 == 0o644
    assert (gateway.data / "kirogate.daemon.json").stat().st_mode & 0o777 == 0o600
    assert (gateway.data / "kirogate.log").stat().st_mode & 0o777 == 0o600
    assert daemon.looks_like_kirogate(pid)

    status = gateway.run("status", "--data-dir", gateway.data)
    assert status.returncode == 0
    assert f"kirogate is running at {gateway.url} (pid {pid}, up " in status.stdout
    assert "ready (1 of 1 credentials usable" in status.stdout

    report = json.loads(gateway.run("status", "--data-dir", gateway.data, "--json").stdout)
    assert report["running"] is True and report["pid"] == pid
    assert report["ready"]["status"] == 200

    smoke = gateway.run("test", "--data-dir", gateway.data)
    assert smoke.returncode == 0, smoke.stdout
    for check in ("health: ok", "models:", "messages: answered", "chat completions: answered"):
        assert f"✓ {check}" in smoke.stdout
    assert "reply: Echo: Reply with one short sentence" in smoke.stdout

    refused = gateway.run("stop", "--data-dir", gateway.data)
    assert refused.returncode == 2
    assert "stdin is not a terminal; pass --yes (-y) to confirm" in refused.stderr
    assert daemon.process_alive(pid)

    stopped = gateway.run("stop", "-y", "--data-dir", gateway.data)
    assert stopped.returncode == 0
    assert f"stopped kirogate (pid {pid})" in stopped.stdout
    assert not pid_file.exists()
    assert not daemon.process_alive(pid)
    after = gateway.run("status", "--data-dir", gateway.data)
    assert after.returncode == 3
    assert "kirogate is not running" in after.stdout
    assert gateway.run("stop", "--data-dir", gateway.data).returncode == 3


def test_start_script_flags_act_like_the_subcommands(gateway: Daemon) -> None:
    assert gateway.start().returncode == 0
    assert gateway.run("serve", "-s", "--data-dir", gateway.data).returncode == 0
    smoke = gateway.run("serve", "-t", "--data-dir", gateway.data, "-k", "wrong-key")
    assert smoke.returncode == 1
    assert "✗ models: HTTP 401" in smoke.stdout and "pass -k KEY" in smoke.stdout
    stopped = gateway.run("serve", "--stop", "--yes", "--data-dir", gateway.data)
    assert stopped.returncode == 0
    assert no_kirogate_left(gateway.data)


def test_second_start_is_a_clear_error(gateway: Daemon, tmp_path: Path) -> None:
    assert gateway.start().returncode == 0
    again = gateway.start()
    assert again.returncode == 1
    assert f"kirogate is already running (pid {gateway.pid()} at {gateway.url})" in again.stderr
    # Another data dir, same port: the busy port names the daemon holding it.
    other = gateway.run("serve", "-d", "--port", str(gateway.port), "--data-dir", tmp_path / "x")
    assert other.returncode == 2
    assert f"port {gateway.port} on 127.0.0.1 is already in use" in other.stderr
    assert "--port" in other.stderr
    foreground = gateway.run(*gateway.serve)
    assert foreground.returncode == 2
    assert f"kirogate is already running in the background (pid {gateway.pid()})" in (
        foreground.stderr
    )


def test_a_stale_pid_file_is_detected_and_replaced(gateway: Daemon) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gateway.data.mkdir(parents=True)
    (gateway.data / "kirogate.pid").write_text(f"{dead.pid}\n")
    status = gateway.run("status", "--data-dir", gateway.data, "--port", str(gateway.port))
    assert status.returncode == 3
    assert f"the PID file names process {dead.pid}, which is gone (stale)" in status.stdout
    started = gateway.start()
    assert started.returncode == 0
    assert f"replacing a stale PID file (process {dead.pid} is gone)" in started.stdout
    assert gateway.pid() != dead.pid
    assert gateway.run("stop", "-y", "--data-dir", gateway.data).returncode == 0


def test_restart_keeps_the_command_line_and_changes_the_pid(gateway: Daemon) -> None:
    assert gateway.start().returncode == 0
    first = gateway.pid()
    restarted = gateway.run("restart", "-y", "--data-dir", gateway.data)
    assert restarted.returncode == 0, restarted.stderr
    assert f"stopped kirogate (pid {first})" in restarted.stdout
    second = gateway.pid()
    assert second != first and not daemon.process_alive(first)
    assert gateway.run("test", "--data-dir", gateway.data).returncode == 0
    assert gateway.run("stop", "-y", "--data-dir", gateway.data).returncode == 0


def test_a_daemon_that_dies_while_starting_shows_its_log(gateway: Daemon, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    started = gateway.run(*gateway.serve, "--credentials", broken, "--daemon")
    assert started.returncode == 1
    assert "the gateway exited with code 2 while starting" in started.stderr
    assert f"the end of {gateway.data / 'kirogate.log'}" in started.stderr
    assert "invalid JSON at line 1" in started.stderr
    assert not (gateway.data / "kirogate.pid").exists()


def test_log_mode_file_and_log_file_go_to_the_file(gateway: Daemon, tmp_path: Path) -> None:
    log_file = tmp_path / "custom.log"
    assert gateway.start("--log-file", str(log_file)).returncode == 0
    assert gateway.run("test", "--data-dir", gateway.data).returncode == 0
    assert gateway.run("stop", "-y", "--data-dir", gateway.data).returncode == 0
    text = log_file.read_text()
    assert "kirogate 0." in text and "POST /v1/messages 200" in text
    assert log_file.stat().st_mode & 0o777 == 0o600


def test_test_command_reports_an_unreachable_gateway(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = kg(home, "test", "--port", str(free_port()), "--data-dir", tmp_path / "d")
    assert result.returncode == 1
    assert "✗ health: cannot reach http://127.0.0.1:" in result.stdout
    assert "kirogate serve --daemon" in result.stdout


def test_stop_kills_a_process_that_ignores_sigterm() -> None:
    code = "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ok', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ok\n"
    started = time.monotonic()
    assert daemon.stop_process(proc.pid, timeout=0.5) == "killed"
    assert time.monotonic() - started < 5
    assert proc.wait(timeout=5) == -signal.SIGKILL
    proc.stdout.close()
