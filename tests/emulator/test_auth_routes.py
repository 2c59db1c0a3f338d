from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import aiohttp

from kirogate.emulator.app import RunningEmulator
from kirogate.emulator.config import SOCIAL_PROFILE_ARN
from tests.emulator.conftest import StartEmulator
from tests.emulator.support import generate, social_refresh

INVALID_GRANT = b'{"error":"invalid_grant","error_description":"Invalid refresh token provided"}'
REDIRECT = "kiro://kiro.kiroAgent/authenticate-success"


async def _refresh_raw(session: aiohttp.ClientSession, base: str, token: str) -> tuple[int, bytes]:
    async with session.post(f"{base}/refreshToken", json={"refreshToken": token}) as resp:
        return resp.status, await resp.read()


async def test_social_refresh_returns_tokens_and_profile_arn(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    data = await social_refresh(session, emulator.url, "aorFirstSight")
    assert list(data) == ["accessToken", "refreshToken", "profileArn", "expiresIn"]
    assert data["profileArn"] == SOCIAL_PROFILE_ARN
    assert data["expiresIn"] == 3600
    assert data["refreshToken"] != "aorFirstSight"
    assert len(data["refreshToken"]) >= 100
    status, _, _ = await generate(session, emulator.url, data["accessToken"])
    assert status == 200


async def test_rotation_kills_the_used_refresh_token(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    first = await social_refresh(session, emulator.url, "aorRotate")
    assert await _refresh_raw(session, emulator.url, "aorRotate") == (400, INVALID_GRANT)
    second = await social_refresh(session, emulator.url, first["refreshToken"])
    assert second["refreshToken"] != first["refreshToken"]
    assert emulator.state.refresh_tokens[second["refreshToken"]].id == (
        emulator.state.access_tokens[first["accessToken"]].account.id
    )


async def test_without_rotation_the_refresh_token_is_reused(
    make_emulator: StartEmulator, session: aiohttp.ClientSession
) -> None:
    emu = await make_emulator(rotate_refresh_tokens=False)
    first = await social_refresh(session, emu.url, "aorKeep")
    second = await social_refresh(session, emu.url, "aorKeep")
    assert first["refreshToken"] == second["refreshToken"] == "aorKeep"
    assert first["accessToken"] != second["accessToken"]


async def test_revoked_refresh_tokens_get_invalid_grant(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    assert await _refresh_raw(session, emulator.url, "aor-revoked-1") == (400, INVALID_GRANT)
    current = (await social_refresh(session, emulator.url, "aorToRevoke"))["refreshToken"]
    url = f"{emulator.url}/_emulator/revoke"
    async with session.post(url, json={"refreshToken": current}) as resp:
        assert resp.status == 200
    assert await _refresh_raw(session, emulator.url, current) == (400, INVALID_GRANT)


async def test_social_refresh_without_token_is_400(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.post(f"{emulator.url}/refreshToken", json={}) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_request"


async def test_idc_refresh_token_is_not_a_social_one(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.state.register_credential(refresh_token="aorIdcOnly", client_id="emu-x")
    assert await _refresh_raw(session, emulator.url, "aorIdcOnly") == (400, INVALID_GRANT)


def _pkce() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(b"v" * 32).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


async def _login(session: aiohttp.ClientSession, base: str, challenge: str) -> dict[str, list[str]]:
    params = {
        "idp": "Google",
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st4te",
    }
    async with session.get(f"{base}/login", params=params, allow_redirects=False) as resp:
        assert resp.status == 302
        location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


async def test_social_pkce_login_and_code_exchange(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    verifier, challenge = _pkce()
    query = await _login(session, emulator.url, challenge)
    assert query["state"] == ["st4te"]
    body = {"code": query["code"][0], "code_verifier": verifier, "redirect_uri": REDIRECT}
    async with session.post(f"{emulator.url}/oauth/token", json=body) as resp:
        assert resp.status == 200
        tokens = await resp.json()
    assert list(tokens) == ["accessToken", "refreshToken", "profileArn", "expiresIn"]
    status, _, _ = await generate(session, emulator.url, tokens["accessToken"])
    assert status == 200
    async with session.post(f"{emulator.url}/oauth/token", json=body) as resp:
        assert resp.status == 400  # codes are single-use
        assert (await resp.json())["error"] == "invalid_grant"


async def test_code_exchange_checks_the_verifier_and_redirect(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    verifier, challenge = _pkce()
    query = await _login(session, emulator.url, challenge)
    body = {"code": query["code"][0], "code_verifier": "wrong", "redirect_uri": REDIRECT}
    async with session.post(f"{emulator.url}/oauth/token", json=body) as resp:
        assert resp.status == 400
        assert (await resp.json())["error_description"] == "PKCE verification failed"
    query = await _login(session, emulator.url, challenge)
    body = {"code": query["code"][0], "code_verifier": verifier, "redirect_uri": "http://x/cb"}
    async with session.post(f"{emulator.url}/oauth/token", json=body) as resp:
        assert resp.status == 400
    async with session.post(f"{emulator.url}/oauth/token", json={"code": "x"}) as resp:
        assert (await resp.json())["error"] == "invalid_request"


async def test_login_rejects_missing_challenge_and_unknown_idp(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    url = f"{emulator.url}/login"
    params = {"idp": "Google", "redirect_uri": REDIRECT}
    async with session.get(url, params=params, allow_redirects=False) as resp:
        assert resp.status == 400
    params = {"idp": "Okta", "redirect_uri": REDIRECT, "code_challenge": "c"}
    async with session.get(url, params=params, allow_redirects=False) as resp:
        assert resp.status == 400
    params = {"idp": "Github", "redirect_uri": "http://127.0.0.1:1/cb?x=1", "code_challenge": "c"}
    async with session.get(url, params=params, allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"].startswith("http://127.0.0.1:1/cb?x=1&code=")


async def test_a_refresh_outage_answers_its_status_until_it_ends(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    outage = f"{emulator.url}/_emulator/refresh-outage"
    async with session.post(outage, json={"status": 503}) as resp:
        assert resp.status == 200
    status, body = await _refresh_raw(session, emulator.url, "aorDuringOutage")
    assert status == 503
    assert b"invalid_grant" not in body
    async with session.post(outage, json={"status": None}) as resp:
        assert resp.status == 200
    assert (await _refresh_raw(session, emulator.url, "aorDuringOutage"))[0] == 200


async def test_a_refresh_outage_needs_an_error_status(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    async with session.post(f"{emulator.url}/_emulator/refresh-outage", json={"status": 200}) as r:
        assert r.status == 400
