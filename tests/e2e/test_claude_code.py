"""The real Claude Code CLI through kirogate, with its own default model and settings.

Only the gateway's address and key are set (no ``--model``), and everything Claude Code would
send elsewhere (telemetry, updates, plugin sync) is turned off and, failing that, refused by the
loopback-only proxy. Each test also fails when kirogate refused any request on the way: on a
400 Claude Code retries without the features it used, which would hide the defect. One test pins
a model to keep the agent loop covered on its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.e2e.clients import INSTALL_HINT, ClientRun, client_env, drive, npm_bin
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
WRITE_ALLOWED = ["--permission-mode", "acceptEdits", "--allowedTools", "Write"]


def _claude(
    tmp_path: Path,
    stack: LiveStack,
    egress: LoopbackProxy,
    args: list[str],
    *,
    base_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> ClientRun:
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
    return drive(
        [CLAUDE or "claude", *args],
        client="Claude Code",
        base_url=stack.base_url,
        proxy=egress,
        env=env,
        cwd=work,
    )


def test_claude_code_default_model_answers_a_plain_prompt(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    run = _claude(tmp_path, stack, egress, ["-p", "Say hi plain-prompt-check"])
    assert run.code == 0, run.why
    assert "Echo:" in run.stdout and "plain-prompt-check" in run.stdout, run.why
    assert not run.errors, run.refused


def test_claude_code_default_model_writes_a_file_with_its_write_tool(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    target = tmp_path / "work" / "hello.txt"
    prompt = f"Please create the file [[emu:write path={target} content=hello-from-kirogate]]"
    run = _claude(tmp_path, stack, egress, ["-p", prompt, *WRITE_ALLOWED])
    assert run.code == 0, run.why
    assert target.read_text() == "hello-from-kirogate"
    assert f"Done: wrote {target}" in run.stdout, run.why
    assert not run.errors, run.refused


def test_claude_code_default_model_streams_json_events(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    run = _claude(
        tmp_path,
        stack,
        egress,
        ["-p", "Say hi stream-json-check", "--output-format", "stream-json", "--verbose"],
    )
    assert run.code == 0, run.why
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert events and events[0]["type"] == "system", run.why
    result = events[-1]
    assert result["type"] == "result" and result["is_error"] is False, run.why
    assert "stream-json-check" in result["result"], run.why
    assert any(e["type"] == "assistant" for e in events), run.why
    assert not run.errors, run.refused


def test_claude_code_default_model_through_the_cc_base_url(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    run = _claude(
        tmp_path, stack, egress, ["-p", "Say hi cc-route-check"], base_url=f"{stack.base_url}/cc"
    )
    assert run.code == 0, run.why
    assert "Echo:" in run.stdout and "cc-route-check" in run.stdout, run.why
    assert not run.errors, run.refused


def test_claude_code_with_a_pinned_model_writes_a_file(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    target = tmp_path / "work" / "pinned.txt"
    prompt = f"Please create the file [[emu:write path={target} content=pinned-model]]"
    run = _claude(
        tmp_path,
        stack,
        egress,
        ["-p", prompt, *WRITE_ALLOWED],
        extra={"ANTHROPIC_MODEL": "claude-sonnet-4-6"},
    )
    assert run.code == 0, run.why
    assert target.read_text() == "pinned-model"
    assert f"Done: wrote {target}" in run.stdout, run.why
    assert not run.errors, run.refused
    stats = stack.emulator_json("/_emulator/stats")
    assert isinstance(stats, dict) and stats["byPath"]["/generateAssistantResponse"] >= 2
