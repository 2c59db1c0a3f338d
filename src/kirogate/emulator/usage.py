"""Per-account usage limits and the ``getUsageLimits`` document of spec auth §4.1."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_DAY = 86_400.0


@dataclass(slots=True)
class UsagePlan:
    """What ``getUsageLimits`` reports for one account; successful replies add their credits.

    With ``enforce`` set, the data plane answers ``402 MONTHLY_REQUEST_COUNT`` once the
    remaining balance (base + active free trial + active bonuses, kiro.rs arithmetic) is ≤ 0.
    """

    subscription_title: str = "KIRO FREE"
    subscription_type: str = "Q_DEVELOPER_STANDALONE_FREE"
    usage_limit: float = 50.0
    current_usage: float = 0.0
    free_trial_status: str | None = "ACTIVE"
    free_trial_limit: float = 500.0
    free_trial_usage: float = 0.0
    bonuses: list[dict[str, Any]] = field(default_factory=list)
    days_until_reset: int = 12
    enforce: bool = False

    def remaining(self) -> float:
        limit = self.usage_limit
        used = self.current_usage
        if self.free_trial_status == "ACTIVE":
            limit += self.free_trial_limit
            used += self.free_trial_usage
        for bonus in self.bonuses:
            if bonus.get("status", "ACTIVE") == "ACTIVE":
                limit += float(bonus.get("usageLimit", 0.0))
                used += float(bonus.get("currentUsage", 0.0))
        return limit - used

    def charge(self, credits: float) -> None:
        """Spend credits: the free trial first while it is active, then the base allowance."""
        if self.free_trial_status == "ACTIVE":
            room = max(self.free_trial_limit - self.free_trial_usage, 0.0)
            spent = min(room, credits)
            self.free_trial_usage += spent
            credits -= spent
        self.current_usage += credits

    def exhaust(self) -> None:
        self.current_usage = self.usage_limit
        if self.free_trial_status == "ACTIVE":
            self.free_trial_usage = self.free_trial_limit
        for bonus in self.bonuses:
            bonus["currentUsage"] = bonus.get("usageLimit", 0.0)


def plan_type(title: str) -> str:
    """The ``subscriptionInfo.type`` that goes with a title: ``KIRO PRO+`` -> ``..._PRO_PLUS``."""
    tier = title.upper().removeprefix("KIRO").strip().replace("+", "_PLUS").replace(" ", "_")
    return f"Q_DEVELOPER_STANDALONE_{tier or 'FREE'}"


_PLAN_KEYS = {
    "subscriptionTitle": "subscription_title",
    "subscriptionType": "subscription_type",
    "usageLimit": "usage_limit",
    "currentUsage": "current_usage",
    "freeTrialStatus": "free_trial_status",
    "freeTrialLimit": "free_trial_limit",
    "freeTrialUsage": "free_trial_usage",
    "bonuses": "bonuses",
    "daysUntilReset": "days_until_reset",
    "enforce": "enforce",
}


def update_plan(plan: UsagePlan, changes: Mapping[str, Any]) -> None:
    """Apply camelCase (or snake_case) overrides from a control request; unknown keys raise."""
    for key, value in changes.items():
        attr = _PLAN_KEYS.get(key, key)
        if attr not in UsagePlan.__slots__:
            raise ValueError(f"unknown usage field {key!r}")
        setattr(plan, attr, value)


def _round(value: float) -> float:
    return round(value, 4)


def usage_document(
    plan: UsagePlan, *, now: float, email: str | None, user_id: str
) -> dict[str, Any]:
    """The response body; dates are epoch seconds as floats, as the real service sends."""
    reset = float(int(now // _DAY) * _DAY + plan.days_until_reset * _DAY)
    breakdown: dict[str, Any] = {
        "resourceType": "CREDIT",
        "displayName": "Credit",
        "displayNamePlural": "Credits",
        "unit": "INVOCATIONS",
        "currency": "USD",
        "usageLimit": int(plan.usage_limit),
        "usageLimitWithPrecision": _round(plan.usage_limit),
        "currentUsage": int(plan.current_usage),
        "currentUsageWithPrecision": _round(plan.current_usage),
        "overageCap": 0,
        "overageCapWithPrecision": 0.0,
        "overageRate": 0.04,
        "overageCharges": 0.0,
        "currentOverages": 0,
        "currentOveragesWithPrecision": 0.0,
        "nextDateReset": reset,
    }
    if plan.free_trial_status is not None:
        breakdown["freeTrialInfo"] = {
            "freeTrialStatus": plan.free_trial_status,
            "freeTrialExpiry": float(int(now) + 14 * int(_DAY)),
            "usageLimit": int(plan.free_trial_limit),
            "usageLimitWithPrecision": _round(plan.free_trial_limit),
            "currentUsage": int(plan.free_trial_usage),
            "currentUsageWithPrecision": _round(plan.free_trial_usage),
        }
    breakdown["bonuses"] = [_bonus(bonus, now) for bonus in plan.bonuses]
    user_info: dict[str, Any] = {"userId": user_id}
    if email is not None:
        user_info = {"email": email, **user_info}
    return {
        "daysUntilReset": plan.days_until_reset,
        "nextDateReset": reset,
        "limits": [],
        "overageConfiguration": {"overageStatus": "DISABLED"},
        "subscriptionInfo": {
            "subscriptionTitle": plan.subscription_title,
            "type": plan.subscription_type,
            "subscriptionManagementTarget": "PURCHASE",
            "overageCapability": "OVERAGE_INCAPABLE",
            "upgradeCapability": "UPGRADE_CAPABLE",
        },
        "userInfo": user_info,
        "usageBreakdownList": [breakdown],
    }


def _bonus(bonus: Mapping[str, Any], now: float) -> dict[str, Any]:
    limit = float(bonus.get("usageLimit", 100.0))
    used = float(bonus.get("currentUsage", 0.0))
    return {
        "bonusCode": bonus.get("bonusCode", "WELCOME"),
        "displayName": bonus.get("displayName", "Welcome bonus"),
        "status": bonus.get("status", "ACTIVE"),
        "expiresAt": float(bonus.get("expiresAt", int(now) + 30 * int(_DAY))),
        "usageLimit": limit,
        "usageLimitWithPrecision": limit,
        "currentUsage": used,
        "currentUsageWithPrecision": used,
    }
