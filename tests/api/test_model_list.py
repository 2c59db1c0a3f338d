"""``GET /v1/models``: only what some usable credential's plan allows; the permanent 4xx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from kirogate.api.app import create_app
from kirogate.metrics import GatewayMetrics
from kirogate.service import Gateway
from kirogate.settings import load_settings
from kirogate.upstream.credentials import AuthMethod, Credential

KEY = "kg-test-key"


def credential(cid: int, title: str | None = None) -> Credential:
    return Credential(
        AuthMethod.SOCIAL,
        refresh_token=f"aorAAAAA{cid}" + "r" * 120,
        id=cid,
        subscription_title=title,
    )


async def client_for(gateway: Gateway) -> httpx2.AsyncClient:
    app = create_app(gateway, metrics=GatewayMetrics(), environ={})
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.1", 1))
    return httpx2.AsyncClient(
        transport=transport, base_url="http://test", headers={"x-api-key": KEY}
    )


@pytest.fixture
async def free_only() -> AsyncIterator[Gateway]:
    gw = Gateway(load_settings({"KIROGATE_API_KEY": KEY}), [credential(1, "KIRO FREE")])
    yield gw
    await gw.close()


async def listed(http: httpx2.AsyncClient) -> list[str]:
    response = await http.get("/v1/models")
    assert response.status_code == 200
    return [item["id"] for item in response.json()["data"]]


async def test_free_plan_pool_does_not_list_opus(free_only: Gateway) -> None:
    async with await client_for(free_only) as http:
        ids = await listed(http)
    assert "claude-sonnet-4-6" in ids
    assert not [model for model in ids if "opus" in model]


async def test_a_pro_credential_brings_opus_back() -> None:
    gw = Gateway(
        load_settings({"KIROGATE_API_KEY": KEY}),
        [credential(1, "KIRO FREE"), credential(2, "KIRO PRO+")],
    )
    async with await client_for(gw) as http:
        ids = await listed(http)
    await gw.close()
    assert "claude-opus-4-8" in ids


async def test_unknown_plan_lists_every_model() -> None:
    gw = Gateway(load_settings({"KIROGATE_API_KEY": KEY}), [credential(1)])
    async with await client_for(gw) as http:
        ids = await listed(http)
    await gw.close()
    assert "claude-opus-4-8" in ids


async def test_a_model_the_plan_excludes_is_404_by_id(free_only: Gateway) -> None:
    async with await client_for(free_only) as http:
        response = await http.get("/v1/models/claude-opus-4-6", headers={"anthropic-version": "1"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


async def test_opus_request_on_a_free_plan_is_a_404_not_a_503(free_only: Gateway) -> None:
    body = {
        "model": "claude-opus-4-6",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with await client_for(free_only) as http:
        anthropic = await http.post("/v1/messages", json=body)
        openai = await http.post("/v1/chat/completions", json=body)
    assert anthropic.status_code == 404
    assert anthropic.json()["error"]["type"] == "not_found_error"
    assert "not available on this account's plan" in anthropic.json()["error"]["message"]
    assert openai.status_code == 404
    assert openai.json()["error"]["code"] == "model_not_found"


async def test_request_without_any_credential_is_403_saying_how_to_add_one() -> None:
    gw = Gateway(load_settings({"KIROGATE_API_KEY": KEY}), [])
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with await client_for(gw) as http:
        anthropic = await http.post("/v1/messages", json=body)
        openai = await http.post("/v1/chat/completions", json=body)
    await gw.close()
    assert anthropic.status_code == 403
    error = anthropic.json()["error"]
    assert error["type"] == "permission_error"
    assert "kirogate login" in error["message"] and "kirogate accounts add" in error["message"]
    assert openai.status_code == 403
    assert openai.json()["error"]["type"] == "permission_error"


async def test_a_streamed_request_gets_the_same_404(free_only: Gateway) -> None:
    body = {
        "model": "claude-opus-4-6",
        "max_tokens": 16,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with await client_for(free_only) as http:
        response = await http.post("/v1/messages", json=body)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


async def test_configured_aliases_are_listed_and_answer_like_their_target() -> None:
    settings = load_settings(
        {"KIROGATE_API_KEY": KEY, "KIROGATE_MODEL_ALIASES": "gpt-4o=claude-sonnet-4-6"}
    )
    gw = Gateway(settings, [credential(1, "KIRO PRO+")])
    try:
        async with await client_for(gw) as http:
            assert "gpt-4o" in await listed(http)
            response = await http.get("/v1/models/GPT-4o")
            assert response.status_code == 200, response.text
    finally:
        await gw.close()
