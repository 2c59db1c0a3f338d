"""Balance maths for ``getUsageLimits`` (spec auth §4.1-4.2) and a cache of the results.

:func:`parse_usage_limits` turns the raw answer into a :class:`Balance`. It follows kiro.rs,
with two corrections the spec asks for: the breakdown is picked by ``resourceType == "CREDIT"``
(not by position), and dates are epoch **seconds**. The totals are

    limit = base limit + free-trial limit (if active) + Σ active bonus limits
    used  = base usage + free-trial usage (if active) + Σ active bonus usages
    remaining = max(limit - used, 0);  percent_used = min(used / limit · 100, 100), 0 if limit is 0

where every amount prefers its ``…WithPrecision`` field, a free trial counts while its status
is ``ACTIVE`` and its expiry has not passed, and a bonus counts while it is active and
unexpired. ``docs/usage-and-proxies.md`` has a worked example.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from kirogate.errors import UpstreamError
from kirogate.upstream.credentials import Credential

log = logging.getLogger(__name__)

CREDIT: Final = "CREDIT"
ACTIVE: Final = "ACTIVE"
DEFAULT_MAX_AGE: Final = 300.0  # kiro.rs keeps a balance for 5 minutes
# Epoch values this large are milliseconds (year > 5000 as seconds); everything else is seconds.
_MILLIS_THRESHOLD: Final = 1e11
_DAY: Final = 86_400.0
_EPSILON: Final = 1e-9


def _utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------- field readers


def _number(value: object) -> float | None:
    """A finite, non-negative float from a JSON number or numeric string; ``None`` otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number):
        return None
    return max(number, 0.0)


def _amount(item: Mapping[str, Any], name: str) -> float | None:
    """``<name>WithPrecision`` when it is a number, else the rounded ``<name>``."""
    precise = _number(item.get(f"{name}WithPrecision"))
    return precise if precise is not None else _number(item.get(name))


def _timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from epoch seconds (int, float or numeric string) or ISO 8601."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            seconds: float | None = float(text)
        except ValueError:
            seconds = None
        if seconds is None:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        value = seconds
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    stamp = float(value)
    if not math.isfinite(stamp) or stamp <= 0:
        return None
    if stamp >= _MILLIS_THRESHOLD:
        stamp /= 1000.0
    try:
        return datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _text(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _epoch(when: datetime | None) -> float | None:
    return when.timestamp() if when is not None else None


def _round(value: float) -> float:
    return round(value, 4)


# ---------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class FreeTrial:
    """The breakdown's ``freeTrialInfo``; ``active`` says whether it counts in the totals."""

    status: str | None
    limit: float
    used: float
    expires_at: datetime | None
    active: bool

    def to_public(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "active": self.active,
            "usageLimit": _round(self.limit),
            "currentUsage": _round(self.used),
            "expiresAt": _epoch(self.expires_at),
        }


@dataclass(frozen=True, slots=True)
class Bonus:
    """One entry of the breakdown's ``bonuses``; ``active`` says whether it counts."""

    code: str | None
    name: str | None
    status: str | None
    limit: float
    used: float
    expires_at: datetime | None
    active: bool

    def to_public(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "status": self.status,
            "active": self.active,
            "usageLimit": _round(self.limit),
            "currentUsage": _round(self.used),
            "expiresAt": _epoch(self.expires_at),
        }


@dataclass(frozen=True, slots=True)
class Balance:
    """What a credential may still spend this period, with the parts it was summed from."""

    limit: float
    used: float
    remaining: float
    percent_used: float
    next_reset_at: datetime | None
    days_until_reset: int | None
    subscription_title: str | None
    subscription_type: str | None
    free_trial: FreeTrial | None
    bonuses: tuple[Bonus, ...]
    email: str | None
    fetched_at: datetime
    credential_id: int | None = None

    @property
    def exhausted(self) -> bool:
        """Nothing left to spend (a zero limit counts as exhausted, as in kiro2api)."""
        return self.remaining <= 0

    def to_public(self) -> dict[str, Any]:
        """The admin API shape: kiro.rs's ``BalanceResponse`` keys first, then the details."""
        return {
            "id": self.credential_id,
            "subscriptionTitle": self.subscription_title,
            "currentUsage": _round(self.used),
            "usageLimit": _round(self.limit),
            "remaining": _round(self.remaining),
            "usagePercentage": round(self.percent_used, 2),
            "nextResetAt": _epoch(self.next_reset_at),
            "subscriptionType": self.subscription_type,
            "daysUntilReset": self.days_until_reset,
            "email": self.email,
            "exhausted": self.exhausted,
            "freeTrial": self.free_trial.to_public() if self.free_trial else None,
            "bonuses": [bonus.to_public() for bonus in self.bonuses],
            "fetchedAt": self.fetched_at.timestamp(),
        }


# ---------------------------------------------------------------- parsing


def _breakdown(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The CREDIT breakdown; an untyped one (older answers) only when no item is typed CREDIT."""
    items = data.get("usageBreakdownList")
    if not isinstance(items, list):
        return None
    untyped: Mapping[str, Any] | None = None
    for item in items:
        if not isinstance(item, Mapping):
            continue
        kind = _text(item.get("resourceType"))
        if kind is not None and kind.upper() == CREDIT:
            return item
        if kind is None and untyped is None:
            untyped = item
    return untyped


def _is_active(status: str | None, expires_at: datetime | None, now: datetime) -> bool:
    if expires_at is not None and expires_at <= now:
        return False
    return status is not None and status.upper() == ACTIVE


def _free_trial(breakdown: Mapping[str, Any], now: datetime) -> FreeTrial | None:
    info = _mapping(breakdown.get("freeTrialInfo"))
    if info is None:
        return None
    status = _text(info.get("freeTrialStatus"))
    expires_at = _timestamp(info.get("freeTrialExpiry"))
    return FreeTrial(
        status=status,
        limit=_amount(info, "usageLimit") or 0.0,
        used=_amount(info, "currentUsage") or 0.0,
        expires_at=expires_at,
        active=_is_active(status, expires_at, now),
    )


def _bonus(item: Mapping[str, Any], now: datetime) -> Bonus:
    status = _text(item.get("status"))
    expires_at = _timestamp(item.get("expiresAt"))
    limit = _amount(item, "usageLimit") or 0.0
    used = _amount(item, "currentUsage") or 0.0
    if status is None:
        # kiro.rs: a bonus without a status counts while unexpired, or (no expiry) if it has
        # any amount at all.
        active = expires_at > now if expires_at is not None else (limit > 0 or used > 0)
    else:
        active = _is_active(status, expires_at, now)
    return Bonus(
        code=_text(item.get("bonusCode")),
        name=_text(item.get("displayName")),
        status=status,
        limit=limit,
        used=used,
        expires_at=expires_at,
        active=active,
    )


def _days_until(data: Mapping[str, Any], reset_at: datetime | None, now: datetime) -> int | None:
    days = data.get("daysUntilReset")
    if isinstance(days, int) and not isinstance(days, bool) and days >= 0:
        return days
    if reset_at is None:
        return None
    return max(math.ceil((reset_at - now).total_seconds() / _DAY), 0)


def parse_usage_limits(
    data: Mapping[str, Any], *, now: datetime, credential_id: int | None = None
) -> Balance:
    """The :class:`Balance` in a ``getUsageLimits`` answer, as of ``now`` (aware UTC).

    Odd or missing fields are tolerated; :class:`UpstreamError` is raised only when the answer
    is not an object or has no CREDIT breakdown with a limit or a usage to count.
    """
    if not isinstance(data, Mapping):
        raise UpstreamError("getUsageLimits answer is not a JSON object", upstream_status=200)
    breakdown = _breakdown(data)
    base_limit = _amount(breakdown, "usageLimit") if breakdown is not None else None
    base_used = _amount(breakdown, "currentUsage") if breakdown is not None else None
    if breakdown is None or (base_limit is None and base_used is None):
        raise UpstreamError(
            "getUsageLimits answer has no CREDIT usage breakdown with a limit or usage",
            upstream_status=200,
        )
    trial = _free_trial(breakdown, now)
    raw_bonuses = breakdown.get("bonuses")
    bonuses = tuple(
        _bonus(item, now)
        for item in (raw_bonuses if isinstance(raw_bonuses, list) else ())
        if isinstance(item, Mapping)
    )
    limit = base_limit or 0.0
    used = base_used or 0.0
    if trial is not None and trial.active:
        limit += trial.limit
        used += trial.used
    for bonus in bonuses:
        if bonus.active:
            limit += bonus.limit
            used += bonus.used
    remaining = limit - used
    remaining = remaining if remaining > _EPSILON else 0.0
    percent = min(used / limit * 100.0, 100.0) if limit > 0 else 0.0
    reset_at = _timestamp(data.get("nextDateReset")) or _timestamp(breakdown.get("nextDateReset"))
    subscription = _mapping(data.get("subscriptionInfo")) or {}
    user = _mapping(data.get("userInfo")) or {}
    return Balance(
        limit=limit,
        used=used,
        remaining=remaining,
        percent_used=percent,
        next_reset_at=reset_at,
        days_until_reset=_days_until(data, reset_at, now),
        subscription_title=_text(subscription.get("subscriptionTitle")),
        subscription_type=_text(subscription.get("type")),
        free_trial=trial,
        bonuses=bonuses,
        email=_text(user.get("email")),
        fetched_at=now,
        credential_id=credential_id,
    )


class UsageClient(Protocol):
    """What :func:`fetch_balance` needs of :class:`~kirogate.upstream.client.KiroClient`."""

    async def usage_limits(self, credential: Credential, *, machine_id: str) -> dict[str, Any]: ...


async def fetch_balance(
    client: UsageClient,
    credential: Credential,
    machine_id: str,
    *,
    now: datetime | None = None,
) -> Balance:
    """Call ``getUsageLimits`` for ``credential`` (its bearer must be fresh) and parse it.

    Upstream failures propagate as the client raised them (classified
    :class:`UpstreamError` subclasses); a useless answer raises :class:`UpstreamError`.
    """
    data = await client.usage_limits(credential, machine_id=machine_id)
    balance = parse_usage_limits(data, now=now or _utcnow(), credential_id=credential.id)
    log.debug("balance %s: %.2f of %.2f left", credential.label, balance.remaining, balance.limit)
    return balance


# ---------------------------------------------------------------- cache


class BalanceCache:
    """The last balance per credential id, with the time it was fetched.

    Entries older than ``max_age`` seconds read as missing (``None`` keeps them forever).
    """

    def __init__(
        self, *, max_age: float | None = DEFAULT_MAX_AGE, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        if max_age is not None and max_age <= 0:
            raise ValueError(f"balance cache max_age {max_age}: must be positive")
        self._max_age = max_age
        self._clock = clock
        self._entries: dict[int, tuple[Balance, datetime]] = {}

    @property
    def max_age(self) -> float | None:
        return self._max_age

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, credential_id: int) -> tuple[Balance, datetime] | None:
        """``(balance, fetched_at)`` if known and fresh enough."""
        entry = self._entries.get(credential_id)
        if entry is None:
            return None
        age = self._clock() - entry[1]
        if self._max_age is not None and age > timedelta(seconds=self._max_age):
            return None
        return entry

    def put(
        self, credential_id: int, balance: Balance, *, fetched_at: datetime | None = None
    ) -> None:
        self._entries[credential_id] = (balance, fetched_at or balance.fetched_at)

    def forget(self, credential_id: int) -> None:
        """Drop an entry (when the credential is removed)."""
        self._entries.pop(credential_id, None)

    def clear(self) -> None:
        self._entries.clear()

    def reset_at(self, credential: Credential) -> datetime | None:
        """The cached reset date, whatever its age; fits the pool's ``QuotaResetHook``."""
        if credential.id is None:
            return None
        entry = self._entries.get(credential.id)
        return entry[0].next_reset_at if entry is not None else None
