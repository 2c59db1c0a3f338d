"""profileArn discovery through listAvailableProfiles (spec data §1.4, auth §4.4)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from kirogate.errors import UpstreamAuthRejected, UpstreamForbidden
from kirogate.upstream.auth.profiles import ensure_profile_arn, is_profile_arn, pick_profile_arn
from tests.upstream.test_client import (
    ARN,
    MACHINE_ID,
    api_key,
    fake_upstream,
    json_answer,
    kiro_client,
    social,
)

EU_ARN = "arn:aws:codewhisperer:eu-central-1:123456789012:profile/EUPROFILE"


def profile(arn: str, status: str = "ACTIVE") -> dict[str, Any]:
    return {"arn": arn, "profileName": "p", "profileType": "Q_DEVELOPER", "status": status}


def test_arn_pattern() -> None:
    assert is_profile_arn(ARN)
    assert not is_profile_arn("arn:aws:codewhisperer:us-east-1:acct:profile/X")
    assert not is_profile_arn(ARN + "/extra")
    assert not is_profile_arn(None)


def test_pick_skips_inactive_and_invalid_profiles() -> None:
    profiles = [profile(EU_ARN, "INACTIVE"), profile("not-an-arn"), profile(ARN)]
    assert pick_profile_arn(profiles) == ARN


def test_pick_prefers_the_api_region() -> None:
    assert pick_profile_arn([profile(ARN), profile(EU_ARN)], region="eu-central-1") == EU_ARN
    assert pick_profile_arn([profile(EU_ARN)], region="us-east-1") == EU_ARN


async def test_discovers_and_stores_the_first_active_profile() -> None:
    profiles = [profile(EU_ARN, "INACTIVE"), profile(ARN)]
    async with fake_upstream() as fake, kiro_client(fake.url, host_style="runtime") as client:
        fake.on("POST", "/listAvailableProfiles", json_answer({"profiles": profiles}))
        credential = social()
        assert await ensure_profile_arn(client, credential, machine_id=MACHINE_ID) == ARN
        assert credential.profile_arn == ARN
        assert await ensure_profile_arn(client, credential, machine_id=MACHINE_ID) == ARN
    assert len(fake.seen) == 1


async def test_concurrent_first_requests_discover_once() -> None:
    async def slow(req: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.1)
        return web.json_response({"profiles": [profile(ARN)]})

    async with fake_upstream() as fake, kiro_client(fake.url, host_style="runtime") as client:
        fake.on("POST", "/listAvailableProfiles", slow)
        credential = social()
        arns = await asyncio.gather(
            *(ensure_profile_arn(client, credential, machine_id=MACHINE_ID) for _ in range(5))
        )
    assert arns == [ARN] * 5
    assert len(fake.seen) == 1


async def test_known_arn_api_key_and_q_host_need_no_call() -> None:
    async with fake_upstream() as fake:
        async with kiro_client(fake.url, host_style="runtime") as client:
            known = social(profile_arn=ARN)
            assert await ensure_profile_arn(client, known, machine_id=MACHINE_ID) == ARN
            assert await ensure_profile_arn(client, api_key(), machine_id=MACHINE_ID) is None
        async with kiro_client(fake.url, host_style="q") as client:
            assert await ensure_profile_arn(client, social(), machine_id=MACHINE_ID) is None
    assert fake.seen == []


async def test_no_usable_profile_is_a_clear_error() -> None:
    async with fake_upstream() as fake, kiro_client(fake.url, host_style="runtime") as client:
        fake.on("POST", "/listAvailableProfiles", json_answer({"profiles": []}))
        credential = social(email="dev@example.com")
        with pytest.raises(UpstreamForbidden, match=r"dev@example\.com.*no ACTIVE profile"):
            await ensure_profile_arn(client, credential, machine_id=MACHINE_ID)
    assert credential.profile_arn is None


async def test_discovery_http_error_is_classified() -> None:
    body = {"message": "The bearer token included in the request is invalid."}
    async with fake_upstream() as fake, kiro_client(fake.url, host_style="runtime") as client:
        fake.on("POST", "/listAvailableProfiles", json_answer(body, status=403))
        with pytest.raises(UpstreamAuthRejected):
            await ensure_profile_arn(client, social(), machine_id=MACHINE_ID)
