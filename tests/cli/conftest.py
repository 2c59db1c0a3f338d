"""Run ``kirogate`` in-process with a clean environment, and one emulator per module."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kirogate.cli import main
from kirogate.settings import SPECS
from tests.live import clean_env, free_port, running

# Every env var kirogate reads for settings or credentials, so the machine's never leak in.
SETTING_ENV = {name for spec in SPECS for name in spec.env} | {"KIROGATE_CONFIG"}
CREDENTIAL_ENV = {
    "KIRO_AUTH_TOKEN",
    "REFRESH_TOKEN",
    "CREDENTIALS_JSON",
    "KIRO_API_KEY",
    "KIRO_ACCESS_TOKEN",
    "KIRO_REFRESH_TOKEN",
    "AUTH_METHOD",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "EXPIRES_AT",
}
REFRESH_TOKEN = "aorAAAAAGclitest" + "t" * 120


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake HOME and no kirogate or peer variables in ``os.environ``."""
    for name in SETTING_ENV | CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    return home


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """``cli("accounts", "list")``: run main() in this process and capture what it printed."""

    def run(*args: str | Path) -> Result:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def subprocess_env(home: Path) -> dict[str, str]:
    env = clean_env(home)
    for name in SETTING_ENV | CREDENTIAL_ENV:
        env.pop(name, None)
    env["COLUMNS"] = "200"
    return env


@dataclass(frozen=True)
class Emulator:
    url: str

    def post(self, path: str, body: object) -> object:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A real ``kirogate emulator`` process shared by the tests of one module."""
    home = tmp_path_factory.mktemp("emu-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = subprocess_env(home)
    with running(["emulator", "--port", str(port)], f"{url}/_emulator/stats", env):
        yield Emulator(url)


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def kiro_rs_credentials(path: Path, *tokens: str) -> Path:
    return write_json(path, [{"refreshToken": t, "authMethod": "social"} for t in tokens])


def no_kirogate_left(data_dir: Path) -> bool:
    pid_file = data_dir / "kirogate.pid"
    if not pid_file.exists():
        return True
    pid = int(pid_file.read_text().strip())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
