"""LiteLLM's ``completion`` through both of kirogate's routes: ``anthropic/`` and ``openai/``.

``tests/clients/litellm_client.py`` runs in a child process behind the loopback-only proxy, with
the local model cost map (LiteLLM fetches it from the internet on import otherwise).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.e2e.clients import CLIENTS_DIR, client_env, drive
from tests.live import LiveStack
from tests.loopback_proxy import LoopbackProxy

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("litellm") is None,
        reason="litellm not installed (pip install -e '.[test]' installs it)",
    ),
    pytest.mark.timeout(120),
]

QUIET = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}


def _litellm(
    tmp_path: Path, stack: LiveStack, egress: LoopbackProxy, route: str, mode: str
) -> dict[str, object]:
    run = drive(
        [sys.executable, CLIENTS_DIR / "litellm_client.py", route, mode, stack.base_url],
        client="LiteLLM",
        base_url=stack.base_url,
        proxy=egress,
        env=client_env(tmp_path / "home", egress, {**QUIET, "KIROGATE_CLIENT_KEY": stack.api_key}),
        cwd=tmp_path,
        timeout=100,
    )
    assert run.code == 0, run.why
    assert not run.errors, run.refused
    out: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return out


@pytest.mark.parametrize("route", ["anthropic", "openai"])
def test_litellm_completion_answers(
    route: str, tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    out = _litellm(tmp_path, stack, egress, route, "plain")
    assert out["text"] == "Echo: Say hi litellm-plain"
    assert isinstance(out["usage"], int) and out["usage"] > 0


@pytest.mark.parametrize("route", ["anthropic", "openai"])
def test_litellm_completion_streams(
    route: str, tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    out = _litellm(tmp_path, stack, egress, route, "stream")
    assert out["text"] == "Echo: Say hi litellm-stream"
    assert isinstance(out["chunks"], int) and out["chunks"] > 1


@pytest.mark.parametrize("route", ["anthropic", "openai"])
def test_litellm_completion_tool_round_trip(
    route: str, tmp_path: Path, stack: LiveStack, egress: LoopbackProxy
) -> None:
    out = _litellm(tmp_path, stack, egress, route, "tools")
    assert out["calls"] == [{"name": "lookup", "arguments": {"city": "Paris"}}]
    assert out["finish"] == "tool_calls"
    assert out["text"] == "Tool result: sunny in Paris"
