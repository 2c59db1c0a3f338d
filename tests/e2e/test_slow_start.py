"""A slow upstream start: after the grace the stream opens with pings, and SDKs read it whole."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.live import LiveStack, live_stack

MODEL = "claude-sonnet-4-6"
STALL = "[[emu:stall seconds=1.5 headers=0]]"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    tmp: Path = tmp_path_factory.mktemp("slow")
    with live_stack(tmp, serve_args=["--set", "upstream.first_byte_grace=0.3"]) as running:
        yield running


def test_anthropic_stream_starts_with_a_ping_and_ends_with_the_answer(stack: LiveStack) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": f"late {STALL}"}],
    }
    request = urllib.request.Request(
        f"{stack.base_url}/v1/messages",
        data=json.dumps(body).encode(),
        headers={"x-api-key": stack.api_key, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        text = response.read().decode()
    assert text.index("event: message_start") < text.index("event: ping")
    assert text.index("event: ping") < text.index("content_block_delta")
    assert text.rstrip().endswith('data: {"type":"message_stop"}')
    client = anthropic.Anthropic(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)
    with client.messages.stream(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": f"sdk {STALL}"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text"
    assert final.content[0].text.startswith("Echo: sdk")


def test_openai_chat_stream_reads_through_the_wait(stack: LiveStack) -> None:
    client = openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=stack.api_key, max_retries=0)
    chunks = client.chat.completions.create(
        model=MODEL, stream=True, messages=[{"role": "user", "content": f"chat {STALL}"}]
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.startswith("Echo: chat")


def test_streamed_response_can_be_continued(stack: LiveStack) -> None:
    client = openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=stack.api_key, max_retries=0)
    events = list(client.responses.create(model=MODEL, input=f"first {STALL}", stream=True))
    done = [e for e in events if e.type == "response.completed"]
    assert done
    follow = client.responses.create(
        model=MODEL, input="second", previous_response_id=done[0].response.id
    )
    assert follow.output_text.startswith("Echo: second")
