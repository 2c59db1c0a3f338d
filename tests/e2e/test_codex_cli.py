"""The real Codex CLI (``codex exec``) through kirogate's Responses API.

Codex reads ``~/.codex/config.toml`` from a temporary HOME: a model provider with
``wire_api = "responses"`` at kirogate's ``/v1``, and plugin sync, analytics and update checks off
(at start Codex otherwise contacts its plugin and update hosts).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.clients import (
    INSTALL_HINT,
    assert_no_egress,
    client_env,
    npm_bin,
    outcome,
    run_client,
)
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
) -> tuple[str, str, int, Path]:
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(CONFIG.format(base_url=stack.base_url))
    work = tmp_path / "work"
    work.mkdir()
    env = client_env(home, egress, {"KIROGATE_CLIENT_KEY": stack.api_key})
    mark = egress.mark()
    result = run_client(
        [CODEX or "codex", "exec", "--skip-git-repo-check", "-C", work, prompt],
        env=env,
        cwd=work,
        timeout=200,
    )
    assert_no_egress(egress, mark, "Codex CLI")
    return result.stdout, outcome(result), result.returncode, work


def test_codex_exec_answers_a_plain_prompt(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    stdout, why, code, _ = _codex(tmp_path, stack, egress, "Say hi codex-plain-check")
    assert code == 0, why
    assert stdout.startswith("Echo:") and "codex-plain-check" in stdout, why


def test_codex_exec_runs_its_shell_tool_and_reads_the_result(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    command = '{"cmd":"echo codex-was-here > made.txt && cat made.txt"}'
    prompt = f"Run it [[emu:tool name=exec_command input='{command}']]"
    stdout, why, code, work = _codex(tmp_path, stack, egress, prompt)
    assert code == 0, why
    assert (work / "made.txt").read_text() == "codex-was-here\n"
    assert stdout.startswith("Tool result:") and "codex-was-here" in stdout, why
