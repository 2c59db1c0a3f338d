"""The real Claude Code CLI through kirogate, with its own default model and settings.

Only the gateway's address and key are set (no ``--model``), and everything Claude Code would
send elsewhere (telemetry, updates, plugin sync) is turned off and, failing that, refused by the
loopback-only proxy. One test pins a model to keep the agent loop covered on its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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

CLAUDE = npm_bin("claude")

pytestmark = [
    pytest.mark.skipif(
        CLAUDE is None,
        reason=f"Claude Code CLI (@anthropic-ai/claude-code) missing: {INSTALL_HINT}",
    ),
    pytest.mark.timeout(240),
]

# Everything Claude Code documents for keeping it from contacting anything but the API.
QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1",
    "CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL": "1",
}


def _claude(
    tmp_path: Path,
    stack: LiveStack,
    egress: LoopbackProxy,
    args: list[str],
    *,
    base_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> tuple[str, str, int]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = client_env(
        tmp_path / "home",
        egress,
        {
            **QUIET,
            "ANTHROPIC_BASE_URL": base_url or stack.base_url,
            "ANTHROPIC_API_KEY": stack.api_key,
            **(extra or {}),
        },
    )
    mark = egress.mark()
    result = run_client([CLAUDE or "claude", *args], env=env, cwd=work, timeout=200)
    assert_no_egress(egress, mark, "Claude Code")
    return result.stdout, outcome(result), result.returncode


def test_claude_code_default_model_answers_a_plain_prompt(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    stdout, why, code = _claude(tmp_path, stack, egress, ["-p", "Say hi plain-prompt-check"])
    assert code == 0, why
    assert "Echo:" in stdout and "plain-prompt-check" in stdout, why


def test_claude_code_default_model_writes_a_file_with_its_write_tool(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    target = tmp_path / "work" / "hello.txt"
    prompt = f"Please create the file [[emu:write path={target} content=hello-from-kirogate]]"
    stdout, why, code = _claude(
        tmp_path,
        stack,
        egress,
        ["-p", prompt, "--permission-mode", "acceptEdits", "--allowedTools", "Write"],
    )
    assert code == 0, why
    assert target.read_text() == "hello-from-kirogate"
    assert f"Done: wrote {target}" in stdout, why


def test_claude_code_default_model_streams_json_events(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    stdout, why, code = _claude(
        tmp_path,
        stack,
        egress,
        ["-p", "Say hi stream-json-check", "--output-format", "stream-json", "--verbose"],
    )
    assert code == 0, why
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert events and events[0]["type"] == "system", why
    result = events[-1]
    assert result["type"] == "result" and result["is_error"] is False, why
    assert "stream-json-check" in result["result"], why
    assert any(e["type"] == "assistant" for e in events), why


def test_claude_code_default_model_through_the_cc_base_url(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    stdout, why, code = _claude(
        tmp_path, stack, egress, ["-p", "Say hi cc-route-check"], base_url=f"{stack.base_url}/cc"
    )
    assert code == 0, why
    assert "Echo:" in stdout and "cc-route-check" in stdout, why


def test_claude_code_with_a_pinned_model_writes_a_file(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    target = tmp_path / "work" / "pinned.txt"
    prompt = f"Please create the file [[emu:write path={target} content=pinned-model]]"
    stdout, why, code = _claude(
        tmp_path,
        stack,
        egress,
        ["-p", prompt, "--permission-mode", "acceptEdits", "--allowedTools", "Write"],
        extra={"ANTHROPIC_MODEL": "claude-sonnet-4-6"},
    )
    assert code == 0, why
    assert target.read_text() == "pinned-model"
    assert f"Done: wrote {target}" in stdout, why
    stats = stack.emulator_json("/_emulator/stats")
    assert isinstance(stats, dict) and stats["byPath"]["/generateAssistantResponse"] >= 2
