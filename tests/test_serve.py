"""``kirogate serve`` and ``kirogate emulator`` as real processes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.live import API_KEY, clean_env, free_port, live_stack, running


def test_help_lists_the_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kirogate", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("serve", "emulator", "demo"):
        assert command in out


def test_no_command_prints_help_and_exits_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "kirogate"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "usage" in proc.stdout.lower()


def test_serve_answers_health_with_emulator_upstream(tmp_path: Path) -> None:
    with live_stack(tmp_path) as stack, urllib.request.urlopen(f"{stack.base_url}/health") as r:
        body = json.loads(r.read())
    assert body["status"] == "ok"


def test_serve_reports_busy_port_and_how_to_pick_another(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "kirogate",
                "serve",
                "--port",
                str(port),
                "--api-key",
                "k",
                "--data-dir",
                str(tmp_path / "data"),
            ],
            capture_output=True,
            text=True,
            env=clean_env(tmp_path),
            timeout=30,
        )
    assert proc.returncode == 2
    assert f"port {port}" in proc.stderr
    assert "--port" in proc.stderr


def test_serve_without_credentials_names_the_places_it_looked(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path)
    with running(
        ["serve", "--port", str(port), "--api-key", API_KEY, "--data-dir", str(tmp_path / "d")],
        f"http://127.0.0.1:{port}/health",
        env,
    ) as proc:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    assert "none found" in out
    assert "kiro-auth-token.json" in out


def test_serve_generates_a_client_key_in_the_data_dir_with_mode_0600(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "d"
    with running(
        ["serve", "--port", str(port), "--data-dir", str(data)],
        f"http://127.0.0.1:{port}/health",
        clean_env(tmp_path),
    ):
        key_file = data / "api_key"
        assert key_file.read_text().strip().startswith("kg-")
        assert key_file.stat().st_mode & 0o777 == 0o600


def test_emulator_command_serves_on_the_given_port(tmp_path: Path) -> None:
    port = free_port()
    with (
        running(
            ["emulator", "--port", str(port)],
            f"http://127.0.0.1:{port}/_emulator/stats",
            clean_env(tmp_path),
        ),
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/stats") as r,
    ):
        assert r.status == 200


def test_demo_starts_both_processes_and_smoke_tests_them(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kirogate", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=clean_env(tmp_path),
        text=True,
    )
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if "ANTHROPIC_BASE_URL=" in line:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = "".join(seen)
    assert "Smoke test through the gateway answered: 'Echo: Hello from the kirogate demo'" in text
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:" in text
