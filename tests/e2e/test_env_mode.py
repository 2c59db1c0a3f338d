"""Env-only mode (Hugging Face Spaces and other hosts): no files, everything from the environment.

A real ``kirogate serve`` (directly, and through the container's ``deploy/entrypoint.sh``)
gets its credentials from ``CREDENTIALS_JSON`` or ``REFRESH_TOKEN``, its port from ``PORT``
and its client key from ``API_KEY``, against a real emulator.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anthropic
import openai
import pytest

from tests.live import clean_env, free_port, running, wait_ready

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
KEY = "hf-space-client-key"


def refresh_token(name: str) -> str:
    # One token per test: the shared emulator rotates (and then refuses) spent tokens.
    return f"aorAAAAAGenv{name}" + "r" * 120


@pytest.fixture(scope="module")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("emu-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(["emulator", "--port", str(port)], f"{url}/_emulator/stats", clean_env(home)):
        yield url


def env_only(tmp: Path, emulator_url: str, **variables: str) -> tuple[dict[str, str], int]:
    """A clean environment with no credential files anywhere, plus ``variables``."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = clean_env(home)
    env.update(
        {
            "PORT": str(port),
            "API_KEY": KEY,
            "KIROGATE_UPSTREAM_URL": emulator_url,
            "KIROGATE_DATA_DIR": str(tmp / "data"),
            "KIROGATE_LOG_LEVEL": "warning",
        }
    )
    env.update(variables)
    return env, port


@contextmanager
def running_entrypoint(
    args: list[str], ready_url: str, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """``deploy/entrypoint.sh`` as a process, stopped (SIGTERM, then SIGKILL) on exit."""
    proc = subprocess.Popen(
        ["sh", str(ENTRYPOINT), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_ready(ready_url, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def ready(base_url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{base_url}/ready", timeout=5) as response:
        return dict(json.loads(response.read()))


def test_credentials_json_port_and_api_key_from_the_environment(
    tmp_path: Path, emulator_url: str
) -> None:
    creds = json.dumps([{"refreshToken": refresh_token("json"), "authMethod": "social"}])
    env, port = env_only(tmp_path, emulator_url, CREDENTIALS_JSON=creds)
    base_url = f"http://127.0.0.1:{port}"
    with running(["serve"], f"{base_url}/health", env):
        assert ready(base_url)["usable"] == 1
        claude = anthropic.Anthropic(base_url=base_url, api_key=KEY, max_retries=0)
        message = claude.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=64,
            messages=[{"role": "user", "content": "Say hello"}],
        )
        assert message.content[0].type == "text"
        assert message.content[0].text
        wrong = anthropic.Anthropic(base_url=base_url, api_key="not-the-key", max_retries=0)
        with pytest.raises(anthropic.AuthenticationError):
            wrong.models.list()
    assert not list((tmp_path / "home").rglob("*.json")), "no credential file was needed"


def test_refresh_token_through_the_container_entrypoint(tmp_path: Path, emulator_url: str) -> None:
    env, port = env_only(tmp_path, emulator_url, REFRESH_TOKEN=refresh_token("entrypoint"))
    env["KIROGATE_BIN"] = str(Path(sys.executable).with_name("kirogate"))
    env["KIROGATE_PYTHON"] = sys.executable
    base_url = f"http://127.0.0.1:{port}"
    with running_entrypoint([], f"{base_url}/health", env):
        assert ready(base_url)["ready"] is True
        oai = openai.OpenAI(base_url=f"{base_url}/v1", api_key=KEY, max_retries=0)
        answer = oai.chat.completions.create(
            model="claude-sonnet-4-6", messages=[{"role": "user", "content": "Say hello"}]
        )
        assert answer.choices[0].message.content
        health = subprocess.run(
            ["sh", str(ENTRYPOINT), "healthcheck"], env=env, capture_output=True, timeout=30
        )
        assert health.returncode == 0, health.stderr
    down = subprocess.run(
        ["sh", str(ENTRYPOINT), "healthcheck"], env=env, capture_output=True, text=True, timeout=30
    )
    assert down.returncode == 1
    assert f"127.0.0.1:{port}/health" in down.stderr


def test_bad_credentials_json_is_a_clear_startup_error(tmp_path: Path, emulator_url: str) -> None:
    env, _ = env_only(tmp_path, emulator_url, CREDENTIALS_JSON='[{"refreshToken": 42}]')
    proc = subprocess.run(
        [sys.executable, "-m", "kirogate", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    output = proc.stdout + proc.stderr
    assert "CREDENTIALS_JSON" in output
    assert "refreshToken" in output
    assert "Traceback" not in output
