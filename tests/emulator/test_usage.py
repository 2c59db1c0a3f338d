from __future__ import annotations

import aiohttp
import pytest

from kirogate.emulator.app import RunningEmulator
from kirogate.emulator.usage import UsagePlan, plan_type, update_plan, usage_document
from tests.emulator.support import bearer, social_refresh, social_token

NOW = 1_767_000_000.0


def test_usage_document_has_spec_fields_and_epoch_seconds() -> None:
    doc = usage_document(UsagePlan(), now=NOW, email="a@b.c", user_id="u1")
    assert doc["userInfo"] == {"email": "a@b.c", "userId": "u1"}
    assert doc["subscriptionInfo"]["subscriptionTitle"] == "KIRO FREE"
    breakdown = doc["usageBreakdownList"][0]
    assert breakdown["resourceType"] == "CREDIT"
    assert breakdown["usageLimitWithPrecision"] == 50.0
    assert breakdown["freeTrialInfo"]["freeTrialStatus"] == "ACTIVE"
    assert isinstance(doc["nextDateReset"], float)
    assert 1e9 < doc["nextDateReset"] < 1e10  # seconds, not milliseconds
    assert breakdown["bonuses"] == []


def test_usage_document_omits_email_when_not_asked() -> None:
    doc = usage_document(UsagePlan(), now=NOW, email=None, user_id="u1")
    assert doc["userInfo"] == {"userId": "u1"}


def test_remaining_counts_trial_and_active_bonuses_only() -> None:
    plan = UsagePlan(usage_limit=50, current_usage=10, free_trial_limit=500, free_trial_usage=100)
    update_plan(
        plan,
        {
            "bonuses": [
                {"usageLimit": 100.0, "currentUsage": 20.0, "status": "ACTIVE"},
                {"usageLimit": 999.0, "currentUsage": 0.0, "status": "EXPIRED"},
            ]
        },
    )
    assert plan.remaining() == (50 - 10) + (500 - 100) + (100 - 20)
    plan.free_trial_status = "EXPIRED"
    assert plan.remaining() == 40 + 80


def test_charge_spends_the_trial_first() -> None:
    plan = UsagePlan(free_trial_limit=1.0, free_trial_usage=0.5)
    plan.charge(2.0)
    assert plan.free_trial_usage == 1.0
    assert plan.current_usage == 1.5


def test_update_plan_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown usage field"):
        update_plan(UsagePlan(), {"nope": 1})


async def test_get_usage_limits_route(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.state.register_credential(
        refresh_token="aorUsage",
        email="me@example.com",
        usage={"subscriptionTitle": "KIRO PRO+", "usageLimit": 1000.0, "currentUsage": 12.5},
    )
    token = (await social_refresh(session, emulator.url, "aorUsage"))["accessToken"]
    query = "isEmailRequired=true&origin=AI_EDITOR&resourceType=AGENTIC_REQUEST"
    url = f"{emulator.url}/getUsageLimits?{query}"
    async with session.get(url, headers=bearer(token)) as resp:
        assert resp.status == 200
        doc = await resp.json()
    assert doc["userInfo"]["email"] == "me@example.com"
    assert doc["subscriptionInfo"]["subscriptionTitle"] == "KIRO PRO+"
    assert doc["usageBreakdownList"][0]["currentUsageWithPrecision"] == 12.5
    async with session.get(f"{emulator.url}/getUsageLimits", headers=bearer(token)) as resp:
        assert "email" not in (await resp.json())["userInfo"]
    async with session.get(f"{emulator.url}/getUsageLimits") as resp:
        assert resp.status == 403


async def test_usage_for_api_key(emulator: RunningEmulator, session: aiohttp.ClientSession) -> None:
    url = f"{emulator.url}/getUsageLimits"
    async with session.get(url, headers=bearer("ksk_usage", api_key=True)) as resp:
        assert resp.status == 200


async def test_suspended_account_usage_is_403(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.state.register_credential(refresh_token="aorSusp", scenario="suspended")
    token = (await social_refresh(session, emulator.url, "aorSusp"))["accessToken"]
    async with session.get(f"{emulator.url}/getUsageLimits", headers=bearer(token)) as resp:
        assert resp.status == 403
        assert (await resp.json())["reason"] == "TEMPORARILY_SUSPENDED"


async def test_quota_scenario_shows_exhausted_usage(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    emulator.state.register_credential(refresh_token="aorQ", scenario="quota")
    token = (await social_refresh(session, emulator.url, "aorQ"))["accessToken"]
    async with session.get(f"{emulator.url}/getUsageLimits", headers=bearer(token)) as resp:
        breakdown = (await resp.json())["usageBreakdownList"][0]
    assert breakdown["currentUsageWithPrecision"] == breakdown["usageLimitWithPrecision"]
    trial = breakdown["freeTrialInfo"]
    assert trial["currentUsageWithPrecision"] == trial["usageLimitWithPrecision"]
    account = emulator.state.access_tokens[token].account
    assert account.usage.current_usage == 0.0  # the stored plan is untouched


async def test_usage_reflects_credits_spent(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    from tests.emulator.support import generate

    token = await social_token(session, emulator.url)
    await generate(session, emulator.url, token)
    async with session.get(f"{emulator.url}/getUsageLimits", headers=bearer(token)) as resp:
        trial = (await resp.json())["usageBreakdownList"][0]["freeTrialInfo"]
    assert trial["currentUsageWithPrecision"] > 0


def test_plan_type_follows_the_title() -> None:
    assert plan_type("KIRO FREE") == "Q_DEVELOPER_STANDALONE_FREE"
    assert plan_type("KIRO PRO+") == "Q_DEVELOPER_STANDALONE_PRO_PLUS"
