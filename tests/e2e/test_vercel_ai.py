"""The Vercel AI SDK (``ai`` with its Anthropic and OpenAI providers) in a 3-step tool loop.

``tests/clients/vercel_ai.mjs`` runs ``generateText`` or ``streamText`` with one tool and
``stopWhen: stepCountIs(3)``; the emulator calls the tool in two rounds, then answers with text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.clients import (
    CLIENTS_DIR,
    INSTALL_HINT,
    assert_no_egress,
    client_env,
    node,
    node_package,
    outcome,
    run_client,
)
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
    env = client_env(tmp_path / "home", egress, {"KIROGATE_CLIENT_KEY": stack.api_key})
    mark = egress.mark()
    result = run_client(
        [NODE or "node", CLIENTS_DIR / "vercel_ai.mjs", route, mode, stack.base_url, PROMPT],
        env=env,
        cwd=CLIENTS_DIR,
        timeout=100,
    )
    assert_no_egress(egress, mark, "the AI SDK")
    why = outcome(result)
    assert result.returncode == 0, why
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["calls"] == ["Paris", "Paris"], why
    assert [step["toolCalls"] for step in out["steps"]] == [1, 1, 0], why
    assert out["finishReason"] == "stop", why
    assert out["text"].endswith("Tool result: sunny in Paris (call 2)"), why
