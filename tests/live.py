"""Start real ``kirogate emulator`` and ``kirogate serve`` processes for end-to-end tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.secret_watch import watch_text

API_KEY = "test-client-key"
REFRESH_TOKEN = "aorAAAAAGlivetest" + "r" * 120

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


def _setting_env_names() -> set[str]:
    from kirogate.settings import SPECS

    return {name for spec in SPECS for name in spec.env}


def clean_env(home: Path) -> dict[str, str]:
    drop = set(CREDENTIAL_ENV) | _setting_env_names()
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env = {k: v for k, v in env.items() if not k.startswith("KIROGATE_")}
    env["HOME"] = str(home)  # no real ~/.aws token file leaks into a test
    return env


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"process exited ({proc.returncode}) before {url} answered:\n{out}")
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextmanager
def running(
    args: Sequence[str], ready_url: str, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kirogate", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
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
        if proc.stdout is not None and not proc.stdout.closed:
            watch_text(proc.stdout.read(), f"output of kirogate {args[0] if args else ''}")
            proc.stdout.close()


@dataclass(frozen=True)
class LiveStack:
    base_url: str
    emulator_url: str
    api_key: str
    data_dir: Path
    credentials_file: Path
    given_admin_key: str | None = None  # --admin-key in serve_args, if any

    @property
    def admin_key(self) -> str:
        """The admin key: the one given, or the one ``serve`` generated into the data dir."""
        if self.given_admin_key is not None:
            return self.given_admin_key
        return (self.data_dir / "admin_key").read_text(encoding="utf-8").strip()

    def emulator_json(self, path: str, body: object | None = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.emulator_url + path,
            data=data,
            headers={"content-type": "application/json"},
            method="POST" if data is not None else "GET",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")


@contextmanager
def live_stack(
    tmp: Path,
    *,
    credentials: list[dict[str, object]] | None = None,
    emulator_args: Sequence[str] = (),
    serve_args: Sequence[str] = (),
) -> Iterator[LiveStack]:
    """An emulator and a gateway pointed at it, with one social credential by default."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = clean_env(home)
    creds_file = tmp / "credentials.json"
    creds_file.write_text(
        json.dumps(credentials or [{"refreshToken": REFRESH_TOKEN, "authMethod": "social"}]),
        encoding="utf-8",
    )
    emu_port, gw_port = free_port(), free_port()
    emulator_url = f"http://127.0.0.1:{emu_port}"
    base_url = f"http://127.0.0.1:{gw_port}"
    with (
        running(
            ["emulator", "--port", str(emu_port), *emulator_args],
            f"{emulator_url}/_emulator/stats",
            env,
        ),
        running(
            [
                "serve",
                "--port",
                str(gw_port),
                "--api-key",
                API_KEY,
                "--credentials",
                str(creds_file),
                "--upstream-url",
                emulator_url,
                "--data-dir",
                str(tmp / "data"),
                "--log-level",
                "warning",
                # Background balance polls would consume emulator scenarios meant for requests.
                "--set",
                "upstream.usage_interval=0",
                *serve_args,
            ],
            f"{base_url}/health",
            env,
        ),
    ):
        args = list(serve_args)
        given = args[args.index("--admin-key") + 1] if "--admin-key" in args else None
        stack = LiveStack(base_url, emulator_url, API_KEY, tmp / "data", creds_file, given)
        ADMIN_KEYS[base_url] = stack
        try:
            yield stack
        finally:
            ADMIN_KEYS.pop(base_url, None)


# The running stacks by base URL, for helpers that are handed only the URL (admin_key_for).
ADMIN_KEYS: dict[str, LiveStack] = {}


def admin_key_for(base_url: str) -> str:
    """The admin key of the live stack serving ``base_url``."""
    return ADMIN_KEYS[base_url].admin_key
