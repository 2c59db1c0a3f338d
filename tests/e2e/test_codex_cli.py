"""The real Codex CLI (``codex exec``) through kirogate's Responses API.

Codex reads ``~/.codex/config.toml`` from a temporary HOME: a model provider with
``wire_api = "responses"`` at kirogate's ``/v1``, and plugin sync, analytics and update checks off
(at start Codex otherwise contacts its plugin and update hosts).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.clients import INSTALL_HINT, ClientRun, client_env, drive, npm_bin
from tests.live import LiveStack
from tests.loopback_proxy import LoopbackProxy

CODEX = npm_bin("codex")

pytestmark = [
    pytest.mark.skipif(CODEX is None, reason=f"Codex CLI (@openai/codex) missing: {INSTALL_HINT}"),
    pytest.mark.timeout(240),
]

CONFIG = """\
model = "claude-sonnet-4-6"
model_provider = "kirogate"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.kirogate]
name = "kirogate"
base_url = "{base_url}/v1"
env_key = "KIROGATE_CLIENT_KEY"
wire_api = "responses"

[features]
plugins = false

[analytics]
enabled = false
"""


def _codex(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy, prompt: str
) -> tuple[ClientRun, Path]:
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(CONFIG.format(base_url=stack.base_url))
    work = tmp_path / "work"
    work.mkdir()
    run = drive(
        [CODEX or "codex", "exec", "--skip-git-repo-check", "-C", work, prompt],
        client="Codex CLI",
        base_url=stack.base_url,
        proxy=egress,
        env=client_env(home, egress, {"KIROGATE_CLIENT_KEY": stack.api_key}),
        cwd=work,
    )
    return run, work


def test_codex_exec_answers_a_plain_prompt(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    run, _ = _codex(tmp_path, stack, egress, "Say hi codex-plain-check")
    assert run.code == 0, run.why
    assert run.stdout.startswith("Echo:") and "codex-plain-check" in run.stdout, run.why
    assert not run.errors, run.refused


def test_codex_exec_runs_its_shell_tool_and_reads_the_result(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    command = '{"cmd":"echo codex-was-here > made.txt && cat made.txt"}'
    prompt = f"Run it [[emu:tool name=exec_command input='{command}']]"
    run, work = _codex(tmp_path, stack, egress, prompt)
    assert run.code == 0, run.why
    assert (work / "made.txt").read_text() == "codex-was-here\n"
    assert run.stdout.startswith("Tool result:") and "codex-was-here" in run.stdout, run.why
    assert not run.errors, run.refused
