from __future__ import annotations

import aiohttp

from kirogate.emulator.app import RunningEmulator
from tests.emulator.support import generate, request_body, social_token


async def test_requests_are_recorded_with_headers_query_and_json_body(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    await generate(session, emulator.url, token, content="recorded")
    async with session.get(f"{emulator.url}/getUsageLimits?origin=AI_EDITOR") as resp:
        assert resp.status == 403
    async with session.get(f"{emulator.url}/_emulator/requests") as resp:
        entries = (await resp.json())["requests"]
    assert [e["path"] for e in entries] == [
        "/refreshToken",
        "/generateAssistantResponse",
        "/getUsageLimits",
    ]
    generate_entry = entries[1]
    assert generate_entry["method"] == "POST"
    assert generate_entry["headers"]["Authorization"] == f"Bearer {token}"
    assert generate_entry["body"] == request_body("recorded")
    assert generate_entry["status"] == 200
    assert entries[2]["query"] == {"origin": "AI_EDITOR"}
    assert entries[2]["status"] == 403


async def test_requests_filter_and_limit(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    for word in ("one", "two", "three"):
        await generate(session, emulator.url, token, content=word)
    url = f"{emulator.url}/_emulator/requests?path=/generateAssistantResponse&limit=2"
    async with session.get(url) as resp:
        entries = (await resp.json())["requests"]
    assert [
        e["body"]["conversationState"]["currentMessage"]["userInputMessage"]["content"]
        for e in entries
    ] == ["two", "three"]


async def test_request_log_is_bounded(
    make_emulator: object, session: aiohttp.ClientSession
) -> None:
    emu = await make_emulator(record_limit=3)  # type: ignore[operator]
    for _ in range(5):
        async with session.get(f"{emu.url}/ListAvailableModels"):
            pass
    assert len(emu.state.requests.entries()) == 3
    assert emu.state.requests.stats()["total"] == 5


async def test_stats_count_paths_and_statuses(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    await generate(session, emulator.url, token)
    await generate(session, emulator.url, token, content="[[emu:throttle]]")
    async with session.get(f"{emulator.url}/_emulator/stats") as resp:
        stats = await resp.json()
    assert stats == {
        "total": 3,
        "byPath": {"/generateAssistantResponse": 2, "/refreshToken": 1},
        "byStatus": {"200": 2, "429": 1},
    }


async def test_reset_forgets_everything_or_only_requests(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    async with session.post(f"{emulator.url}/_emulator/reset?what=requests") as resp:
        assert resp.status == 200
    assert emulator.state.requests.stats()["total"] == 0
    assert (await generate(session, emulator.url, token))[0] == 200
    async with session.post(f"{emulator.url}/_emulator/reset") as resp:
        assert resp.status == 200
    assert (await generate(session, emulator.url, token))[0] == 403
    assert emulator.state.accounts == {}


async def test_credentials_listing_and_registration_with_access_token(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    body = {"accessToken": "aoaPRESET", "authMethod": "social", "expiresIn": 60, "email": "x@y.z"}
    async with session.post(f"{emulator.url}/_emulator/credentials", json=body) as resp:
        assert resp.status == 200
        account = await resp.json()
    assert account["authMethod"] == "social"
    assert (await generate(session, emulator.url, "aoaPRESET"))[0] == 200
    async with session.get(f"{emulator.url}/_emulator/credentials") as resp:
        listing = (await resp.json())["credentials"]
    assert [a["email"] for a in listing] == ["x@y.z"]
    assert listing[0]["requests"] == 1
    bad = {"authMethod": "magic"}
    async with session.post(f"{emulator.url}/_emulator/credentials", json=bad) as resp:
        assert resp.status == 400


async def test_api_key_credential_with_scenario(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    body = {"apiKey": "ksk_ctl", "scenario": "tv1"}
    async with session.post(f"{emulator.url}/_emulator/credentials", json=body) as resp:
        assert (await resp.json())["authMethod"] == "api_key"
    headers = {"Authorization": "Bearer ksk_ctl", "tokentype": "API_KEY"}
    url = f"{emulator.url}/generateAssistantResponse"
    async with session.post(url, json=request_body(profile_arn=None), headers=headers) as resp:
        assert resp.status == 200
        assert b"world!" in await resp.read()


async def test_expire_and_revoke_unknown_tokens_are_404(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.post(f"{emulator.url}/_emulator/expire", json={"accessToken": "x"}) as r:
        assert r.status == 404
    async with session.post(f"{emulator.url}/_emulator/revoke", json={}) as r:
        assert r.status == 404
    async with session.post(f"{emulator.url}/_emulator/approve", json={"userCode": "NOPE"}) as r:
        assert r.status == 404


async def test_revoking_an_access_token(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    async with session.post(f"{emulator.url}/_emulator/revoke", json={"accessToken": token}) as r:
        assert r.status == 200
    assert (await generate(session, emulator.url, token))[0] == 403


async def test_clock_endpoint_expires_tokens(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    token = await social_token(session, emulator.url)
    async with session.post(f"{emulator.url}/_emulator/clock", json={"advance": 4000}) as r:
        assert r.status == 200
    assert (await generate(session, emulator.url, token))[0] == 403
    async with session.post(f"{emulator.url}/_emulator/clock", json={"advance": "x"}) as r:
        assert r.status == 400


async def test_scenarios_and_config_listing(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{emulator.url}/_emulator/scenarios") as resp:
        names = [s["name"] for s in (await resp.json())["scenarios"]]
    assert "tv1" in names and "write" in names
    async with session.get(f"{emulator.url}/_emulator/config") as resp:
        config = await resp.json()
    assert config["port"] == int(emulator.url.rsplit(":", 1)[1])
    assert config["pacing"]["chunk_count"] is None
    assert config["validation"]["max_tool_name"] == 64


async def test_inspection_requests_are_not_recorded(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{emulator.url}/_emulator/stats") as resp:
        assert (await resp.json())["total"] == 0
