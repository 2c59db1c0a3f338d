from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from kirogate.emulator.app import RunningEmulator
from kirogate.emulator.websearch import answer, search_results
from tests.emulator.support import bearer, social_refresh, social_token


def _call(query: Any, *, method: str = "tools/call", name: str = "web_search") -> dict[str, Any]:
    return {
        "id": "web_search_tooluse_x_1_abc",
        "jsonrpc": "2.0",
        "method": method,
        "params": {"name": name, "arguments": {"query": query}},
    }


def test_results_are_deterministic_and_shaped_like_the_spec() -> None:
    assert search_results("rust async traits") == search_results("rust async traits")
    first = search_results("rust async traits")[0]
    assert list(first) == [
        "title",
        "url",
        "snippet",
        "publishedDate",
        "id",
        "domain",
        "maxVerbatimWordLimit",
        "publicDomain",
    ]
    assert first["url"].endswith("/rust-async-traits/1")
    assert "rust async traits" in first["snippet"]
    assert search_results("other query") != search_results("rust async traits")


def test_answer_text_is_a_json_string_with_results() -> None:
    body = answer(_call("rust async traits"))
    assert body["id"] == "web_search_tooluse_x_1_abc"
    assert body["result"]["isError"] is False
    text = orjson.loads(body["result"]["content"][0]["text"])
    assert text["query"] == "rust async traits"
    assert len(text["results"]) == 5
    assert text["error"] is None


def test_answer_errors_are_json_rpc_errors() -> None:
    assert answer(_call("x", method="tools/list"))["error"]["code"] == -32601
    assert answer(_call("x", name="other"))["error"]["code"] == -32602
    assert answer(_call(""))["error"]["code"] == -32602
    assert answer(_call("boom [[emu:error]]"))["error"] == {
        "code": -32000,
        "message": "Web search failed: upstream search error",
    }
    assert answer([1, 2])["error"]["code"] == -32600
    empty = orjson.loads(answer(_call("q [[emu:empty]]"))["result"]["content"][0]["text"])
    assert empty["results"] == []


async def test_mcp_route(emulator: RunningEmulator, session: aiohttp.ClientSession) -> None:
    token = await social_token(session, emulator.url)
    headers = {**bearer(token), "x-amzn-kiro-profile-arn": emulator.state.config.social_profile_arn}
    async with session.post(f"{emulator.url}/mcp", json=_call("kiro"), headers=headers) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert orjson.loads(body["result"]["content"][0]["text"])["query"] == "kiro"
    async with session.post(f"{emulator.url}/mcp", json=_call("kiro")) as resp:
        assert resp.status == 403


async def test_mcp_rejects_a_foreign_profile_header(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    headers = {
        **bearer(token),
        "x-amzn-kiro-profile-arn": "arn:aws:codewhisperer:us-east-1:1:profile/X",
    }
    async with session.post(f"{emulator.url}/mcp", json=_call("kiro"), headers=headers) as resp:
        assert resp.status == 403


async def test_mcp_follows_credential_http_scenarios(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.state.register_credential(refresh_token="aorMcp", scenario="throttle", count=1)
    token = (await social_refresh(session, emulator.url, "aorMcp"))["accessToken"]
    url = f"{emulator.url}/mcp"
    async with session.post(url, json=_call("q"), headers=bearer(token)) as resp:
        assert resp.status == 429
    async with session.post(url, json=_call("q"), headers=bearer(token)) as resp:
        assert resp.status == 200


async def test_mcp_with_api_key(emulator: RunningEmulator, session: aiohttp.ClientSession) -> None:
    headers = bearer("ksk_mcp", api_key=True)
    async with session.post(f"{emulator.url}/mcp", json=_call("q"), headers=headers) as resp:
        assert resp.status == 200
