"""The Vercel AI SDK (``ai`` with its Anthropic and OpenAI providers) in a 3-step tool loop.

``tests/clients/vercel_ai.mjs`` runs ``generateText`` or ``streamText`` with one tool and
``stopWhen: stepCountIs(3)``; the emulator calls the tool in two rounds, then answers with text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.clients import CLIENTS_DIR, INSTALL_HINT, client_env, drive, node, node_package
from tests.live import LiveStack
from tests.loopback_proxy import LoopbackProxy

NODE = node()
MISSING = [
    name
    for name in ("ai", "@ai-sdk/anthropic", "@ai-sdk/openai", "zod")
    if node_package(name) is None
]

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="Node.js is not installed (the AI SDK needs it)"),
    pytest.mark.skipif(bool(MISSING), reason=f"{', '.join(MISSING)} missing: {INSTALL_HINT}"),
    pytest.mark.timeout(120),
]

PROMPT = 'Weather? [[emu:tool name=lookup input=\'{"city":"Paris"}\' rounds=2]]'


@pytest.mark.parametrize("mode", ["generate", "stream"])
@pytest.mark.parametrize("route", ["anthropic", "openai-chat", "openai-responses"])
def test_vercel_ai_runs_a_three_step_tool_loop(
    route: str, mode: str, tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    run = drive(
        [NODE or "node", CLIENTS_DIR / "vercel_ai.mjs", route, mode, stack.base_url, PROMPT],
        client="the AI SDK",
        base_url=stack.base_url,
        proxy=egress,
        env=client_env(tmp_path / "home", egress, {"KIROGATE_CLIENT_KEY": stack.api_key}),
        cwd=CLIENTS_DIR,
        timeout=100,
    )
    assert run.code == 0, run.why
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["calls"] == ["Paris", "Paris"], run.why
    assert [step["toolCalls"] for step in out["steps"]] == [1, 1, 0], run.why
    assert out["finishReason"] == "stop", run.why
    assert out["text"].endswith("Tool result: sunny in Paris (call 2)"), run.why
    assert not run.errors, run.refused
