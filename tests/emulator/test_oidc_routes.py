from __future__ import annotations

from typing import Any

import aiohttp

from kirogate.emulator.app import RunningEmulator
from tests.emulator.conftest import StartEmulator
from tests.emulator.support import bearer, generate

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
INVALID_GRANT = {"error": "invalid_grant", "error_description": "Invalid refresh token provided"}


async def _post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with session.post(url, json=body) as resp:
        return resp.status, await resp.json()


async def _register(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    status, data = await _post(
        session,
        f"{base}/client/register",
        {"clientName": "Kiro IDE", "clientType": "public", "scopes": ["codewhisperer:completions"]},
    )
    assert status == 200
    return data


async def _start(
    session: aiohttp.ClientSession, base: str, client: dict[str, Any]
) -> dict[str, Any]:
    status, data = await _post(
        session,
        f"{base}/device_authorization",
        {**client, "startUrl": "https://view.awsapps.com/start"},
    )
    assert status == 200
    return data


def _poll_body(client: dict[str, Any], device: dict[str, Any]) -> dict[str, Any]:
    return {
        "clientId": client["clientId"],
        "clientSecret": client["clientSecret"],
        "deviceCode": device["deviceCode"],
        "grantType": DEVICE_GRANT,
    }


async def test_register_client_returns_camel_case_registration(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    data = await _register(session, emulator.url)
    assert list(data) == ["clientId", "clientSecret", "clientIdIssuedAt", "clientSecretExpiresAt"]
    assert data["clientSecretExpiresAt"] > data["clientIdIssuedAt"]
    status, err = await _post(session, f"{emulator.url}/client/register", {})
    assert (status, err["error"]) == (400, "invalid_request")


async def test_device_flow_pending_then_approved_by_opening_the_url(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    emu = await make_emulator(device_poll_interval=0)
    registered = await _register(session, emu.url)
    client = {"clientId": registered["clientId"], "clientSecret": registered["clientSecret"]}
    device = await _start(session, emu.url, client)
    assert device["verificationUriComplete"] == (f"{emu.url}/device?user_code={device['userCode']}")
    assert (device["expiresIn"], device["interval"]) == (600, 0)
    status, err = await _post(session, f"{emu.url}/token", _poll_body(client, device))
    assert (status, err["error"]) == (400, "authorization_pending")
    async with session.get(device["verificationUriComplete"]) as resp:
        assert resp.status == 200
        assert "approved" in await resp.text()
    status, tokens = await _post(session, f"{emu.url}/token", _poll_body(client, device))
    assert status == 200
    assert list(tokens) == ["accessToken", "tokenType", "expiresIn", "refreshToken"]
    assert "profileArn" not in tokens
    account = emu.state.access_tokens[tokens["accessToken"]].account
    status, _, _ = await generate(
        session, emu.url, tokens["accessToken"], profile_arn=account.profile_arn
    )
    assert status == 200
    status, err = await _post(session, f"{emu.url}/token", _poll_body(client, device))
    assert (status, err["error"]) == (400, "invalid_grant")


async def test_polling_faster_than_interval_is_slow_down(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    client = {"clientId": "emu-any", "clientSecret": "whatever"}
    device = await _start(session, emulator.url, client)
    assert device["interval"] == 1
    status, err = await _post(session, f"{emulator.url}/token", _poll_body(client, device))
    assert err["error"] == "authorization_pending"
    status, err = await _post(session, f"{emulator.url}/token", _poll_body(client, device))
    assert (status, err["error"]) == (400, "slow_down")
    emulator.state.advance_clock(1.5)
    status, err = await _post(session, f"{emulator.url}/token", _poll_body(client, device))
    assert err["error"] == "authorization_pending"


async def test_asked_slow_down_raises_the_interval_by_five_seconds(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    client = {"clientId": "emu-any", "clientSecret": "whatever"}
    device = await _start(session, emulator.url, client)
    async with session.post(f"{emulator.url}/_emulator/slow-down", json={"polls": 1}) as resp:
        assert (resp.status, await resp.json()) == (200, {"slowDowns": 1})
    status, err = await _post(session, f"{emulator.url}/token", _poll_body(client, device))
    assert (status, err["error"]) == (400, "slow_down")
    emulator.state.advance_clock(1.5)  # the old interval is not enough any more
    status, err = await _post(session, f"{emulator.url}/token", _poll_body(client, device))
    assert err["error"] == "slow_down"
    emulator.state.advance_clock(6.5)
    status, err = await _post(session, f"{emulator.url}/token", _poll_body(client, device))
    assert err["error"] == "authorization_pending"
    async with session.post(f"{emulator.url}/_emulator/slow-down", json={"polls": -1}) as resp:
        assert resp.status == 400


async def test_device_code_expires(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    emu = await make_emulator(device_code_ttl=5, device_poll_interval=0)
    client = {"clientId": "emu-any", "clientSecret": "s"}
    device = await _start(session, emu.url, client)
    assert device["expiresIn"] == 5
    emu.state.advance_clock(5.5)
    status, err = await _post(session, f"{emu.url}/token", _poll_body(client, device))
    assert (status, err["error"]) == (400, "expired_token")
    async with session.get(device["verificationUriComplete"]) as resp:
        assert resp.status == 404


async def test_denied_device_code_is_access_denied(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    emu = await make_emulator(device_poll_interval=0)
    client = {"clientId": "emu-any", "clientSecret": "s"}
    device = await _start(session, emu.url, client)
    url = f"{emu.url}/_emulator/approve"
    async with session.post(url, json={"userCode": device["userCode"], "deny": True}) as resp:
        assert resp.status == 200
    status, err = await _post(session, f"{emu.url}/token", _poll_body(client, device))
    assert (status, err["error"]) == (400, "access_denied")


async def test_unknown_client_is_invalid_client(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    registered = await _register(session, emulator.url)
    bad = {"clientId": registered["clientId"], "clientSecret": "wrong", "startUrl": "https://x"}
    status, err = await _post(session, f"{emulator.url}/device_authorization", bad)
    assert (status, err["error"]) == (401, "invalid_client")
    body = {
        "clientId": "nobody",
        "clientSecret": "x",
        "refreshToken": "r",
        "grantType": "refresh_token",
    }
    status, err = await _post(session, f"{emulator.url}/token", body)
    assert (status, err["error"]) == (401, "invalid_client")


async def test_idc_refresh_rotates_and_binds_to_the_client(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    registered = await _register(session, emulator.url)
    body = {**registered, "refreshToken": "aorIdcNew", "grantType": "refresh_token"}
    body.pop("clientIdIssuedAt")
    body.pop("clientSecretExpiresAt")
    status, tokens = await _post(session, f"{emulator.url}/token", body)
    assert status == 200
    assert tokens["tokenType"] == "Bearer"
    assert "profileArn" not in tokens
    status, err = await _post(session, f"{emulator.url}/token", body)
    assert (status, err) == (400, INVALID_GRANT)
    other = {
        "clientId": "emu-other",
        "clientSecret": "x",
        "refreshToken": tokens["refreshToken"],
        "grantType": "refresh_token",
    }
    status, err = await _post(session, f"{emulator.url}/token", other)
    assert (status, err) == (400, INVALID_GRANT)
    status, _ = await _post(
        session, f"{emulator.url}/token", {**body, "refreshToken": tokens["refreshToken"]}
    )
    assert status == 200


async def test_idc_token_needs_profile_arn_discovered_via_list_profiles(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    body = {
        "clientId": "emu-c",
        "clientSecret": "s",
        "refreshToken": "aorD",
        "grantType": "refresh_token",
    }
    _, tokens = await _post(session, f"{emulator.url}/token", body)
    token = tokens["accessToken"]
    status, _, _ = await generate(session, emulator.url, token, profile_arn=None)
    assert status == 400
    url = f"{emulator.url}/listAvailableProfiles"
    async with session.post(url, json={}, headers=bearer(token)) as resp:
        arn = (await resp.json())["profiles"][0]["arn"]
    status, _, _ = await generate(session, emulator.url, token, profile_arn=arn)
    assert status == 200


async def test_client_registered_through_control_endpoint(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    status, _ = await _post(
        session, f"{emulator.url}/_emulator/clients", {"clientId": "cid", "clientSecret": "sec"}
    )
    assert status == 200
    body = {
        "clientId": "cid",
        "clientSecret": "sec",
        "refreshToken": "aorZ",
        "grantType": "refresh_token",
    }
    status, _ = await _post(session, f"{emulator.url}/token", body)
    assert status == 200


async def test_unsupported_grant_type(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    body = {"clientId": "emu-c", "clientSecret": "s", "grantType": "password"}
    status, err = await _post(session, f"{emulator.url}/token", body)
    assert (status, err["error"]) == (400, "unsupported_grant_type")


async def test_device_page_without_code_shows_a_form(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{emulator.url}/device") as resp:
        assert resp.status == 200
        assert "<form" in await resp.text()
