"""The real Claude Code CLI writes a file through kirogate, then answers with text."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import live_stack

CLAUDE = shutil.which("claude")


@pytest.mark.skipif(
    CLAUDE is None,
    reason="Claude Code CLI not installed (npm install -g @anthropic-ai/claude-code; "
    ".ci/run installs it when the npm registry is reachable)",
)
def test_claude_code_writes_a_file_with_its_write_tool(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    target = work / "hello.txt"
    with live_stack(tmp_path / "stack") as stack:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")},
            "HOME": str(tmp_path / "stack" / "home"),
            "ANTHROPIC_BASE_URL": stack.base_url,
            "ANTHROPIC_API_KEY": stack.api_key,
            "ANTHROPIC_MODEL": "claude-sonnet-4-6",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
        }
        prompt = f"Please create the file [[emu:write path={target} content=hello-from-kirogate]]"
        result = subprocess.run(
            [
                CLAUDE or "claude",
                "-p",
                prompt,
                "--permission-mode",
                "acceptEdits",
                "--allowedTools",
                "Write",
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        stats = stack.emulator_json("/_emulator/stats")
    assert result.returncode == 0, result.stdout + result.stderr
    assert target.read_text() == "hello-from-kirogate"
    assert f"Done: wrote {target}" in result.stdout
    assert isinstance(stats, dict) and stats["byPath"]["/generateAssistantResponse"] >= 2
