"""``kirogate demo``: an emulator and a gateway in one process tree, ready for a client.

Nobody needs a Kiro account for this: the emulator plays the upstream, a throwaway
credential lives in a temporary directory, and the banner prints curl, SDK and Claude Code
settings that work as pasted. Ctrl-C stops both processes.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

DEMO_API_KEY = "kirogate-demo"
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
            "model": "claude-sonnet-4-5",
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
        '    -d \'{"model":"claude-sonnet-4-5","max_tokens":256,'
        '"messages":[{"role":"user","content":"Hi"}]}\'\n\n'
    )
    out.write("curl (OpenAI Chat Completions, streaming):\n")
    out.write(
        f"  curl -N {base}/v1/chat/completions -H 'Authorization: Bearer {DEMO_API_KEY}' "
        "-H 'content-type: application/json' \\\n"
        '    -d \'{"model":"claude-sonnet-4-5","stream":true,'
        '"messages":[{"role":"user","content":"Hi"}]}\'\n\n'
    )
    out.write("Python SDKs:\n")
    out.write(f"  anthropic.Anthropic(base_url='{base}', api_key='{DEMO_API_KEY}')\n")
    out.write(f"  openai.OpenAI(base_url='{base}/v1', api_key='{DEMO_API_KEY}')\n\n")
    out.write("Claude Code:\n")
    out.write(
        f"  ANTHROPIC_BASE_URL={base} ANTHROPIC_AUTH_TOKEN={DEMO_API_KEY} "
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 claude\n\n"
    )
    out.flush()


def run_demo(host: str = "127.0.0.1", port: int | None = None) -> int:
    """Start both processes, smoke-test them, print settings, and wait for Ctrl-C."""
    emulator_port = free_port(host)
    gateway_port = port or free_port(host)
    workdir = Path(tempfile.mkdtemp(prefix="kirogate-demo-"))
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
    python = sys.executable
    emulator = subprocess.Popen(
        [python, "-m", "kirogate", "emulator", "--host", host, "--port", str(emulator_port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    gateway: subprocess.Popen[bytes] | None = None
    try:
        wait_for_http(f"http://{host}:{emulator_port}/_emulator/stats", proc=emulator)
        gateway = subprocess.Popen(
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
            env=env,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://{host}:{gateway_port}"
        wait_for_http(f"{base}/health", proc=gateway)
        try:
            reply: str | None = smoke_request(base)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            sys.stderr.write(f"warning: the smoke request failed: {exc}\n")
            reply = None
        print_instructions(base, reply)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while gateway.poll() is None and emulator.poll() is None:
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        sys.stdout.write("\nstopping the demo\n")
        return 0
    finally:
        for proc in (gateway, emulator):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in (gateway, emulator):
            if proc is not None:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
