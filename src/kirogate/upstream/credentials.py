"""The credential model shared by sources, refresh, the upstream client and the pool.

A :class:`Credential` holds one Kiro identity: its tokens, the regions and proxy it uses,
and where it came from (so refreshed tokens can be written back). Secrets are never in its
``repr``; use :func:`mask_secret` to show one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any


class AuthMethod(StrEnum):
    SOCIAL = "social"  # Google / GitHub login, refreshed at the Kiro desktop auth service
    IDC = "idc"  # Builder ID / IAM Identity Center, refreshed at SSO-OIDC
    API_KEY = "api_key"  # ksk_... Kiro API key, never refreshed
    EXTERNAL_IDP = "external_idp"


@dataclass(frozen=True, slots=True)
class CredentialOrigin:
    """Where a credential was loaded from, for write-back and for messages.

    ``kind`` is one of ``kiro-ide`` (the IDE token file), ``kiro-rs`` (credentials.json),
    ``kiro2api`` (KIRO_AUTH_TOKEN), ``env`` (environment variables) or ``store`` (database).
    ``index`` is the position in an array file; ``None`` for a single object.
    """

    kind: str
    path: Path | None = None
    index: int | None = None
    array: bool = False
    # The entry's own ``id`` in a kiro.rs file. In store mode the credential's id is the row
    # id, which may differ; write-back finds the entry by this one.
    file_id: int | None = None

    def describe(self) -> str:
        where = str(self.path) if self.path else self.kind
        return f"{where}[{self.index}]" if self.index is not None else where


def mask_secret(value: str | None) -> str | None:
    """``abcd…wxyz`` for long secrets, ``***`` for short ones, ``None`` stays ``None``."""
    if value is None:
        return None
    if len(value) > 16 and value.isascii():
        return f"{value[:4]}…{value[-4:]}"
    return "***"


def secret_hash(value: str) -> str:
    """A stable fingerprint of a secret, safe to show and to deduplicate on."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Credential:
    """One Kiro credential. Mutable: refresh updates the token fields in place."""

    auth_method: AuthMethod
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    profile_arn: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    id: int | None = None
    region: str | None = None
    auth_region: str | None = None
    api_region: str | None = None
    machine_id: str | None = None
    email: str | None = None
    subscription_title: str | None = None
    priority: int = 0
    proxy_url: str | None = None
    proxy_username: str | None = None
    proxy_password: str | None = field(default=None, repr=False)
    proxy_id: int | None = None  # a proxy of the store's proxy pool assigned to this credential
    disabled: bool = False
    disabled_reason: str | None = None
    kiro_api_key: str | None = field(default=None, repr=False)
    endpoint: str = "ide"
    provider: str | None = None
    client_id_hash: str | None = None
    token_endpoint: str | None = None  # external IdP only
    origin: CredentialOrigin | None = None
    # Unknown fields from the source file, written back untouched.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        """How messages name this credential: email, id or source, never a secret."""
        if self.email:
            return self.email
        if self.id is not None:
            return f"#{self.id}"
        return self.origin.describe() if self.origin else self.auth_method.value

    @property
    def effective_auth_region(self) -> str | None:
        return self.auth_region or self.region

    @property
    def is_api_key(self) -> bool:
        return self.auth_method is AuthMethod.API_KEY

    @property
    def bearer(self) -> str | None:
        """The token sent as ``Authorization: Bearer``."""
        return self.kiro_api_key if self.is_api_key else self.access_token

    def expires_within(self, seconds: float, *, now: datetime | None = None) -> bool:
        """True when the access token is missing, expired, or expires within ``seconds``."""
        if self.is_api_key:
            return False
        if not self.access_token or self.expires_at is None:
            return True
        now = now or datetime.now(UTC)
        return self.expires_at <= now + timedelta(seconds=seconds)

    def fingerprint(self) -> str:
        """sha256 of the refresh token (or API key): identifies the credential for dedupe."""
        secret = self.kiro_api_key if self.is_api_key else self.refresh_token
        return secret_hash(secret or "")
