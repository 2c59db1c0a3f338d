"""``kirogate demo``: an emulator and a gateway in one process tree, ready for a client.

Nobody needs a Kiro account for this: the emulator plays the upstream, a throwaway
credential lives in a temporary directory, and the banner prints curl, SDK and Claude Code
settings that work as pasted. Ctrl-C, SIGTERM or SIGHUP stops both processes, in the
foreground or as a background job; on Linux they also die if the demo is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

DEMO_API_KEY = "kirogate-demo"
# A paid plan: FREE has no Opus, and Opus is Claude Code's default model.
DEMO_PLAN = "KIRO PRO+"
# Any refresh token works against the emulator; this one just looks like a real one.
DEMO_REFRESH_TOKEN = "aorAAAAAGdemo" + "x" * 120


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_http(
    url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1.0):
                return
        except urllib.error.HTTPError:
            return  # it answered, even if not 200
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


def smoke_request(base: str) -> str:
    """One real Anthropic request through the gateway; returns the reply text."""
    body = json.dumps(
        {
            "model": "claude-sonnet-4-6",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "Hello from the kirogate demo"}],
        }
    ).encode()
    request = urllib.request.Request(
        f"{base}/v1/messages",
        data=body,
        headers={
            "content-type": "application/json",
            "x-api-key": DEMO_API_KEY,
            "anthropic-version": "2023-06-01",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.loads(response.read())
    return "".join(block.get("text", "") for block in reply.get("content", []))


def print_instructions(base: str, reply: str | None) -> None:
    out = sys.stdout
    out.write("\nkirogate demo is running (gateway + Kiro emulator). Ctrl-C stops it.\n\n")
    if reply is not None:
        out.write(f"Smoke test through the gateway answered: {reply!r}\n\n")
    out.write("curl (Anthropic Messages):\n")
    out.write(
        f"  curl {base}/v1/messages -H 'x-api-key: {DEMO_API_KEY}' "
        "-H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \\\n"
        '    -d \'{"model":"claude-sonnet-4-6","max_tokens":256,'
        '"messages":[{"role":"user","content":"Hi"}]}\'\n\n'
    )
    out.write("curl (OpenAI Chat Completions, streaming):\n")
    out.write(
        f"  curl -N {base}/v1/chat/completions -H 'Authorization: Bearer {DEMO_API_KEY}' "
        "-H 'content-type: application/json' \\\n"
        '    -d \'{"model":"claude-sonnet-4-6","stream":true,'
        '"messages":[{"role":"user","content":"Hi"}]}\'\n\n'
    )
    out.write("Python SDKs (pip install anthropic openai):\n")
    out.write(f"  anthropic.Anthropic(base_url='{base}', api_key='{DEMO_API_KEY}')\n")
    out.write(f"  openai.OpenAI(base_url='{base}/v1', api_key='{DEMO_API_KEY}')\n\n")
    out.write("Claude Code:\n")
    out.write(
        f"  ANTHROPIC_BASE_URL={base} ANTHROPIC_AUTH_TOKEN={DEMO_API_KEY} "
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 claude\n\n"
    )
    out.flush()


# Stop on any of these, in every launch mode: a background ``&`` job of a non-interactive
# shell starts with SIGINT ignored, and a closed terminal sends SIGHUP.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_GRACE = 5.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class DemoStopped(Exception):
    """A stop signal arrived; raised in the main thread by the signal handler."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stop(signum: int, _frame: object) -> None:
    for other in STOP_SIGNALS:  # once: a second signal must not cut the cleanup short
        signal.signal(other, signal.SIG_IGN)
    raise DemoStopped(signum)


def die_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn`` that has Linux send the child SIGTERM when the demo dies, even by
    SIGKILL (``PR_SET_PDEATHSIG``); elsewhere a no-op (the demo's own handlers remain)."""

    def arm() -> None:
        if not sys.platform.startswith("linux"):
            return
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the demo died before the line above: follow it now
            os._exit(1)

    return arm


def start_child(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A child in its own process group (a terminal's Ctrl-C reaches only the demo, which
    stops the children in order) that dies with the demo."""
    return subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        process_group=0,
        preexec_fn=die_with_parent(os.getpid()),
    )


def stop_children(procs: list[subprocess.Popen[bytes]], grace: float = STOP_GRACE) -> None:
    """SIGTERM each child's process group, then SIGKILL what is left after ``grace``."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL below
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        # The group too: a child's own children (uvicorn workers) go with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def write_demo_credentials(workdir: Path) -> Path:
    creds = workdir / "credentials.json"
    creds.write_text(
        json.dumps(
            [
                {
                    "refreshToken": DEMO_REFRESH_TOKEN,
                    "authMethod": "social",
                    "email": "demo@kiro.local",
                }
            ]
        ),
        encoding="utf-8",
    )
    creds.chmod(0o600)
    return creds


def demo_env() -> dict[str, str]:
    env = dict(os.environ)
    # The demo must not pick up the user's real credentials.
    for name in (
        "KIRO_AUTH_TOKEN",
        "REFRESH_TOKEN",
        "CREDENTIALS_JSON",
        "KIRO_API_KEY",
        "KIRO_ACCESS_TOKEN",
        "KIRO_REFRESH_TOKEN",
    ):
        env.pop(name, None)
    # A throwaway store: its own key, so no "back up your key" warning for a temp dir.
    env["KIROGATE_SECRET_KEY"] = secrets.token_urlsafe(32)
    return env


def run_demo(host: str = "127.0.0.1", port: int | None = None) -> int:
    """Start both processes, smoke-test them, print settings, and wait for a stop signal.

    SIGINT, SIGTERM and SIGHUP stop it at any point, startup included; both children are
    stopped (their process groups, SIGKILL after a grace period) and the temporary
    directory is removed before it returns. If the demo itself is killed, Linux ends the
    children for it.
    """
    previous = {signum: signal.signal(signum, _raise_stop) for signum in STOP_SIGNALS}
    procs: list[subprocess.Popen[bytes]] = []
    workdir = Path(tempfile.mkdtemp(prefix="kirogate-demo-"))
    try:
        emulator_port = free_port(host)
        gateway_port = port or free_port(host)
        creds = write_demo_credentials(workdir)
        env = demo_env()
        python = sys.executable
        emulator = start_child(
            [
                python,
                "-m",
                "kirogate",
                "emulator",
                "--host",
                host,
                "--port",
                str(emulator_port),
                "--plan",
                DEMO_PLAN,
            ],
            env,
        )
        procs.append(emulator)
        wait_for_http(f"http://{host}:{emulator_port}/_emulator/stats", proc=emulator)
        gateway = start_child(
            [
                python,
                "-m",
                "kirogate",
                "serve",
                "--host",
                host,
                "--port",
                str(gateway_port),
                "--api-key",
                DEMO_API_KEY,
                "--credentials",
                str(creds),
                "--upstream-url",
                f"http://{host}:{emulator_port}",
                "--data-dir",
                str(workdir / "data"),
                "--log-level",
                "warning",
            ],
            env,
        )
        procs.insert(0, gateway)  # stopped first: it holds the connections to the emulator
        base = f"http://{host}:{gateway_port}"
        wait_for_http(f"{base}/health", proc=gateway)
        try:
            reply: str | None = smoke_request(base)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            sys.stderr.write(f"warning: the smoke request failed: {exc}\n")
            reply = None
        print_instructions(base, reply)
        while gateway.poll() is None and emulator.poll() is None:
            time.sleep(0.5)
        for name, proc in (("gateway", gateway), ("emulator", emulator)):
            if proc.returncode is not None:
                sys.stderr.write(f"the demo's {name} exited with code {proc.returncode}\n")
        return 1
    except DemoStopped:
        sys.stdout.write("\nstopping the demo\n")
        sys.stdout.flush()
        return 0
    except RuntimeError as exc:  # a child exited or did not answer while starting
        sys.stderr.write(f"the demo could not start: {exc}\n")
        return 1
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        try:
            stop_children(procs)
            shutil.rmtree(workdir, ignore_errors=True)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
