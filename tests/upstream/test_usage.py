"""Balance maths on getUsageLimits answers (spec auth §4.1-4.2 and emulator documents), the
balance cache, and fetch_balance against the emulator."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kirogate.emulator.app import start_emulator
from kirogate.emulator.config import EmulatorConfig
from kirogate.emulator.usage import UsagePlan, update_plan, usage_document
from kirogate.errors import UpstreamAuthRejected, UpstreamError
from kirogate.upstream.credentials import AuthMethod, Credential
from kirogate.upstream.usage import BalanceCache, fetch_balance, parse_usage_limits
from tests.upstream.test_client import MACHINE_ID, kiro_client

# The spec's example answer (auth §4.1): trial expires 2025-12-17T19:33:20Z, the bonus on
# 2026-01-09T23:06:40Z, the quota resets 2026-01-01T00:00:00Z.
SPEC_ANSWER: dict[str, Any] = {
    "daysUntilReset": 12,
    "nextDateReset": 1767225600.0,
    "limits": [],
    "overageConfiguration": {"overageStatus": "DISABLED"},
    "subscriptionInfo": {
        "subscriptionTitle": "KIRO FREE",
        "type": "Q_DEVELOPER_STANDALONE_FREE",
        "subscriptionManagementTarget": "PURCHASE",
        "overageCapability": "OVERAGE_INCAPABLE",
        "upgradeCapability": "UPGRADE_CAPABLE",
    },
    "userInfo": {"email": "user@example.com", "userId": "d-9067642ac7.a4e8"},
    "usageBreakdownList": [
        {
            "resourceType": "CREDIT",
            "displayName": "Credit",
            "unit": "INVOCATIONS",
            "currency": "USD",
            "usageLimit": 50,
            "usageLimitWithPrecision": 50.0,
            "currentUsage": 12,
            "currentUsageWithPrecision": 12.37,
            "overageCap": 0,
            "overageRate": 0.04,
            "nextDateReset": 1767225600.0,
            "freeTrialInfo": {
                "freeTrialStatus": "ACTIVE",
                "freeTrialExpiry": 1766000000.0,
                "usageLimit": 500,
                "usageLimitWithPrecision": 500.0,
                "currentUsage": 3,
                "currentUsageWithPrecision": 3.5,
            },
            "bonuses": [
                {
                    "bonusCode": "WELCOME",
                    "displayName": "Welcome bonus",
                    "status": "ACTIVE",
                    "expiresAt": 1768000000.0,
                    "usageLimit": 100.0,
                    "usageLimitWithPrecision": 100.0,
                    "currentUsage": 10.0,
                    "currentUsageWithPrecision": 10.0,
                }
            ],
        }
    ],
}
BEFORE_TRIAL_ENDS = datetime(2025, 12, 10, tzinfo=UTC)
AFTER_TRIAL_ENDS = datetime(2025, 12, 20, tzinfo=UTC)
RESET = datetime(2026, 1, 1, tzinfo=UTC)


def answer(**breakdown: Any) -> dict[str, Any]:
    """The spec answer with fields of its CREDIT breakdown replaced (None deletes)."""
    data = copy.deepcopy(SPEC_ANSWER)
    item = data["usageBreakdownList"][0]
    for key, value in breakdown.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    return data


def test_spec_answer_counts_base_active_trial_and_active_bonus() -> None:
    balance = parse_usage_limits(SPEC_ANSWER, now=BEFORE_TRIAL_ENDS)
    assert balance.limit == pytest.approx(50 + 500 + 100)
    assert balance.used == pytest.approx(12.37 + 3.5 + 10)
    assert balance.remaining == pytest.approx(650 - 25.87)
    assert balance.percent_used == pytest.approx(25.87 / 650 * 100)
    assert balance.next_reset_at == RESET
    assert balance.days_until_reset == 12
    assert balance.subscription_title == "KIRO FREE"
    assert balance.subscription_type == "Q_DEVELOPER_STANDALONE_FREE"
    assert balance.email == "user@example.com"
    assert balance.free_trial is not None and balance.free_trial.active
    assert balance.free_trial.expires_at == datetime(2025, 12, 17, 19, 33, 20, tzinfo=UTC)
    assert [bonus.active for bonus in balance.bonuses] == [True]
    assert not balance.exhausted


def test_trial_still_marked_active_but_past_its_expiry_is_not_counted() -> None:
    balance = parse_usage_limits(SPEC_ANSWER, now=AFTER_TRIAL_ENDS)
    assert balance.limit == pytest.approx(150.0)
    assert balance.used == pytest.approx(22.37)
    assert balance.free_trial is not None and not balance.free_trial.active


def test_expired_trial_status_is_not_counted() -> None:
    data = answer(freeTrialInfo={**SPEC_ANSWER["usageBreakdownList"][0]["freeTrialInfo"]})
    data["usageBreakdownList"][0]["freeTrialInfo"]["freeTrialStatus"] = "EXPIRED"
    balance = parse_usage_limits(data, now=BEFORE_TRIAL_ENDS)
    assert balance.limit == pytest.approx(150.0)
    assert balance.free_trial is not None and balance.free_trial.status == "EXPIRED"


def test_without_free_trial_or_bonuses_only_the_base_counts() -> None:
    balance = parse_usage_limits(answer(freeTrialInfo=None, bonuses=None), now=BEFORE_TRIAL_ENDS)
    assert balance.free_trial is None
    assert balance.bonuses == ()
    assert (balance.limit, balance.used) == (50.0, 12.37)
    assert balance.remaining == pytest.approx(37.63)


def test_bonuses_count_only_while_active_and_unexpired() -> None:
    now = BEFORE_TRIAL_ENDS
    bonuses = [
        {"bonusCode": "A", "status": "ACTIVE", "usageLimitWithPrecision": 100.0,
         "currentUsageWithPrecision": 1.0, "expiresAt": 1768000000.0},
        {"bonusCode": "B", "status": "EXPIRED", "usageLimit": 999, "currentUsage": 0},
        {"bonusCode": "C", "status": "ACTIVE", "usageLimit": 40, "currentUsage": 4,
         "expiresAt": (now - timedelta(days=1)).timestamp()},
        {"bonusCode": "D", "status": "active", "usageLimit": 7, "currentUsage": 2},
        {"bonusCode": "E", "usageLimit": 5, "currentUsage": 0},  # no status: has an amount
        {"bonusCode": "F", "expiresAt": (now - timedelta(hours=1)).timestamp(), "usageLimit": 9},
        "not a bonus",
    ]  # fmt: skip
    balance = parse_usage_limits(answer(freeTrialInfo=None, bonuses=bonuses), now=now)
    assert {bonus.code: bonus.active for bonus in balance.bonuses} == {
        "A": True, "B": False, "C": False, "D": True, "E": True, "F": False
    }  # fmt: skip
    assert balance.limit == pytest.approx(50 + 100 + 7 + 5)
    assert balance.used == pytest.approx(12.37 + 1 + 2)


def test_precision_fields_win_over_rounded_ones() -> None:
    data = answer(usageLimit=1000, usageLimitWithPrecision=999.5, currentUsageWithPrecision=0.25)
    balance = parse_usage_limits(data, now=AFTER_TRIAL_ENDS)
    assert balance.limit == pytest.approx(999.5 + 100)
    assert balance.used == pytest.approx(0.25 + 10)


def test_rounded_fields_are_used_when_precision_is_missing_or_odd() -> None:
    data = answer(
        usageLimitWithPrecision=None,
        currentUsageWithPrecision="n/a",
        freeTrialInfo=None,
        bonuses=[],
    )
    balance = parse_usage_limits(data, now=AFTER_TRIAL_ENDS)
    assert (balance.limit, balance.used) == (50.0, 12.0)


def test_reset_dates_are_epoch_seconds_int_float_string_or_iso() -> None:
    for value in (1767225600, 1767225600.0, "1767225600", "2026-01-01T00:00:00Z"):
        data = {**answer(nextDateReset=None), "nextDateReset": value}
        assert parse_usage_limits(data, now=AFTER_TRIAL_ENDS).next_reset_at == RESET, value


def test_millisecond_stamps_are_recognised_not_read_as_seconds() -> None:
    data = {**answer(nextDateReset=None), "nextDateReset": 1767225600000}
    assert parse_usage_limits(data, now=AFTER_TRIAL_ENDS).next_reset_at == RESET


def test_reset_falls_back_to_the_breakdown_and_days_are_derived() -> None:
    data = answer()
    del data["nextDateReset"]
    del data["daysUntilReset"]
    balance = parse_usage_limits(data, now=datetime(2025, 12, 30, 12, tzinfo=UTC))
    assert balance.next_reset_at == RESET
    assert balance.days_until_reset == 2


def test_unusable_reset_values_leave_no_reset_date() -> None:
    data = answer(nextDateReset="soon")
    data["nextDateReset"] = None
    del data["daysUntilReset"]
    balance = parse_usage_limits(data, now=AFTER_TRIAL_ENDS)
    assert balance.next_reset_at is None
    assert balance.days_until_reset is None


def test_zero_remaining_is_exhausted_and_never_negative() -> None:
    data = answer(currentUsageWithPrecision=80.0, freeTrialInfo=None, bonuses=[])
    balance = parse_usage_limits(data, now=AFTER_TRIAL_ENDS)
    assert balance.remaining == 0.0
    assert balance.percent_used == 100.0
    assert balance.exhausted
    exact = answer(currentUsageWithPrecision=50.0, freeTrialInfo=None, bonuses=[])
    assert parse_usage_limits(exact, now=AFTER_TRIAL_ENDS).exhausted


def test_zero_limit_has_zero_percent_and_is_exhausted() -> None:
    data = answer(usageLimitWithPrecision=0.0, currentUsageWithPrecision=0.0, freeTrialInfo=None)
    data["usageBreakdownList"][0]["bonuses"] = []
    balance = parse_usage_limits(data, now=AFTER_TRIAL_ENDS)
    assert (balance.limit, balance.percent_used, balance.exhausted) == (0.0, 0.0, True)


def test_the_credit_breakdown_is_picked_by_resource_type() -> None:
    data = answer()
    other = {"resourceType": "AGENTIC_REQUEST", "usageLimit": 5000, "currentUsage": 1}
    data["usageBreakdownList"].insert(0, other)
    balance = parse_usage_limits(data, now=AFTER_TRIAL_ENDS)
    assert balance.limit == pytest.approx(150.0)


def test_an_untyped_breakdown_is_used_when_none_says_credit() -> None:
    data = answer(resourceType=None, freeTrialInfo=None, bonuses=None)
    data["usageBreakdownList"].insert(0, {"resourceType": "CODE_COMPLETION", "usageLimit": 9})
    assert parse_usage_limits(data, now=AFTER_TRIAL_ENDS).limit == 50.0


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"usageBreakdownList": "nope"},
        {"usageBreakdownList": [{"resourceType": "AGENTIC_REQUEST", "usageLimit": 50}]},
        {"usageBreakdownList": [{"resourceType": "CREDIT", "usageLimit": None}]},
        ["not", "an", "object"],
    ],
)
def test_answers_with_nothing_usable_raise_an_upstream_error(data: Any) -> None:
    with pytest.raises(UpstreamError, match="getUsageLimits"):
        parse_usage_limits(data, now=AFTER_TRIAL_ENDS)


def test_odd_fields_are_tolerated() -> None:
    data = {
        "daysUntilReset": True,
        "nextDateReset": float("nan"),
        "subscriptionInfo": "FREE",
        "userInfo": {"email": 42},
        "usageBreakdownList": [
            None,
            {
                "resourceType": "credit",
                "usageLimitWithPrecision": "50.5",
                "currentUsageWithPrecision": -3,
                "freeTrialInfo": {"freeTrialStatus": 1, "usageLimit": "x"},
                "bonuses": {"not": "a list"},
            },
        ],
    }
    balance = parse_usage_limits(data, now=AFTER_TRIAL_ENDS)
    assert (balance.limit, balance.used, balance.remaining) == (50.5, 0.0, 50.5)
    assert balance.free_trial is not None and not balance.free_trial.active
    assert balance.subscription_title is None and balance.email is None
    assert balance.next_reset_at is None and balance.days_until_reset is None


def test_to_public_has_the_kiro_rs_balance_keys() -> None:
    balance = parse_usage_limits(SPEC_ANSWER, now=BEFORE_TRIAL_ENDS, credential_id=3)
    public = balance.to_public()
    assert list(public)[:7] == [
        "id",
        "subscriptionTitle",
        "currentUsage",
        "usageLimit",
        "remaining",
        "usagePercentage",
        "nextResetAt",
    ]
    assert public["id"] == 3
    assert public["currentUsage"] == 25.87
    assert public["usageLimit"] == 650.0
    assert public["remaining"] == 624.13
    assert public["usagePercentage"] == 3.98
    assert public["nextResetAt"] == 1767225600.0
    assert public["freeTrial"]["active"] is True
    assert public["bonuses"][0]["code"] == "WELCOME"
    assert public["fetchedAt"] == BEFORE_TRIAL_ENDS.timestamp()


# ---------------------------------------------------------------- emulator documents


def test_emulator_documents_agree_with_the_emulator_plan() -> None:
    now = BEFORE_TRIAL_ENDS.timestamp()
    plan = UsagePlan(usage_limit=50, current_usage=10.25, free_trial_usage=100.5)
    update_plan(
        plan,
        {
            "bonuses": [
                {"usageLimit": 100.0, "currentUsage": 20.0, "status": "ACTIVE"},
                {"usageLimit": 999.0, "currentUsage": 0.0, "status": "EXPIRED"},
            ]
        },
    )
    doc = usage_document(plan, now=now, email=None, user_id="u1")
    balance = parse_usage_limits(doc, now=BEFORE_TRIAL_ENDS)
    assert balance.remaining == pytest.approx(plan.remaining())
    assert balance.next_reset_at == BEFORE_TRIAL_ENDS + timedelta(days=plan.days_until_reset)
    plan.free_trial_status = "EXPIRED"
    doc = usage_document(plan, now=now, email=None, user_id="u1")
    assert parse_usage_limits(doc, now=BEFORE_TRIAL_ENDS).remaining == pytest.approx(
        plan.remaining()
    )


def test_emulator_exhausted_plan_reads_as_exhausted() -> None:
    plan = UsagePlan(bonuses=[{"usageLimit": 10.0, "currentUsage": 0.0}])
    plan.exhaust()
    doc = usage_document(plan, now=BEFORE_TRIAL_ENDS.timestamp(), email=None, user_id="u1")
    assert parse_usage_limits(doc, now=BEFORE_TRIAL_ENDS).exhausted


# ---------------------------------------------------------------- cache


def test_cache_returns_fresh_entries_only() -> None:
    now = [BEFORE_TRIAL_ENDS]
    cache = BalanceCache(max_age=300, clock=lambda: now[0])
    balance = parse_usage_limits(SPEC_ANSWER, now=now[0], credential_id=1)
    cache.put(1, balance)
    assert cache.get(1) == (balance, BEFORE_TRIAL_ENDS)
    now[0] += timedelta(seconds=301)
    assert cache.get(1) is None
    assert cache.reset_at(Credential(AuthMethod.SOCIAL, id=1)) == RESET  # any age
    assert cache.reset_at(Credential(AuthMethod.SOCIAL, id=2)) is None
    cache.forget(1)
    assert len(cache) == 0


def test_cache_without_max_age_keeps_entries() -> None:
    cache = BalanceCache(max_age=None)
    old = parse_usage_limits(SPEC_ANSWER, now=datetime(2000, 1, 1, tzinfo=UTC))
    cache.put(5, old)
    assert cache.get(5) == (old, old.fetched_at)
    with pytest.raises(ValueError, match="max_age"):
        BalanceCache(max_age=0)


# ---------------------------------------------------------------- against the emulator


async def test_fetch_balance_from_the_emulator() -> None:
    emulator = await start_emulator(EmulatorConfig(port=0))
    try:
        emulator.state.register_credential(
            access_token="aoaAAAAusage",
            auth_method="social",
            email="me@example.com",
            usage={
                "subscriptionTitle": "KIRO PRO+",
                "usageLimit": 1000.0,
                "currentUsage": 12.5,
                "freeTrialStatus": "EXPIRED",
                "bonuses": [{"usageLimit": 100.0, "currentUsage": 0.5, "status": "ACTIVE"}],
            },
        )
        credential = Credential(
            AuthMethod.SOCIAL, access_token="aoaAAAAusage", refresh_token="r" * 100, id=7
        )
        async with kiro_client(emulator.url) as client:
            balance = await fetch_balance(client, credential, MACHINE_ID)
            stranger = Credential(AuthMethod.SOCIAL, access_token="aoaAAAAunknown", id=8)
            with pytest.raises(UpstreamAuthRejected):
                await fetch_balance(client, stranger, MACHINE_ID)
    finally:
        await emulator.close()
    assert balance.credential_id == 7
    assert balance.subscription_title == "KIRO PRO+"
    assert balance.email == "me@example.com"
    assert balance.limit == pytest.approx(1100.0)
    assert balance.used == pytest.approx(13.0)
    assert balance.remaining == pytest.approx(1087.0)
    assert balance.next_reset_at is not None and balance.next_reset_at > balance.fetched_at
