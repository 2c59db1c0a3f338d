"""Shared pieces for driving real client programs (Claude Code, Codex, Node scripts) in tests.

The npm clients come from ``tests/clients`` (``npm ci --prefix tests/clients``, run by ``.ci/run``);
a test whose client is missing skips and says how to install it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.live import admin_key_for
from tests.loopback_proxy import LoopbackProxy

CLIENTS_DIR = Path(__file__).resolve().parents[1] / "clients"
NODE_MODULES = CLIENTS_DIR / "node_modules"
INSTALL_HINT = "run `npm ci --prefix tests/clients` (.ci/run does)"

# Variables of the machine's own clients and cloud accounts that must not steer a test client.
_FOREIGN_PREFIXES = ("ANTHROPIC_", "CLAUDE", "OPENAI_", "CODEX_", "LITELLM_", "AWS_", "KIROGATE_")
_PROXY_NAMES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def npm_bin(name: str) -> Path | None:
    """A binary installed in tests/clients, or None."""
    path = NODE_MODULES / ".bin" / name
    return path if path.exists() else None


def node_package(name: str) -> Path | None:
    path = NODE_MODULES / name
    return path if (path / "package.json").exists() else None


def node() -> str | None:
    return shutil.which("node")


def client_env(home: Path, proxy: LoopbackProxy, extra: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment, minus client and proxy settings, plus the refusing proxy."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(_FOREIGN_PREFIXES) and k.lower() not in _PROXY_NAMES
    }
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    env.update(proxy.env())
    env["NODE_USE_ENV_PROXY"] = "1"  # Node's own fetch honours the proxy variables (Node 22.21+)
    env.update(extra)
    return env


def run_client(
    args: Sequence[str | Path], *, env: Mapping[str, str], cwd: Path, timeout: float = 150
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    """Exit code and output, for an assertion message."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"


def assert_no_egress(proxy: LoopbackProxy, mark: int, client: str) -> None:
    """Fail, listing them, if the client tried any destination outside the machine."""
    refused = proxy.refused_since(mark)
    assert not refused, f"{client} tried to reach outside the machine: " + ", ".join(refused)


_REQUESTS = re.compile(r"^kirogate_requests_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def error_answers(base_url: str) -> Counter[str]:
    """How many 4xx/5xx answers kirogate has given so far, by ``"<route> <status>"``."""
    request = urllib.request.Request(
        f"{base_url}/metrics", headers={"x-api-key": admin_key_for(base_url)}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if match := _REQUESTS.match(line):
            labels = dict(_LABEL.findall(match["labels"]))
            if int(labels.get("status", "0")) >= 400:
                counts[f"{labels.get('endpoint')} {labels['status']}"] = int(float(match["value"]))
    return counts


def new_errors(base_url: str, before: Counter[str]) -> list[str]:
    """The error answers given since ``before``: a client that only succeeded after kirogate
    refused a request (Claude Code drops features and retries) still shows a defect."""
    after = error_answers(base_url)
    return [
        f"{key} x{after[key] - before[key]}" for key in sorted(after) if after[key] > before[key]
    ]


@dataclass(frozen=True)
class ClientRun:
    code: int
    stdout: str
    why: str  # exit code and output, for assertion messages
    errors: list[str]  # kirogate's 4xx/5xx answers during the run

    @property
    def refused(self) -> str:
        return "kirogate answered with errors: " + ", ".join(self.errors) + "\n" + self.why


def drive(
    args: Sequence[str | Path],
    *,
    client: str,
    base_url: str,
    proxy: LoopbackProxy,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float = 200,
) -> ClientRun:
    """Run a client program, then fail at once if it tried to reach outside the machine."""
    mark = proxy.mark()
    before = error_answers(base_url)
    result = run_client(args, env=env, cwd=cwd, timeout=timeout)
    assert_no_egress(proxy, mark, client)
    return ClientRun(
        result.returncode, result.stdout, outcome(result), new_errors(base_url, before)
    )
