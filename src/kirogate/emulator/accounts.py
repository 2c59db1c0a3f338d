"""Accounts (one per credential the emulator has seen) and the grants that point at them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kirogate.emulator.usage import UsagePlan


@dataclass(slots=True)
class ScenarioPlan:
    """A credential-level scenario; ``remaining=None`` means for every request."""

    name: str
    args: dict[str, str] = field(default_factory=dict)
    remaining: int | None = None


@dataclass(slots=True)
class Account:
    """One upstream identity. Refresh-token rotation keeps the account; tokens come and go."""

    id: str
    auth_method: str  # social | idc | api_key
    profile_arn: str
    user_id: str
    email: str
    refresh_token: str | None = None
    client_id: str | None = None
    api_key: str | None = None
    plan: ScenarioPlan | None = None
    usage: UsagePlan = field(default_factory=UsagePlan)
    requests: int = 0

    def to_json(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "id": self.id,
            "authMethod": self.auth_method,
            "profileArn": self.profile_arn,
            "email": self.email,
            "userId": self.user_id,
            "refreshToken": self.refresh_token,
            "clientId": self.client_id,
            "apiKey": self.api_key,
            "scenario": plan.name if plan else None,
            "scenarioArgs": dict(plan.args) if plan else None,
            "remaining": plan.remaining if plan else None,
            "requests": self.requests,
            "usage": {
                "usageLimit": self.usage.usage_limit,
                "currentUsage": round(self.usage.current_usage, 6),
                "freeTrialUsage": round(self.usage.free_trial_usage, 6),
                "remaining": round(self.usage.remaining(), 6),
                "enforce": self.usage.enforce,
            },
        }


@dataclass(slots=True)
class AccessGrant:
    account: Account
    expires_at: float


@dataclass(slots=True)
class DeviceAuth:
    """One SSO-OIDC device authorization; ``status`` is pending/approved/denied/used."""

    device_code: str
    user_code: str
    client_id: str
    expires_at: float
    interval: int
    last_poll: float | None = None
    status: str = "pending"


@dataclass(slots=True)
class LoginGrant:
    """A social PKCE authorization code issued by ``GET /login``."""

    code: str
    challenge: str
    redirect_uri: str
    idp: str
    expires_at: float
