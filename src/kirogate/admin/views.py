"""What the admin API shows of a credential and its balance: kiro.rs's fields, then kirogate's.

No token, key or password is ever returned whole: secrets are masked, and any text that may
quote one (a label, an error) is scrubbed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from kirogate.service.operations import Availability, CredentialStatus
from kirogate.upstream.auth.sources import PROXY_DIRECT
from kirogate.upstream.credentials import Credential, mask_secret, secret_hash

# Fields of an add request that hold secrets; error messages never echo their values.
_SECRET_FIELDS = ("refreshToken", "accessToken", "clientSecret", "kiroApiKey", "proxyPassword")


class PublicBalance(Protocol):
    def to_public(self) -> dict[str, Any]: ...


def mask_proxy_url(url: str | None) -> str | None:
    """The proxy URL with its password replaced by ``***`` (``direct`` stays ``direct``)."""
    if url is None:
        return None
    scheme, sep, rest = url.partition("://")
    userinfo, at, _ = rest.partition("/")[0].rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{rest[len(userinfo) + 1 :]}"


def _proxy_password(url: str | None) -> str | None:
    rest = (url or "").partition("://")[2].partition("/")[0]
    userinfo, at, _ = rest.rpartition("@")
    password = userinfo.partition(":")[2] if at else ""
    return password or None


def credential_secrets(credential: Credential) -> list[str]:
    """Every secret the credential holds, to be kept out of anything the API returns."""
    values = [
        credential.refresh_token,
        credential.access_token,
        credential.client_secret,
        credential.kiro_api_key,
        credential.proxy_password,
        _proxy_password(credential.proxy_url),
    ]
    return [value for value in values if value]


def scrub(text: str | None, secrets: Iterable[str]) -> str | None:
    """``text`` with each secret in it replaced by its masked form."""
    if text is None:
        return None
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4 and secret in text:
            text = text.replace(secret, mask_secret(secret) or "***")
    return text


def body_secrets(body: dict[str, Any]) -> list[str]:
    values = [body.get(name) for name in _SECRET_FIELDS]
    proxy = body.get("proxyUrl")
    if isinstance(proxy, str):
        values += [proxy, _proxy_password(proxy)]
    return [value for value in values if isinstance(value, str) and value]


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def credential_view(
    status: CredentialStatus, credential: Credential, balance: PublicBalance | None
) -> dict[str, Any]:
    """One row of the listing: kiro.rs's fields, then kirogate's state, counters and balance."""
    secrets = credential_secrets(credential)
    disabled = status.state is Availability.DISABLED
    cooling = status.state is Availability.COOLING
    api_key = credential.kiro_api_key if credential.is_api_key else None
    refresh = None if credential.is_api_key else credential.refresh_token
    origin = credential.origin
    return {
        "id": status.id,
        "priority": status.priority,
        "disabled": disabled,
        "failureCount": status.failure_count,
        "isCurrent": status.current,
        "expiresAt": rfc3339(credential.expires_at),
        "authMethod": credential.auth_method.value,
        "hasProfileArn": bool(credential.profile_arn),
        "email": credential.email,
        "refreshTokenHash": secret_hash(refresh) if refresh else None,
        "refreshTokenPreview": mask_secret(refresh),
        "apiKeyHash": secret_hash(api_key) if api_key else None,
        "maskedApiKey": mask_secret(api_key),
        "successCount": status.success_count,
        "lastUsedAt": rfc3339(status.last_used),
        "hasProxy": bool(credential.proxy_url) and credential.proxy_url != PROXY_DIRECT,
        "proxyUrl": mask_proxy_url(credential.proxy_url),
        "disabledReason": status.reason if disabled else None,
        "endpoint": credential.endpoint,
        # kirogate's additions
        "label": scrub(status.label, secrets),
        "state": status.state.value,
        "cooldownReason": status.reason if cooling else None,
        "cooldownUntil": rfc3339(status.cooldown_until),
        "reasonDetail": scrub(status.detail, secrets),
        "errorCount": status.error_count,
        "lastError": scrub(status.last_error, secrets),
        "lastErrorAt": rfc3339(status.last_error_at),
        "inFlight": status.in_flight,
        "weight": status.weight,
        "subscriptionTitle": status.subscription_title,
        "region": credential.region,
        "authRegion": credential.auth_region,
        "apiRegion": credential.api_region,
        "source": origin.kind if origin else None,
        "balance": balance_view(status.id, balance) if balance is not None else None,
    }


def balance_view(credential_id: int, balance: PublicBalance) -> dict[str, Any]:
    """kiro.rs's ``BalanceResponse`` keys (``id`` first), then kirogate's details."""
    body = {"id": credential_id} | balance.to_public()
    body["id"] = credential_id  # the balance may not know which credential it belongs to
    return body
