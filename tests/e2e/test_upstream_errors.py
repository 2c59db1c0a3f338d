"""Upstream failures reach clients as the right status in their own dialect, with failover."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.live import REFRESH_TOKEN, LiveStack, live_stack

MODEL = "claude-sonnet-4-6"
SECOND_TOKEN = "aorAAAAAGsecond" + "s" * 120


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    tmp: Path = tmp_path_factory.mktemp("pair")
    creds = [
        {"refreshToken": REFRESH_TOKEN, "authMethod": "social", "priority": 0},
        {"refreshToken": SECOND_TOKEN, "authMethod": "social", "priority": 1},
    ]
    with live_stack(tmp, credentials=creds) as running:
        yield running


def client(stack: LiveStack) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.base_url, api_key=stack.api_key, max_retries=0)


def calls(stack: LiveStack) -> int:
    stats = stack.emulator_json("/_emulator/stats")
    assert isinstance(stats, dict)
    paths = stats["byPath"]
    return int(paths.get("/generateAssistantResponse", 0))


def test_throttled_single_attempt_maps_to_429_with_retry_after(tmp_path: Path) -> None:
    with live_stack(tmp_path) as stack:
        with pytest.raises(anthropic.RateLimitError) as raised:
            client(stack).messages.create(
                model=MODEL,
                max_tokens=10,
                messages=[{"role": "user", "content": "x [[emu:throttle retry_after=3]]"}],
            )
        assert raised.value.response.headers["retry-after"] == "3"
        oai = openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=stack.api_key, max_retries=0)
        with pytest.raises(openai.RateLimitError):
            oai.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "x [[emu:throttle]]"}]
            )


def test_quota_exhausted_credential_fails_over_to_the_next(pair: LiveStack) -> None:
    pair.emulator_json(
        "/_emulator/credentials", {"refreshToken": REFRESH_TOKEN, "scenario": "quota", "count": 1}
    )
    before = calls(pair)
    reply = client(pair).messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "after quota"}]
    )
    assert reply.content[0].text == "Echo: after quota"
    assert calls(pair) - before == 2


def test_server_error_is_retried_then_answers(pair: LiveStack) -> None:
    pair.emulator_json(
        "/_emulator/credentials",
        {"refreshToken": SECOND_TOKEN, "scenario": "server-error", "count": 1},
    )
    reply = client(pair).messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "retry me"}]
    )
    assert reply.content[0].text == "Echo: retry me"


def test_expired_access_token_is_refreshed_once_and_retried(pair: LiveStack) -> None:
    pair.emulator_json(
        "/_emulator/credentials",
        {"refreshToken": SECOND_TOKEN, "scenario": "bad-token", "count": 1},
    )
    reply = client(pair).messages.create(
        model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "refresh me"}]
    )
    assert reply.content[0].text == "Echo: refresh me"


def test_dropped_connection_mid_stream_tells_the_client_no_library_detail(
    pair: LiveStack,
) -> None:
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client(pair).messages.stream(
            model=MODEL,
            max_tokens=10,
            messages=[{"role": "user", "content": "long answer [[emu:drop after=2]]"}],
        ) as stream,
    ):
        for _ in stream:
            pass
    text = str(caught.value.body)
    assert "the upstream connection broke mid-answer" in text
    for leak in ("ClientPayloadError", "TransferEncodingError", "aiohttp", "Error:"):
        assert leak not in text


def test_dropped_connection_mid_stream_ends_with_an_error_event(pair: LiveStack) -> None:
    with (
        pytest.raises(anthropic.APIStatusError),
        client(pair).messages.stream(
            model=MODEL,
            max_tokens=10,
            messages=[{"role": "user", "content": "long answer [[emu:drop after=2]]"}],
        ) as stream,
    ):
        for _ in stream:
            pass
