"""Client keys with limits, through the official ``anthropic`` and ``openai`` SDKs against a
live kirogate + emulator: created with the admin API, refused with the dialect's errors."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests import live
from tests.live import LiveStack, live_stack

MODEL = "claude-sonnet-4-6"
PORTS = range(21000, 21050)  # this suite's private ports (the brief's range)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    tmp: Path = tmp_path_factory.mktemp("keys")
    taken: set[int] = set()

    def port() -> int:
        for candidate in PORTS:
            if candidate in taken:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", candidate))
                except OSError:
                    continue
            taken.add(candidate)
            return candidate
        raise RuntimeError("no free port in the private range")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live, "free_port", port)
        with live_stack(tmp) as running:
            yield running


def admin(stack: LiveStack, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        stack.base_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": stack.admin_key},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read() or b"null")


def new_key(stack: LiveStack, **fields: Any) -> dict[str, Any]:
    status, body = admin(stack, "POST", "/api/admin/keys", {"name": "test", **fields})
    assert status == 201, body
    return dict(body)


_CLIENTS: list[anthropic.Anthropic | openai.OpenAI] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def claude_for(stack: LiveStack, key: str) -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=stack.base_url, api_key=key, max_retries=0)
    _CLIENTS.append(client)
    return client


def oai_for(stack: LiveStack, key: str) -> openai.OpenAI:
    client = openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=key, max_retries=0)
    _CLIENTS.append(client)
    return client


def ask(claude: anthropic.Anthropic, model: str = MODEL) -> anthropic.types.Message:
    return claude.messages.create(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
    )


def chat(oai: openai.OpenAI, model: str = MODEL) -> Any:
    return oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}])


def test_a_key_with_rpm_3_gets_its_fourth_request_refused_with_retry_after(
    stack: LiveStack,
) -> None:
    key = new_key(stack, limits={"rpm": 3})["key"]
    claude = claude_for(stack, key)
    for _ in range(3):
        ask(claude)
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask(claude)
    retry_after = float(caught.value.response.headers["retry-after"])
    assert 0 < retry_after <= 60
    assert caught.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert "3 requests per minute" in caught.value.message
    with pytest.raises(openai.RateLimitError) as refused:
        chat(oai_for(stack, key))
    assert refused.value.response.headers["retry-after"]
    assert refused.value.body["type"] == "rate_limit_error"  # type: ignore[index]


def test_a_key_limited_to_one_model_gets_403_for_another(stack: LiveStack) -> None:
    key = new_key(stack, limits={"models": ["claude-haiku-*"]})["key"]
    claude = claude_for(stack, key)
    assert ask(claude, "claude-haiku-4-5").content
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        ask(claude, MODEL)
    assert MODEL in caught.value.message
    oai = oai_for(stack, key)
    assert chat(oai, "claude-haiku-4-5").choices
    with pytest.raises(openai.PermissionDeniedError) as refused:
        chat(oai, MODEL)
    assert MODEL in refused.value.message
    with pytest.raises(openai.PermissionDeniedError):
        oai.responses.create(model=MODEL, input="Hello")
    listed = [model.id for model in oai.models.list()]
    assert listed and all(name.startswith("claude-haiku") for name in listed)


def test_a_token_quota_stops_the_key_once_the_reported_usage_passes_it(
    stack: LiveStack,
) -> None:
    created = new_key(stack, limits={"tokens_per_day": 5})
    claude = claude_for(stack, created["key"])
    reply = ask(claude)  # starts under the quota, ends over it
    assert reply.usage.input_tokens + reply.usage.output_tokens > 5
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask(claude)
    assert "5 tokens per day" in caught.value.message
    assert float(caught.value.response.headers["retry-after"]) > 0
    with pytest.raises(openai.RateLimitError):
        chat(oai_for(stack, created["key"]))


def test_a_streamed_answer_counts_its_tokens_too(stack: LiveStack) -> None:
    created = new_key(stack, limits={"tokens_per_month": 5})
    claude = claude_for(stack, created["key"])
    with claude.messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "stream me"}]
    ) as stream:
        "".join(stream.text_stream)
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask(claude)
    assert "tokens per month" in caught.value.message


def test_a_revoked_key_gets_401(stack: LiveStack) -> None:
    created = new_key(stack)
    claude = claude_for(stack, created["key"])
    ask(claude)
    status, _ = admin(stack, "DELETE", f"/api/admin/keys/{created['id']}")
    assert status == 200
    with pytest.raises(anthropic.AuthenticationError) as caught:
        ask(claude)
    assert "revoked" in caught.value.message
    with pytest.raises(openai.AuthenticationError):
        chat(oai_for(stack, created["key"]))


def test_a_disabled_and_an_expired_key_get_401(stack: LiveStack) -> None:
    created = new_key(stack)
    claude = claude_for(stack, created["key"])
    ask(claude)
    status, body = admin(stack, "PATCH", f"/api/admin/keys/{created['id']}", {"enabled": False})
    assert status == 200 and body["enabled"] is False
    with pytest.raises(anthropic.AuthenticationError) as caught:
        ask(claude)
    assert "disabled" in caught.value.message
    admin(stack, "PATCH", f"/api/admin/keys/{created['id']}", {"enabled": True})
    ask(claude)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    expired = new_key(stack, expires_at=past)
    with pytest.raises(openai.AuthenticationError) as refused:
        chat(oai_for(stack, expired["key"]))
    assert "expired" in refused.value.message


def test_the_listing_shows_usage_and_the_default_key(stack: LiveStack) -> None:
    created = new_key(stack)
    ask(claude_for(stack, created["key"]))
    ask(claude_for(stack, stack.api_key))
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while True:
        status, body = admin(stack, "GET", "/api/admin/keys")
        assert status == 200
        rows = {row["id"]: row for row in body["keys"]}
        mine = rows[created["id"]]
        if mine["usage"]["today"]["requests"] >= 1 or datetime.now(UTC) > deadline:
            break
    assert mine["usage"]["today"]["requests"] == 1
    assert mine["usage"]["month"]["tokens"] > 0
    assert mine["last_used_at"] is not None
    assert mine["group"] is None  # bound keys: tests/service/test_groups.py
    assert "key" not in mine and created["key"] not in json.dumps(body)
    default = rows["default"]
    assert default["configured"] is True
    assert stack.api_key not in json.dumps(default)
    status, refused = admin(stack, "PATCH", "/api/admin/keys/default", {"name": "x"})
    assert status == 400 and "--api-key" in refused["error"]["message"]
    status, _ = admin(stack, "DELETE", "/api/admin/keys/default")
    assert status == 400


def test_regenerate_gives_a_new_key_and_the_old_one_stops_working(stack: LiveStack) -> None:
    created = new_key(stack)
    ask(claude_for(stack, created["key"]))
    status, body = admin(stack, "POST", f"/api/admin/keys/{created['id']}/regenerate")
    assert status == 200 and body["key"] != created["key"] and body["id"] == created["id"]
    with pytest.raises(anthropic.AuthenticationError):
        ask(claude_for(stack, created["key"]))
    ask(claude_for(stack, body["key"]))


def test_the_admin_api_refuses_client_keys(stack: LiveStack) -> None:
    created = new_key(stack)
    for key in (created["key"], stack.api_key):
        request = urllib.request.Request(
            stack.base_url + "/api/admin/keys", headers={"x-api-key": key}
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        with caught.value as refused:
            assert refused.code == 401


def test_a_stream_the_client_abandoned_counts_its_tokens(stack: LiveStack) -> None:
    created = new_key(stack, limits={"tokens_per_day": 1})
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "stream": True,
        "messages": [{"role": "user", "content": "[[emu:slow delay=0.5]] one two three four"}],
    }
    headers = {"x-api-key": created["key"], "anthropic-version": "2023-06-01"}
    with (
        httpx.Client(timeout=10) as http,
        http.stream("POST", f"{stack.base_url}/v1/messages", json=body, headers=headers) as reply,
    ):
        assert reply.status_code == 200
        next(reply.iter_bytes())  # the first event, then the client hangs up
    deadline = time.monotonic() + 5
    while True:  # counted when the gateway closed the upstream stream, written within a second
        _, row = admin(stack, "GET", f"/api/admin/keys/{created['id']}")
        if row["usage"]["today"]["tokens"] > 0:
            break
        assert time.monotonic() < deadline, "the abandoned stream's tokens were never counted"
        time.sleep(0.1)
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask(claude_for(stack, created["key"]))
    assert "tokens per day" in caught.value.message
