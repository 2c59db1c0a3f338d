"""One live emulator + gateway per test module, driven by the official SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.live import LiveStack, live_stack
from tests.loopback_proxy import LoopbackProxy, loopback_proxy


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    tmp: Path = tmp_path_factory.mktemp("stack")
    with live_stack(tmp) as running:
        yield running


@pytest.fixture
def claude(stack: LiveStack) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)


@pytest.fixture
def oai(stack: LiveStack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=stack.api_key, max_retries=0)


@pytest.fixture(scope="session")
def egress() -> Iterator[LoopbackProxy]:
    """The proxy every client test runs behind: loopback passes, anything else is refused."""
    with loopback_proxy() as proxy:
        yield proxy
